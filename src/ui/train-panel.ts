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
import { CONTROL_STYLES } from './ui-styles.ts';
import { customElement, property, state } from 'lit/decorators.js';
import {
  QUICK_INPUT,
  defaultConfig,
  formatIssue,
  resolveConfig,
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

/** A step's loss while it trains: [samples seen, batch loss], drawn between the epoch points. */
type LivePoint = readonly [number, number];

@customElement('luna-train-panel')
export class LunaTrainPanel extends LitElement {
  /** Data is being ingested (the demo button waits). */
  @property({ type: Boolean }) busy = false;
  @state() private config: LabConfig = defaultConfig();
  @state() private formConfig: LabConfig | null = defaultConfig();
  @state() private issues: ConfigIssue[] = [];
  @state() private runs: RunRecord[] = [];
  @state() private selected: string | null = null;
  @state() private active: string | null = null;
  @state() private paused = false;
  /** Stop or pause was asked and acts at the next step boundary. */
  @state() private pending: 'stop' | 'pause' | null = null;
  /** Per-step training loss of the run training now (the charts' live line). */
  @state() private live: { runId: string; points: LivePoint[] } | null = null;
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
    progress: (p) => this._onProgress(p),
    metrics: (runId, point) => this._onMetrics(runId, point),
  });

  static override styles = css`
    ${CONTROL_STYLES}
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
    h3:focus {
      outline: none;
    }
    .run-url {
      font-family: ui-monospace, monospace;
      font-size: 12px;
      color: var(--luna-accent, #7fb3ff);
      overflow-wrap: anywhere;
    }
    .pending {
      color: var(--luna-warn, #e3b341);
    }
    .table-scroll {
      overflow-x: auto;
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
    // A headless page (the CLI) decides itself what to resume and delivers through its own
    // train worker: this panel starts no second one there (issue 15).
    if (isHeadlessPage()) return;
    // Deliver what an earlier visit left in the tracking outbox.
    if (await labStore().outboxCount()) void this.client.flushTracking();
    // Resume a run that was training when the page went away, if no other tab holds it.
    const orphan = this.runs.find((r) => r.status === 'running' || r.status === 'paused');
    if (orphan && !(await runLockHeld(orphan.runId))) {
      this.notice = `Resuming “${orphan.name}” from its last checkpoint (epoch ${orphan.epochsDone}).`;
      this.showConfigOf(orphan);
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
    // Presets, then Train: the run's controls come before the long form, so the keyboard reaches them first.
    return html`
      <div class="row">
        <button data-testid="preset-quick" ?disabled=${running} @click=${() => this._preset(QUICK_PRESET)}>
          Quick config (small model)
        </button>
        <button data-testid="preset-book" ?disabled=${running} @click=${() => this._preset(defaultConfig())}>
          Book's LunaModel
        </button>
        <button
          class="primary"
          data-testid="train-start"
          ?disabled=${running || !this.formConfig || !!this.dataMissing}
          aria-describedby=${this.dataMissing ? 'train-off' : this.issues.length ? 'config-issues' : ''}
          @click=${this._start}
        >
          Train
        </button>
        <button data-testid="train-pause" ?disabled=${!running || this.pending === 'stop'} @click=${this._pause}>
          ${this.paused ? 'Resume' : 'Pause'}
        </button>
        <button data-testid="train-stop" ?disabled=${!running || this.pending === 'stop'} @click=${this._stop}>
          Stop
        </button>
        ${this._renderProgress()}
      </div>
      ${
        this.issues.length
          ? html`<p class="issues" id="config-issues" data-testid="config-issues">
              Fix ${this.issues.length} setting(s) before training.
            </p>`
          : ''
      }
      ${this.notice ? html`<p class="notice" data-testid="train-notice">${this.notice}</p>` : ''}
      ${
        this.dataMissing
          ? html`<p class="notice" id="train-off" data-testid="url-data-missing">
              Train is off until this link's data is cached: ${this.dataMissing}
              <br />If the link was made on the lab's synthetic demo data, load it here:
              <button data-testid="missing-demo" ?disabled=${this.busy} @click=${this._requestDemo}>
                Load synthetic demo data
              </button>
            </p>`
          : ''
      }
      <luna-config-form .config=${this.config} ?disabled=${running} @config-change=${this._onConfig}></luna-config-form>
      ${this._renderTracking()} ${run ? this._renderBackend(run) : ''}
      ${
        run
          ? html`<div class="charts">
              ${CHARTS.map(
                (m) =>
                  html`<luna-metrics-chart
                    data-metric=${m}
                    heading=${m}
                    .series=${seriesOf(run, m, this.live?.runId === run.runId ? this.live.points : null)}
                  ></luna-metrics-chart>`,
              )}
            </div>`
          : ''
      }
      ${
        run?.config.task === 'malignancy'
          ? html`<luna-roc-chart data-testid="roc-chart" .predictions=${run.predictions}></luna-roc-chart>`
          : ''
      }
      <h3 id="runs" tabindex="-1">Runs</h3>
      <div class="table-scroll">
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
      </div>
    `;
  }

  private _renderProgress() {
    const p = this.progress;
    if (!p || !this.active) return '';
    const eta = p.etaSeconds < 90 ? `${p.etaSeconds.toFixed(0)} s` : `${(p.etaSeconds / 60).toFixed(1)} min`;
    const pending =
      this.pending === 'stop'
        ? 'stopping after this step'
        : this.pending === 'pause'
          ? 'pausing after this step'
          : this.paused
            ? 'paused'
            : '';
    return html`<span class="progress" data-testid="train-progress" role="status">
      epoch ${p.epoch}/${p.epochs} · ${p.phase}
      <progress max=${p.total} .value=${p.done} aria-label="samples done in this phase"></progress> ${p.done}/${p.total}
      · ${p.samplesPerSecond.toFixed(2)} samples/s · ETA ${eta} · loss ${p.batchLoss.toFixed(4)}
      ${pending ? html`· <b class="pending" data-testid="train-pending">${pending}</b>` : ''}
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
      <br />Lab URL:
      <a class="run-url" data-testid="run-url" href=${run.labUrl} title=${run.labUrl}>${shortUrl(run.labUrl)}</a>
      <button data-testid="run-share" aria-label="Copy the run's lab URL" @click=${() => this._share(run.labUrl)}>
        ${this.copied ? 'Copied' : 'Copy link'}
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
    // A pause acts at the next step boundary: say so until the run says it is paused.
    this.pending = this.paused ? 'pause' : null;
  }

  private _stop() {
    this.client.stop();
    this.pending = 'stop';
  }

  private _requestDemo() {
    this.dispatchEvent(new CustomEvent('demo-request', { bubbles: true, composed: true }));
  }

  /** Move the focus to the Train button (the page's skip link). */
  focusTrain(): void {
    const button = this.renderRoot.querySelector<HTMLButtonElement>('[data-testid=train-start]');
    button?.scrollIntoView({ block: 'center' });
    button?.focus({ preventScroll: true });
  }

  /** Bring the run list into view and focus its heading. */
  focusRuns(): void {
    const heading = this.renderRoot.querySelector<HTMLElement>('#runs');
    heading?.scrollIntoView({ block: 'start' });
    heading?.focus({ preventScroll: true });
  }

  /** The form shows the config a run trains with (after a reload, a resume), not the defaults. */
  private showConfigOf(run: RunRecord) {
    const { config, issues } = resolveConfig(JSON.parse(JSON.stringify(run.config)));
    if (issues.length) return;
    this.config = config;
    this.formConfig = config;
    this.issues = [];
  }

  private _onProgress(p: Progress) {
    this.progress = p;
    if (p.phase === 'training') {
      const points = this.live?.runId === p.runId ? this.live.points : [];
      this.live = { runId: p.runId, points: [...points, [p.samplesSeen, p.batchLoss]] };
    }
    window.lunaTrain = { progress: p, runs: this.runs };
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
    this.pending = null;
    this.live = null;
    const resumed = runId ? this.runs.find((r) => r.runId === runId) : undefined;
    if (resumed) this.showConfigOf(resumed);
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
      this.pending = null;
      await this.refresh();
      await this.updateComplete;
      document.documentElement.dataset.train = 'idle';
    }
  }

  private _onRun(r: RunRecord) {
    if (this.active === 'starting') this.active = r.runId;
    if (r.runId === this.active && r.status === 'paused' && this.pending === 'pause') this.pending = null;
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

/** A metric's lines: training and validation per epoch; the loss also per step while it trains. */
function seriesOf(run: RunRecord, metric: string, live: readonly LivePoint[] | null): ChartSeries[] {
  const pick = (mode: string) =>
    run.history
      .filter((p) => `${mode}/${metric}` in p.values)
      .map((p) => [p.step, p.values[`${mode}/${metric}`]] as const);
  const series: ChartSeries[] = [
    { label: 'training', color: '#7fb3ff', points: pick('training') },
    { label: 'validation', color: '#ffb347', points: pick('validating') },
  ];
  if (metric === 'loss/all' && live?.length)
    series.push({ label: 'training, per step', color: '#5d6f85', points: live });
  return series;
}

/** A lab URL short enough to read in a line: the page, then the start and end of the hash. */
export function shortUrl(url: string): string {
  const hash = url.indexOf('#');
  if (hash < 0 || url.length <= 64) return url;
  const page = url.slice(0, hash);
  const rest = url.slice(hash);
  return rest.length <= 40 ? url : `${page}${rest.slice(0, 24)}…${rest.slice(-12)}`;
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
