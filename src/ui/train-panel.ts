/**
 * `<luna-train-panel>`: configure, start, pause, resume and stop training; live progress
 * and the seed's metrics as charts; the run list. Training runs in the train worker; this
 * element only talks to it (TrainClient) and reads runs through the store.
 *
 * A run that was training when the page went away (reload, crash, lost GPU device) is
 * resumed from its last checkpoint when the page comes back, unless another tab holds it.
 * Readiness for tests: `<html data-train="idle|running">`.
 */
import { LitElement, css, html } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import {
  QUICK_INPUT,
  defaultConfig,
  formatIssue,
  resolveConfigOrThrow,
  type ConfigIssue,
  type LabConfig,
} from '../config/lab-config.ts';
import { decodeLabUrl } from '../config/lab-url.ts';
import { compareData, describeMismatch, subsetDigests } from '../store/data-selection.ts';
import { labStore } from '../store/lab-store.ts';
import type { MetricPoint, RunRecord } from '../store/records.ts';
import type { Progress } from '../train/trainer.ts';
import { TrainClient } from './train-client.ts';
import { isHeadlessPage } from '../headless/page-mode.ts';
import type { ChartSeries } from './metrics-chart.ts';
import './config-form.ts';
import './metrics-chart.ts';
import './roc-chart.ts';
import './run-list.ts';
import { MlflowClient } from '../tracking/mlflow-client.ts';
import type { OutboxState } from '../tracking/outbox.ts';

const QUICK_PRESET: LabConfig = resolveConfigOrThrow(QUICK_INPUT);

const CHARTS = ['loss/all', 'pr/f1_score', 'correct/neg', 'correct/pos', 'pr/precision', 'pr/recall'];

declare global {
  interface Window {
    lunaTrain?: { progress: Progress | null; runs: RunRecord[] };
    lunaTracking?: OutboxState;
  }
}

@customElement('luna-train-panel')
export class LunaTrainPanel extends LitElement {
  @state() private config: LabConfig = defaultConfig();
  @state() private formConfig: LabConfig | null = defaultConfig();
  @state() private issues: ConfigIssue[] = [];
  @state() private runs: RunRecord[] = [];
  @state() private selected: string | null = null;
  @state() private active: string | null = null;
  @state() private paused = false;
  @state() private progress: Progress | null = null;
  @state() private notice: string | null = null;
  /** What the opened lab URL's data lacks in this browser's cache, if anything. */
  @state() private dataMissing: string | null = null;
  @state() private copied = false;
  @state() private tracking: OutboxState | null = null;
  @state() private connection: { ok: boolean; text: string } | null = null;
  private client = new TrainClient({
    tracking: (t) => {
      this.tracking = t;
      window.lunaTracking = t;
    },
    run: (r) => this._onRun(r),
    progress: (p) => {
      this.progress = p;
      window.lunaTrain = { progress: p, runs: this.runs };
    },
    metrics: (runId, point) => this._onMetrics(runId, point),
  });

  static override styles = css`
    :host {
      display: block;
    }
    .row {
      display: flex;
      gap: 10px;
      align-items: center;
      flex-wrap: wrap;
      margin: 10px 0;
    }
    button {
      background: #1f2a36;
      color: inherit;
      border: 1px solid var(--luna-border, #2a3440);
      border-radius: 6px;
      padding: 6px 12px;
      font: inherit;
      cursor: pointer;
    }
    button.primary {
      border-color: var(--luna-accent, #7fb3ff);
    }
    button[disabled] {
      opacity: 0.5;
      cursor: default;
    }
    .progress {
      font-size: 13px;
      color: var(--luna-muted, #9aa5b1);
    }
    progress {
      width: 240px;
    }
    .notice {
      padding: 6px 10px;
      border-radius: 6px;
      background: #2a2414;
      color: #e3b341;
      font-size: 13px;
    }
    .backend {
      font-size: 13px;
    }
    .charts {
      display: grid;
      grid-template-columns: repeat(auto-fill, minmax(320px, 1fr));
      gap: 10px;
      margin-top: 10px;
    }
    .issues {
      color: var(--luna-error, #ff7b72);
      font-size: 13px;
    }
    .ok {
      color: var(--luna-ok, #7ad17a);
    }
    .tracking {
      font-size: 13px;
    }
    h3 {
      font-size: 14px;
      margin: 18px 0 6px;
    }
  `;

  override connectedCallback() {
    super.connectedCallback();
    document.documentElement.dataset.train = 'idle';
    void this.init();
  }

  private async init() {
    // An evaluation kept its result on a run (the run list shows the CPM) and may have queued it for MLflow.
    window.addEventListener('luna-run-evaluated', () => {
      void this.refresh().then(async () => {
        if (await labStore().outboxCount()) void this.client.flushTracking();
      });
    });
    this.restoreFromUrl();
    await this.refresh();
    // Deliver what an earlier visit left in the tracking outbox.
    if (await labStore().outboxCount()) void this.client.flushTracking();
    // Resume a run that was training when the page went away, if no other tab holds it.
    // A headless page (the CLI) decides itself what to resume.
    if (isHeadlessPage()) return;
    const orphan = this.runs.find((r) => r.status === 'running' || r.status === 'paused');
    if (orphan && !(await runLockHeld(orphan.runId))) {
      this.notice = `Resuming “${orphan.name}” from its last checkpoint (epoch ${orphan.epochsDone}).`;
      void this.launch(() => this.client.resume(orphan.runId), orphan.runId);
    }
  }

  /** A lab URL (`#v=2&…`) sets the form; what it gets wrong is named, nothing is defaulted silently;
   *  an older link opens as it meant then, and the settings where the lab's defaults now differ are named. */
  private restoreFromUrl() {
    const hash = location.hash.slice(1);
    if (!hash) return;
    const { config, issues, notes } = decodeLabUrl(hash);
    if (issues.length) {
      this.notice = `This lab URL cannot be used as it is: ${issues.map(formatIssue).join('; ')}. The form keeps its defaults.`;
      return;
    }
    if (notes.length)
      this.notice = `This link comes from an older lab and opens as it meant then: ${notes.join('; ')}.`;
    this.config = config;
    this.formConfig = config;
    if (config.data.digest.length) {
      void this.checkUrlData();
      window.addEventListener('luna-data-changed', () => void this.checkUrlData());
    }
  }

  /** Does the cache hold the data the opened URL names? Says what is missing, and how to get it. */
  private async checkUrlData() {
    const expected = this.formConfig?.data.digest ?? [];
    if (!expected.length) return;
    const cached = await subsetDigests(await labStore().listSeries());
    const mismatch = compareData(expected, cached);
    this.dataMissing = mismatch.length ? describeMismatch(mismatch) : null;
  }

  override render() {
    const running = this.active !== null;
    const run = this.runs.find((r) => r.runId === this.selected) ?? null;
    return html`
      <div class="row">
        <button data-testid="preset-quick" ?disabled=${running} @click=${() => this._preset(QUICK_PRESET)}>
          Quick config (small model)
        </button>
        <button data-testid="preset-book" ?disabled=${running} @click=${() => this._preset(defaultConfig())}>
          Book's LunaModel
        </button>
      </div>
      <luna-config-form .config=${this.config} ?disabled=${running} @config-change=${this._onConfig}></luna-config-form>
      ${this.issues.length ? html`<p class="issues" data-testid="config-issues">Fix ${this.issues.length} setting(s) before training.</p>` : ''}
      <div class="row">
        <button
          class="primary"
          data-testid="train-start"
          ?disabled=${running || !this.formConfig}
          @click=${this._start}
        >
          Train
        </button>
        <button data-testid="train-pause" ?disabled=${!running} @click=${this._pause}>
          ${this.paused ? 'Resume' : 'Pause'}
        </button>
        <button data-testid="train-stop" ?disabled=${!running} @click=${this._stop}>Stop</button>
        ${this._renderProgress()}
      </div>
      ${this.notice ? html`<p class="notice" data-testid="train-notice">${this.notice}</p>` : ''}
      ${this.dataMissing ? html`<p class="notice" data-testid="url-data-missing">${this.dataMissing}</p>` : ''}
      ${this._renderTracking()} ${run ? this._renderBackend(run) : ''}
      ${run ? html`<div class="charts">${CHARTS.map((m) => html`<luna-metrics-chart data-metric=${m} heading=${m} .series=${seriesOf(run, m)}></luna-metrics-chart>`)}</div>` : ''}
      ${run?.config.task === 'malignancy' ? html`<luna-roc-chart data-testid="roc-chart" .predictions=${run.predictions}></luna-roc-chart>` : ''}
      <h3>Runs</h3>
      <luna-run-list
        .runs=${this.runs}
        .selected=${this.selected}
        .active=${this.active}
        @run-select=${(e: CustomEvent<{ runId: string }>) => (this.selected = e.detail.runId)}
        @run-resume=${(e: CustomEvent<{ runId: string }>) => this.launch(() => this.client.resume(e.detail.runId), e.detail.runId)}
        @run-continue=${(e: CustomEvent<{ runId: string; epochs: number }>) =>
          this.launch(() => this.client.resume(e.detail.runId, e.detail.epochs), e.detail.runId)}
        @run-delete=${this._delete}
        @run-push=${this._push}
        .canPush=${!!this.formConfig?.tracking.server}
      ></luna-run-list>
    `;
  }

  private _renderProgress() {
    const p = this.progress;
    if (!p || !this.active) return '';
    const eta = p.etaSeconds < 90 ? `${p.etaSeconds.toFixed(0)} s` : `${(p.etaSeconds / 60).toFixed(1)} min`;
    return html`<span class="progress" data-testid="train-progress">
      epoch ${p.epoch}/${p.epochs} · ${p.phase}
      <progress max=${p.total} .value=${p.done}></progress> ${p.done}/${p.total} · ${p.samplesPerSecond.toFixed(2)}
      samples/s · ETA ${eta} · loss ${p.batchLoss.toFixed(4)}
    </span>`;
  }

  private _renderTracking() {
    const server = this.formConfig?.tracking.server ?? '';
    const t = this.tracking;
    return html`<div class="row tracking">
        <span>MLflow: ${server ? html`<code>${server}</code>` : 'none (runs stay in this browser)'}</span>
        <button data-testid="tracking-test" ?disabled=${!server} @click=${this._testConnection}>Test connection</button>
        ${
          this.connection
            ? html`<span data-testid="tracking-connection" class=${this.connection.ok ? 'ok' : 'issues'}
                >${this.connection.text}</span
              >`
            : ''
        }
        ${
          t
            ? html`<span data-testid="tracking-backlog" data-pending=${t.pending} data-failed=${t.failed.length}>
                ${t.pending ? `${t.pending} item(s) waiting for the server` : 'everything delivered'}
                ${t.pending && t.lastError ? html`<br /><span class="issues">${t.lastError}</span>` : ''}
                ${t.retryAt ? html` · retrying at ${new Date(t.retryAt).toLocaleTimeString()}` : ''}
              </span>`
            : ''
        }
      </div>
      ${t?.failed.map(
        (f) =>
          html`<p class="issues" data-testid="tracking-failed">
            MLflow refused an item of run ${f.runId}: ${f.message}
            <button @click=${() => this._retry(f.id)}>retry</button>
            <button @click=${() => this._discard(f.id)}>discard</button>
          </p>`,
      )}`;
  }

  private async _testConnection() {
    const server = this.formConfig?.tracking.server;
    if (!server) return;
    this.connection = null;
    try {
      this.connection = { ok: true, text: `MLflow ${await new MlflowClient(server).version()} answers` };
    } catch (e) {
      this.connection = { ok: false, text: e instanceof Error ? e.message : String(e) };
    }
  }

  private async _retry(id: number) {
    this.tracking = await this.client.retryTracking(id);
  }

  private async _discard(id: number) {
    this.tracking = await this.client.discardTracking(id);
  }

  private async _push(e: CustomEvent<{ runId: string }>) {
    const t = this.formConfig?.tracking;
    if (!t?.server) return;
    try {
      await this.client.pushRun(e.detail.runId, { server: t.server, experiment: t.experiment });
      await this.refresh();
    } catch (err) {
      this.notice = `Could not push the run: ${err instanceof Error ? err.message : String(err)}`;
    }
  }

  private _renderBackend(run: RunRecord) {
    if (!run.backend) return '';
    const fell = run.fellBackFrom.length;
    return html`<p class="backend" data-testid="train-backend">
      ${fell ? html`<span class="notice">⚠ ${run.fellBackFrom.join('; ')} — training on <b>${run.backend}</b> instead.</span>` : html`Training on <b>${run.backend}</b>`}
      ${run.adapter ? html` · adapter: ${run.adapter}` : ''} · data ${run.dataDigest.slice(0, 12)} · lab
      ${run.labVersion}
      <br />Lab URL: <a data-testid="run-url" href=${run.labUrl}>${run.labUrl}</a>
      <button data-testid="run-share" @click=${() => this._share(run.labUrl)}>
        ${this.copied ? 'Copied' : 'Share'}
      </button>
      ${run.warnings.map((w) => html`<br /><span class="notice">${w}</span>`)}
    </p>`;
  }

  /** Copy the run's lab URL (the clipboard needs a user gesture; the link stays visible anyway). */
  private async _share(url: string) {
    try {
      await navigator.clipboard.writeText(url);
      this.copied = true;
      setTimeout(() => (this.copied = false), 2000);
    } catch (e) {
      this.notice = `Could not copy the URL (${e instanceof Error ? e.message : String(e)}); copy it from the link above.`;
    }
  }

  private _preset(c: LabConfig) {
    this.config = { ...c, train: { ...c.train, seed: this.formConfig?.train.seed ?? c.train.seed } };
    this.formConfig = this.config;
    this.issues = [];
  }

  private _onConfig(e: CustomEvent<{ config: LabConfig | null; issues: ConfigIssue[] }>) {
    this.formConfig = e.detail.config;
    this.issues = e.detail.issues;
  }

  private _start() {
    if (!this.formConfig) return;
    const config = this.formConfig;
    void this.launch(() => this.client.start(config));
  }

  private _pause() {
    if (this.paused) this.client.unpause();
    else this.client.pause();
    this.paused = !this.paused;
  }

  private _stop() {
    this.client.stop();
  }

  private async _delete(e: CustomEvent<{ runId: string }>) {
    await labStore().deleteRun(e.detail.runId);
    if (this.selected === e.detail.runId) this.selected = null;
    await this.refresh();
  }

  /** Run a training job in the worker; a lost device restarts the worker and resumes. */
  private async launch(job: () => Promise<RunRecord>, runId: string | null = null) {
    this.active = runId ?? 'starting';
    this.paused = false;
    document.documentElement.dataset.train = 'running';
    try {
      const result = await this.client.withRecovery(job, (r) => {
        this.notice = `The GPU device was lost (${r.error}); resuming from the last checkpoint in a fresh worker.`;
      });
      this.selected = result.runId;
    } catch (e) {
      this.notice = `Training failed to start: ${e instanceof Error ? e.message : String(e)}`;
    } finally {
      this.active = null;
      this.progress = null;
      await this.refresh();
      await this.updateComplete;
      document.documentElement.dataset.train = 'idle';
    }
  }

  private _onRun(r: RunRecord) {
    if (this.active === 'starting') this.active = r.runId;
    this.selected = r.runId;
    const i = this.runs.findIndex((x) => x.runId === r.runId);
    this.runs = i >= 0 ? this.runs.map((x) => (x.runId === r.runId ? r : x)) : [r, ...this.runs];
    window.lunaTrain = { progress: this.progress, runs: this.runs };
  }

  private _onMetrics(runId: string, point: MetricPoint) {
    this.runs = this.runs.map((r) => (r.runId === runId ? { ...r, history: [...r.history, point] } : r));
  }

  private async refresh() {
    this.runs = await labStore().listRuns();
    this.selected ??= this.runs[0]?.runId ?? null;
    window.lunaTrain = { progress: this.progress, runs: this.runs };
  }
}

function seriesOf(run: RunRecord, metric: string): ChartSeries[] {
  const pick = (mode: string) =>
    run.history
      .filter((p) => `${mode}/${metric}` in p.values)
      .map((p) => [p.step, p.values[`${mode}/${metric}`]] as const);
  return [
    { label: 'training', color: '#7fb3ff', points: pick('training') },
    { label: 'validation', color: '#ffb347', points: pick('validating') },
  ];
}

async function runLockHeld(runId: string): Promise<boolean> {
  const locks = navigator.locks;
  if (!locks?.query) return false;
  const { held = [] } = await locks.query();
  return held.some((l) => l.name === `luna-run-${runId}`);
}

declare global {
  interface HTMLElementTagNameMap {
    'luna-train-panel': LunaTrainPanel;
  }
}
