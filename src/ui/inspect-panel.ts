/**
 * `<luna-inspect-panel>`: the page's "Inspect" section — a run chosen for inspection, the CT
 * viewer, the prediction browser and the crop view with its saliency overlay, wired together:
 * choosing a candidate (table row or gallery item) moves the viewer to it and shows its crop.
 *
 * A run is chosen here or with the run list's Inspect button: its `run-inspect` event is
 * composed, so it reaches the document, where this panel listens (the run list lives in the
 * training section's shadow tree, not under this panel).
 * A case chosen in the evaluation's FROC (`eval-case-select`, also composed and heard on the
 * document) is shown the same way: the model it is of opened (the run, or the MLflow model read
 * from the server the evaluation read it from; src/ui/eval-case.ts), the viewer moved to it,
 * its crop shown with the model's p and the saliency overlay.
 * Instead of a run, an MLflow model (`models:/NAME/VERSION`, `runs:/<id>/model`) can be
 * inspected: read from the tracking server the way fine-tuning reads one (its run's config,
 * tfjs weights and predictions; src/train/model-source.ts), its weights sent to the worker.
 * State for tests on the host: `data-run` (the run inspected, or the model's URI) and
 * `data-inspect` (idle|loading).
 */
import { LitElement, css, html } from 'lit';
import { CONTROL_STYLES } from './ui-styles.ts';
import { customElement, property, query, state } from 'lit/decorators.js';
import { labStore } from '../store/lab-store.ts';
import type { DatasetSummary, RunRecord } from '../store/records.ts';
import type { IndexedPrediction } from '../viewer/outcomes.ts';
import { MLFLOW_MODEL_INPUT_STYLES, mlflowModelInputs, mlflowModelReady, pageServer } from './mlflow-model-inputs.ts';
import { modelToOpen, type CaseModel, type EvalCaseDetail } from './eval-case.ts';
import { InspectClient, type InspectTarget } from './inspect-client.ts';
import { loadMlflowModel } from '../train/model-source.ts';
import type { LunaCtViewer, ViewerSeries } from './ct-viewer.ts';
import './ct-viewer.ts';
import './prediction-browser.ts';
import './crop-view.ts';

/** The select's value for "an MLflow model". */
const MLFLOW_MODEL = 'mlflow';

@customElement('luna-inspect-panel')
export class LunaInspectPanel extends LitElement {
  /** The cache's summary (the page's): the series the viewer can show. */
  @property({ attribute: false }) summary: DatasetSummary | null = null;

  @state() private runs: RunRecord[] = [];
  @state() private run: InspectTarget | null = null;
  /** The select's choice: '', a run id, or MLFLOW_MODEL. */
  @state() private choice = '';
  @state() private modelUri = '';
  /** The MLflow server of the page's lab URL, unless the user gives another. */
  @state() private server = pageServer();
  @state() private loading = false;
  @state() private failure: string | null = null;
  @state() private candidate: IndexedPrediction | null = null;
  /** The model `run` is (what a FROC case's model is compared with). */
  private shown: CaseModel | null = null;

  @query('luna-ct-viewer') private viewer!: LunaCtViewer;

  private readonly client = new InspectClient();

  static override styles = css`
    ${CONTROL_STYLES}
    ${MLFLOW_MODEL_INPUT_STYLES}
    :host {
      display: block;
      font-size: 13px;
      --luna-control-padding: 3px 8px;
    }
    .bar {
      display: flex;
      gap: 10px;
      align-items: center;
      flex-wrap: wrap;
      margin: 6px 0 10px;
    }
    .grid {
      display: grid;
      grid-template-columns: minmax(0, 514px) minmax(0, 1fr);
      gap: 16px;
      align-items: start;
    }
    @media (max-width: 900px) {
      .grid {
        grid-template-columns: 1fr;
      }
    }
    .muted {
      color: var(--luna-muted, #9aa5b1);
    }
    .failure {
      color: var(--luna-error, #ff7b72);
      white-space: pre-wrap;
    }
    h3 {
      font-size: 14px;
      margin: 16px 0 6px;
    }
  `;

  override connectedCallback() {
    super.connectedCallback();
    document.addEventListener('run-inspect', this._onRunInspect as EventListener);
    document.addEventListener('eval-case-select', this._onEvalCase as EventListener);
    void this.refreshRuns();
  }

  override disconnectedCallback() {
    super.disconnectedCallback();
    document.removeEventListener('run-inspect', this._onRunInspect as EventListener);
    document.removeEventListener('eval-case-select', this._onEvalCase as EventListener);
  }

  /** Inspect run `runId` (read afresh from the store). */
  async inspect(runId: string): Promise<void> {
    await this.refreshRuns();
    this.run = this.runs.find((r) => r.runId === runId) ?? (await labStore().getRun(runId)) ?? null;
    this.choice = this.run ? runId : '';
    this.shown = this.run ? { kind: 'run', runId } : null;
    this.failure = null;
    this.candidate = null;
    await this.updateComplete;
  }

  /** Inspect an MLflow model (`models:/NAME/VERSION`, `runs:/<id>/model`) read from `server`. */
  async inspectMlflow(uri: string, server: string): Promise<void> {
    this.choice = MLFLOW_MODEL;
    this.modelUri = uri;
    this.server = server;
    this.loading = true;
    this.failure = null;
    try {
      const m = await loadMlflowModel(uri, server);
      this.run = {
        runId: uri,
        name: `${uri} (MLflow run ${m.name})`,
        config: m.config,
        predictions: m.predictions,
        weights: m.weights,
      };
      this.shown = { kind: 'mlflow', uri, server };
      this.candidate = null;
    } catch (e) {
      this.run = null;
      this.shown = null;
      this.failure = e instanceof Error ? e.message : String(e);
    } finally {
      this.loading = false;
      await this.updateComplete;
    }
  }

  override render() {
    const series: ViewerSeries[] = (this.summary?.subsets ?? []).flatMap((g) =>
      g.series.map((s) => ({ seriesUid: s.seriesUid, subset: s.subset, annotations: s.annotations })),
    );
    return html`
      <div class="bar">
        <label>
          run
          <select
            data-testid="inspect-run"
            ?disabled=${this.loading}
            @focus=${() => void this.refreshRuns()}
            @change=${this._onRunChosen}
          >
            <option value="" ?selected=${this.choice === ''}>none</option>
            ${this.runs.map(
              (r) =>
                html`<option value=${r.runId} ?selected=${r.runId === this.choice}>
                  ${r.name} (${r.status}, ${r.predictions.length} predictions)
                </option>`,
            )}
            <option value=${MLFLOW_MODEL} ?selected=${this.choice === MLFLOW_MODEL}>
              an MLflow model (models:/…)…
            </option>
          </select>
        </label>
        ${
          this.choice === MLFLOW_MODEL
            ? html`${mlflowModelInputs({
                  prefix: 'inspect',
                  uri: this.modelUri,
                  server: this.server,
                  disabled: this.loading,
                  onUri: (v) => (this.modelUri = v),
                  onServer: (v) => (this.server = v),
                })}
                <button
                  data-testid="inspect-model-load"
                  ?disabled=${this.loading || !mlflowModelReady(this.modelUri, this.server)}
                  @click=${() => void this.inspectMlflow(this.modelUri, this.server)}
                >
                  Load
                </button>
                ${this.loading ? html`<span class="muted">reading ${this.modelUri}…</span>` : ''}`
            : ''
        }
      </div>
      ${this.failure ? html`<p class="failure" data-testid="inspect-failure">${this.failure}</p>` : ''}
      <div class="grid">
        <luna-ct-viewer .seriesList=${series} .predictions=${this.run?.predictions ?? []}></luna-ct-viewer>
        <div>
          <h3>Model input crop</h3>
          <luna-crop-view .run=${this.run} .candidate=${this.candidate} .client=${this.client}></luna-crop-view>
        </div>
      </div>
      <h3>Validation predictions</h3>
      <luna-prediction-browser
        .run=${this.run}
        .selected=${this.candidate?.index ?? -1}
        @candidate-select=${this._onCandidate}
      ></luna-prediction-browser>
    `;
  }

  protected override updated() {
    this.dataset.run = this.run?.runId ?? '';
    this.dataset.inspect = this.loading ? 'loading' : 'idle';
  }

  private async refreshRuns() {
    this.runs = await labStore().listRuns();
  }

  private _onRunInspect = (e: CustomEvent<{ runId: string }>) => {
    void this.inspect(e.detail.runId);
  };

  private _onEvalCase = (e: CustomEvent<EvalCaseDetail>) => {
    void this.showCase(e.detail);
  };

  /** A FROC case: its model opened (unless it is open, or the case is of a file), the viewer on it, its crop beside. */
  async showCase(d: EvalCaseDetail): Promise<void> {
    const open = modelToOpen(d, this.shown);
    if (open?.kind === 'run') await this.inspect(open.runId);
    else if (open?.kind === 'mlflow') await this.inspectMlflow(open.uri, open.server);
    // Not one of the run's validation predictions: index −1, no loss.
    this.candidate = {
      index: -1,
      seriesUid: d.seriesUid,
      xyz: d.xyz,
      diameterMm: 0,
      label: d.kind === 'missed' ? 1 : 0,
      prob: d.probability ?? NaN,
      loss: NaN,
    };
    await this.viewer.focusWorld(d.seriesUid, d.xyz);
  }

  private _onRunChosen(e: Event) {
    const id = (e.target as HTMLSelectElement).value;
    this.failure = null;
    if (id === MLFLOW_MODEL) {
      // The model is read when the user presses Load.
      this.choice = MLFLOW_MODEL;
      if (!this.run?.weights) {
        this.run = null;
        this.shown = null;
      }
    } else if (id) void this.inspect(id);
    else {
      this.choice = '';
      this.run = null;
      this.shown = null;
    }
  }

  private _onCandidate(e: CustomEvent<{ prediction: IndexedPrediction }>) {
    const p = e.detail.prediction;
    this.candidate = p;
    void this.viewer.focusWorld(p.seriesUid, p.xyz);
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'luna-inspect-panel': LunaInspectPanel;
  }
}
