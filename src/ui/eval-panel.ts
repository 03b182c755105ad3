/**
 * `<luna-eval-panel>`: LUNA16's evaluation of a model on the cached scans — a run of this lab
 * (its last checkpoint, exported to ONNX), a user's .onnx file (e.g. a PyTorch export) or an
 * MLflow model's model.onnx — run in the inference worker with onnxruntime-web (WebGPU
 * execution provider, else WASM). Shows which provider ran, the CPM, the sensitivities at
 * LUNA16's seven FP rates and the FROC curve; for a run, how far onnxruntime's p(nodule) lies
 * from the tfjs model's on a few crops. A FROC case chosen here names the model evaluated, so
 * Inspect opens that model with it (src/ui/eval-case.ts).
 *
 * Readiness for tests: the attribute `data-eval="idle|running"` on the element, and the last
 * outcome as `window.lunaEval`.
 */
import { LitElement, css, html } from 'lit';
import { CONTROL_STYLES } from './ui-styles.ts';
import { customElement, state } from 'lit/decorators.js';
import { labStore } from '../store/lab-store.ts';
import type { RunRecord } from '../store/records.ts';
import { frocCasesAt, type FrocCases } from '../eval/froc-cases.ts';
import type { FrocPoint } from '../eval/froc.ts';
import { InferenceClient, type EvalOutcome, type EvalProgress, type EvalRequest } from './inference-client.ts';
import './froc-chart.ts';
import { mlflowModelOnnx } from '../train/model-source.ts';
import { MLFLOW_MODEL_INPUT_STYLES, mlflowModelInputs, mlflowModelReady, pageServer } from './mlflow-model-inputs.ts';
import { falsePositiveDetail, missedDetail, type CaseModel, type EvalCaseDetail } from './eval-case.ts';

/** Cases listed per kind at one operating point (the most confident first). */
const CASES_SHOWN = 50;

/** The adapter fields used here (no tfjs on the page: backend.ts stays in the workers). */
interface AdapterInfo {
  vendor?: string;
  architecture?: string;
  description?: string;
}

declare global {
  interface Window {
    /** The last evaluation's outcome, for tests and the headless CLI. */
    lunaEval?: EvalOutcome;
  }
}

const FILE = 'file';
/** A registered or logged MLflow model (models:/NAME/VERSION, runs:/<id>/model), read as its model.onnx. */
const MLFLOW_MODEL = 'mlflow';
/** Crops scored by the run's tfjs model too, for the agreement figure. */
const TFJS_CHECK = 8;

@customElement('luna-eval-panel')
export class LunaEvalPanel extends LitElement {
  @state() private runs: RunRecord[] = [];
  /** A run id, or FILE. */
  @state() private choice = '';
  @state() private file: File | null = null;
  @state() private modelUri = '';
  /** The MLflow server of the form's config (the page's URL), unless the user gives another. */
  @state() private server = pageServer();
  @state() private preferred: EvalRequest['preferred'] = 'webgpu';
  /** Held out by default: a run is scored on its validation series unless the user chooses otherwise. */
  @state() private scope: EvalRequest['scope'] = 'validation';
  @state() private cases: FrocCases | null = null;
  @state() private point: FrocPoint | null = null;
  /** The model the outcome is of, which its FROC cases open in Inspect (null: a file). */
  private outcomeModel: CaseModel | null = null;
  @state() private running = false;
  @state() private progress: EvalProgress | null = null;
  @state() private outcome: EvalOutcome | null = null;
  @state() private failure: string | null = null;
  @state() private runtimeNote: string | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private client = new InferenceClient({ progress: (p) => (this.progress = p) });

  static override styles = css`
    ${CONTROL_STYLES}
    ${MLFLOW_MODEL_INPUT_STYLES}
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
    .muted {
      color: var(--luna-muted, #9aa5b1);
      font-size: 13px;
    }
    .failure {
      color: var(--luna-error, #ff7b72);
      white-space: pre-wrap;
      font-size: 13px;
    }
    .cpm {
      font-size: 20px;
    }
    table {
      border-collapse: collapse;
      font-size: 13px;
      margin: 8px 0;
    }
    td,
    th {
      padding: 2px 10px;
      border-bottom: 1px solid var(--luna-border, #2a3440);
      text-align: right;
    }
    .results {
      display: grid;
      grid-template-columns: minmax(220px, auto) minmax(0, 1fr);
      gap: 16px;
      align-items: start;
    }
    /* Narrow pages: the FROC chart under the table, not squeezed beside it. */
    @media (max-width: 900px) {
      .results {
        grid-template-columns: minmax(0, 1fr);
      }
    }
    .warn {
      color: #e3b341;
      font-size: 13px;
    }
    table.cases tr[data-testid] {
      cursor: pointer;
    }
    table.cases tr[data-testid]:hover {
      background: rgba(127, 179, 255, 0.1);
    }
    .uid {
      font-family: ui-monospace, monospace;
      font-size: 12px;
    }
  `;

  override connectedCallback() {
    super.connectedCallback();
    this.dataset.eval = 'idle';
    void this.refresh();
    void this.pickRuntime();
    // Runs end in the train worker; a cheap re-list keeps the choice current.
    this.timer = setInterval(() => {
      if (!this.running && document.visibilityState === 'visible') void this.refresh();
    }, 3000);
  }

  override disconnectedCallback() {
    super.disconnectedCallback();
    if (this.timer) clearInterval(this.timer);
    this.client.restart();
  }

  /** WebGPU by default, unless the adapter is software (SwiftShader) or missing: there WASM is
   *  100× faster (BENCHMARKS.md, inference). The user can still choose either. */
  private async pickRuntime() {
    const gpu = (
      navigator as { gpu?: { requestAdapter(): Promise<{ info?: AdapterInfo; isFallbackAdapter?: boolean } | null> } }
    ).gpu;
    const adapter = await gpu?.requestAdapter().catch(() => null);
    const info = adapter?.info ?? {};
    const name = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ');
    if (!adapter || adapter.isFallbackAdapter || /swiftshader/i.test(name ?? '')) {
      this.preferred = 'wasm';
      this.runtimeNote = adapter
        ? `WebGPU here is software (${name}): WASM is chosen, it is far faster`
        : 'no WebGPU adapter: WASM is chosen';
    }
  }

  private async refresh() {
    const all = await labStore().listRuns();
    // A run can be evaluated once it has a checkpoint and is not training.
    this.runs = all.filter((r) => r.epochsDone > 0 && r.status !== 'running' && r.status !== 'paused');
    const external = this.choice === FILE || this.choice === MLFLOW_MODEL;
    if (!this.choice || (!external && !this.runs.some((r) => r.runId === this.choice))) {
      this.choice = this.runs[0]?.runId ?? (this.file ? FILE : '');
    }
  }

  override render() {
    const ready =
      this.choice === FILE
        ? this.file !== null
        : this.choice === MLFLOW_MODEL
          ? mlflowModelReady(this.modelUri, this.server)
          : this.choice !== '';
    return html`
      <div class="row">
        <label
          >Model
          <select
            data-testid="eval-model"
            .value=${this.choice}
            ?disabled=${this.running}
            @change=${(e: Event) => (this.choice = (e.target as HTMLSelectElement).value)}
          >
            ${this.runs.map((r) => html`<option value=${r.runId} ?selected=${r.runId === this.choice}>${r.name} (${r.status}, epoch ${r.epochsDone})</option>`)}
            <option value=${FILE} ?selected=${this.choice === FILE}>an ONNX file…</option>
            <option value=${MLFLOW_MODEL} ?selected=${this.choice === MLFLOW_MODEL}>
              an MLflow model (models:/…)…
            </option>
          </select>
        </label>
        ${
          this.choice === MLFLOW_MODEL
            ? mlflowModelInputs({
                prefix: 'eval',
                uri: this.modelUri,
                server: this.server,
                disabled: this.running,
                onUri: (v) => (this.modelUri = v),
                onServer: (v) => (this.server = v),
              })
            : ''
        }
        <input
          type="file"
          accept=".onnx"
          data-testid="eval-file"
          ?hidden=${this.choice !== FILE && this.runs.length > 0}
          ?disabled=${this.running}
          @change=${this._onFile}
        />
        <label
          >Runtime
          <select
            data-testid="eval-ep"
            .value=${this.preferred}
            ?disabled=${this.running}
            @change=${(e: Event) => (this.preferred = (e.target as HTMLSelectElement).value as EvalRequest['preferred'])}
          >
            <option value="webgpu">onnxruntime-web WebGPU (WASM fallback)</option>
            <option value="wasm">onnxruntime-web WASM</option>
          </select>
        </label>
        <label
          >Candidates
          <select
            data-testid="eval-scope"
            .value=${this.scope}
            ?disabled=${this.running || this.choice === FILE || this.choice === MLFLOW_MODEL}
            @change=${(e: Event) => (this.scope = (e.target as HTMLSelectElement).value as EvalRequest['scope'])}
          >
            <option value="validation">the run's validation series (held out)</option>
            <option value="all">all of the run's scans (training scans too)</option>
          </select>
        </label>
        <button class="primary" data-testid="eval-start" ?disabled=${this.running || !ready} @click=${this._start}>
          Evaluate (FROC)
        </button>
        ${this._renderProgress()}
      </div>
      ${this.runs.length === 0 && this.choice !== FILE && this.choice !== MLFLOW_MODEL ? html`<p class="muted">Train a run (or choose an ONNX file, input [N,1,D,H,W], output [N,2]) to evaluate it here.</p>` : ''}
      ${this.runtimeNote ? html`<p class="muted" data-testid="eval-runtime-note">${this.runtimeNote}</p>` : ''}
      ${this.failure ? html`<p class="failure" data-testid="eval-failure">${this.failure}</p>` : ''}
      ${this.outcome ? this._renderOutcome(this.outcome) : ''}
    `;
  }

  private _renderProgress() {
    const p = this.progress;
    if (!this.running || !p) return '';
    const what = {
      model: 'preparing the model',
      data: 'reading the candidates',
      scoring: 'scoring crops',
      checking: 'checking against tfjs',
    }[p.phase];
    return html`<span class="muted" data-testid="eval-progress"
      >${what}${p.total > 1 ? ` ${p.done} / ${p.total}` : ''}…</span
    >`;
  }

  private _renderOutcome(o: EvalOutcome) {
    const f = o.froc;
    const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
    return html`
      <p class="muted" data-testid="eval-provider" data-provider=${o.provider}>
        ${o.source}: onnxruntime-web <b>${o.provider}</b>${o.adapter ? ` on ${o.adapter}` : ''}; output ${o.output};
        crops ${o.crop.join('×')}; ${o.predictions.length} candidates in ${o.seconds.toFixed(1)} s
        (${o.cropsPerSecond.toFixed(1)} crops/s scored)
        ${o.fallbackReason ? html`<br /><span class="warn" data-testid="eval-fallback">fallback: ${o.fallbackReason}</span>` : ''}
      </p>
      <div class="results">
        <div>
          <div class="cpm">CPM <b data-testid="eval-cpm">${f.cpm.toFixed(4)}</b></div>
          <table data-testid="eval-sensitivities">
            <tr>
              <th>FPs/scan</th>
              <th>sensitivity</th>
            </tr>
            ${f.sensitivities.map(
              (s) =>
                html`<tr data-fps=${s.fpsPerScan}>
                  <td>${s.fpsPerScan}</td>
                  <td>${pct(s.sensitivity)}</td>
                </tr>`,
            )}
          </table>
          ${
            f.band
              ? html`<p
                  class="muted"
                  data-testid="eval-band"
                  data-lower=${f.band.cpm.lower}
                  data-upper=${f.band.cpm.upper}
                >
                  ${pct(f.band.confidence)} band (${f.band.samples} bootstrap samples over scans): CPM
                  ${f.band.cpm.lower.toFixed(4)}–${f.band.cpm.upper.toFixed(4)}
                </p>`
              : ''
          }
          <p
            class=${o.trainingScans?.length ? 'warn' : 'muted'}
            data-testid="eval-scored"
            data-scope=${o.scope}
            data-training-scans=${o.trainingScans?.length ?? 'unknown'}
          >
            Scored: ${o.scored}
          </p>
          <p class="muted">
            ${f.scans} scans, ${f.nodules} nodules, ${f.detected} hit by a candidate; ${f.falsePositives} false
            positives (${(f.falsePositives / f.scans).toFixed(1)} per scan)
            ${o.stored ? html`<br /><span data-testid="eval-stored">kept with the run${o.trackingItems ? ', queued for MLflow' : ''}</span>` : ''}
          </p>
          ${
            o.tfjsCheck
              ? html`<p class="muted" data-testid="eval-tfjs-check" data-max-diff=${o.tfjsCheck.maxAbsDiff}>
                  tfjs (${o.tfjsCheck.backend}) on the first ${o.tfjsCheck.crops} crops: max |Δp| =
                  ${o.tfjsCheck.maxAbsDiff.toExponential(1)}
                </p>`
              : ''
          }
          ${o.warnings.map((w) => html`<p class="warn" data-testid="eval-warning">${w}</p>`)}
        </div>
        <div>
          <luna-froc-chart data-testid="froc-chart" .result=${f} @froc-point-select=${this._onPoint}></luna-froc-chart>
          <p class="muted">Click the curve to list the false positives and missed nodules at that operating point.</p>
        </div>
      </div>
      ${this.cases && this.point ? this._renderCases(this.cases, this.point) : ''}
    `;
  }

  private _renderCases(c: FrocCases, p: FrocPoint) {
    const xyz = (v: readonly number[]) => v.map((x) => x.toFixed(1)).join(', ');
    const row = (d: EvalCaseDetail, label: string) =>
      html`<tr
        data-testid=${d.kind === 'missed' ? 'eval-missed' : 'eval-fp'}
        data-series=${d.seriesUid}
        data-xyz=${d.xyz.join(',')}
        data-p=${d.probability ?? ''}
        @click=${() => this._select(d)}
      >
        <td class="uid">${d.seriesUid.slice(-16)}</td>
        <td>${xyz(d.xyz)}</td>
        <td>${d.probability === null ? '–' : d.probability.toFixed(4)}</td>
        <td>${label}</td>
      </tr>`;
    return html`<div
      data-testid="eval-cases"
      data-threshold=${c.threshold}
      data-fps=${p.fpsPerScan}
      data-fp=${c.falsePositives.length}
      data-missed=${c.missed.length}
    >
      <p>
        At p ≥ <b>${c.threshold.toFixed(4)}</b>: ${p.fpsPerScan.toFixed(3)} false positives per scan, sensitivity
        ${(100 * p.sensitivity).toFixed(1)}% — ${c.falsePositives.length} false positives, ${c.missed.length} missed
        nodules${c.falsePositives.length > CASES_SHOWN || c.missed.length > CASES_SHOWN ? ` (the first ${CASES_SHOWN} of each shown)` : ''}.
        Choose one to see it in the viewer (Inspect).
      </p>
      <table class="cases">
        <tr>
          <th>series</th>
          <th>x, y, z (mm)</th>
          <th>p(nodule)</th>
          <th></th>
        </tr>
        ${c.falsePositives.slice(0, CASES_SHOWN).map((f) => row(falsePositiveDetail(this.outcomeModel, f), 'false positive'))}
        ${c.missed
          .slice(0, CASES_SHOWN)
          .map((m) =>
            row(
              missedDetail(this.outcomeModel, m),
              `missed ${m.diameterMm < 0 ? '' : `${m.diameterMm.toFixed(1)} mm `}nodule${m.bestProbability === null ? ', no candidate on it' : ''}`,
            ),
          )}
      </table>
    </div>`;
  }

  private _onPoint(e: CustomEvent<{ point: FrocPoint }>) {
    const o = this.outcome;
    if (!o) return;
    this.point = e.detail.point;
    this.cases = frocCasesAt(o.predictions, o.nodules, o.scans, e.detail.point.threshold);
  }

  private _select(detail: EvalCaseDetail) {
    this.dispatchEvent(new CustomEvent('eval-case-select', { detail, bubbles: true, composed: true }));
  }

  private _onFile(e: Event) {
    this.file = (e.target as HTMLInputElement).files?.[0] ?? null;
    if (this.file) this.choice = FILE;
  }

  private async _start() {
    this.running = true;
    this.dataset.eval = 'running';
    this.failure = null;
    this.progress = null;
    // The inputs may change while it runs: its cases open what was evaluated.
    const evaluated: CaseModel | null =
      this.choice === FILE
        ? null
        : this.choice === MLFLOW_MODEL
          ? { kind: 'mlflow', uri: this.modelUri, server: this.server }
          : { kind: 'run', runId: this.choice };
    try {
      const model: EvalRequest['model'] =
        this.choice === FILE
          ? { kind: 'file', name: this.file!.name, bytes: new Uint8Array(await this.file!.arrayBuffer()) }
          : this.choice === MLFLOW_MODEL
            ? { kind: 'file', name: this.modelUri, bytes: await mlflowModelOnnx(this.modelUri, this.server) }
            : { kind: 'run', runId: this.choice };
      const outcome = await this.client.evaluate({
        model,
        preferred: this.preferred,
        scope: model.kind === 'run' ? this.scope : 'all',
        tfjsCheck: model.kind === 'run' ? TFJS_CHECK : 0,
      });
      this.outcome = outcome;
      this.outcomeModel = evaluated;
      this.cases = null;
      this.point = null;
      window.lunaEval = outcome;
      // The run list shows the CPM now kept with the run; the train worker delivers to MLflow.
      if (outcome.stored)
        window.dispatchEvent(
          new CustomEvent('luna-run-evaluated', {
            detail: { runId: model.kind === 'run' ? model.runId : null, trackingItems: outcome.trackingItems },
          }),
        );
    } catch (e) {
      this.failure = `Evaluation failed: ${e instanceof Error ? e.message : String(e)}`;
      // A lost GPU device or a wedged runtime: the next evaluation gets a fresh worker.
      this.client.restart();
    } finally {
      this.running = false;
      await this.updateComplete;
      this.dataset.eval = 'idle';
    }
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'luna-eval-panel': LunaEvalPanel;
  }
}
