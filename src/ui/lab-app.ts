/**
 * `<luna-app>`: the lab's page, a workspace of five areas (data, train, runs, evaluate,
 * inspect) reachable at once from its navigation. It owns the page-level state (the cache
 * summary, the current drop's progress, storage figures) and wires the drop zone and the demo
 * button to the ingest worker. Readiness is exposed for tests and the headless CLI as
 * `<html data-luna-ready>` and `<html data-ingest="idle|running">`.
 *
 * Keyboard: a skip link, then the navigation as one tab stop (arrow keys move in it), then the
 * areas in reading order, so Train is a few Tab presses from page load.
 */
import { LitElement, css, html } from 'lit';
import { CONTROL_STYLES } from './ui-styles.ts';
import { customElement, query, state } from 'lit/decorators.js';
import { ingest, ingestDemo, type DroppedFile, type FileProgress, type IngestReport } from './ingest-client.ts';
import { labStore } from '../store/lab-store.ts';
import { formatBytes, storageEstimate } from '../store/quota.ts';
import type { DatasetSummary } from '../store/records.ts';
import './drop-zone.ts';
import './ingest-progress.ts';
import './dataset-panel.ts';
import './train-panel.ts';
import './eval-panel.ts';
import './inspect-panel.ts';
import type { LunaTrainPanel } from './train-panel.ts';

/** The demo button's data: enough scans that the quick config's validation split (every 10th
 * candidate) holds several nodules, so its F1 says something; generated in the page in seconds. */
export const DEMO_OPTIONS = { scans: 12, size: 'small', seed: 16, subsets: 2, malignancy: true } as const;

/** The workspace's areas, in page order; `runs` lives in the train panel. */
const AREAS = [
  { id: 'data', label: 'Data' },
  { id: 'train', label: 'Train' },
  { id: 'runs', label: 'Runs' },
  { id: 'evaluate', label: 'Evaluate' },
  { id: 'inspect', label: 'Inspect' },
] as const;
type AreaId = (typeof AREAS)[number]['id'];

declare global {
  interface Window {
    /** The last ingest report, for tests and the headless CLI. */
    lunaLastIngest?: IngestReport;
  }
}

@customElement('luna-app')
export class LunaApp extends LitElement {
  @state() private summary: DatasetSummary | null = null;
  @state() private progress = new Map<string, FileProgress>();
  @state() private busy = false;
  @state() private storage: { usage: number; quota: number; persisted: boolean | null } | null = null;
  @state() private lastReport: IngestReport | null = null;
  @state() private failure: string | null = null;
  /** The navigation's one tab stop (roving tabindex). */
  @state() private navFocus = 0;
  @query('luna-train-panel') private trainPanel!: LunaTrainPanel;

  static override styles = css`
    ${CONTROL_STYLES}
    :host {
      display: block;
      box-sizing: border-box;
      max-width: 1680px;
      margin: 0 auto;
      padding: 0 20px 60px;
      --luna-accent: #7fb3ff;
      --luna-muted: #9aa5b1;
      --luna-border: #2a3440;
      --luna-pane: #121a22;
    }
    .skip {
      position: absolute;
      left: 8px;
      top: -60px;
      z-index: 10;
    }
    .skip:focus {
      top: 8px;
    }
    header {
      position: sticky;
      top: 0;
      z-index: 5;
      display: flex;
      align-items: center;
      gap: 8px 20px;
      flex-wrap: wrap;
      padding: 10px 0;
      background: #0f1419;
      border-bottom: 1px solid var(--luna-border);
    }
    h1 {
      margin: 0;
      font-size: 20px;
    }
    .tag {
      color: var(--luna-muted);
      font-size: 13px;
    }
    nav {
      display: flex;
      gap: 4px;
      flex-wrap: wrap;
      margin-left: auto;
    }
    nav button {
      padding: 4px 10px;
    }
    .workspace {
      display: grid;
      grid-template-columns: minmax(0, 1fr);
      gap: 16px;
      margin-top: 16px;
    }
    /* Wide screens: data beside training; evaluation and inspection below, full width. */
    @media (min-width: 1500px) {
      .workspace {
        grid-template-columns: minmax(440px, 5fr) minmax(0, 11fr);
      }
      .wide {
        grid-column: 1 / -1;
      }
    }
    section.pane {
      min-width: 0;
      background: var(--luna-pane);
      border: 1px solid var(--luna-border);
      border-radius: 10px;
      padding: 12px 16px 16px;
      scroll-margin-top: 70px;
    }
    h2 {
      font-size: 16px;
      margin: 0 0 8px;
    }
    h2:focus {
      outline: none;
    }
    .row {
      display: flex;
      gap: 12px;
      align-items: center;
      flex-wrap: wrap;
      margin-top: 10px;
    }
    .row h3 {
      font-size: 14px;
      margin: 0;
    }
    .storage {
      color: var(--luna-muted);
      font-size: 13px;
    }
    .report {
      font-size: 13px;
      color: var(--luna-muted);
    }
    .failure {
      color: #ff7b72;
      white-space: pre-wrap;
    }
  `;

  override connectedCallback() {
    super.connectedCallback();
    // Asked at once: granted (as headless runs grant it) the cache is never evicted and gets
    // the browser's large persistent quota; the storage line says which. Asked again on a drop.
    const asked = navigator.storage?.persist ? navigator.storage.persist().catch(() => false) : Promise.resolve(false);
    void asked
      .then(() => this.refresh())
      .then(() => {
        document.documentElement.dataset.lunaReady = 'true';
      });
    document.documentElement.dataset.ingest = 'idle';
  }

  override render() {
    const st = this.storage;
    return html`
      <button class="skip" data-testid="skip-to-train" @click=${() => this.trainPanel.focusTrain()}>
        Skip to Train
      </button>
      <header>
        <h1>Luna Lab</h1>
        <span class="tag">LUNA16 nodule classification, trained in your browser</span>
        <nav aria-label="Workspace" data-testid="workspace-nav" @keydown=${this._onNavKey}>
          ${AREAS.map(
            (a, i) =>
              html`<button
                data-area=${a.id}
                tabindex=${i === this.navFocus ? 0 : -1}
                @click=${() => this.goTo(a.id)}
                @focus=${() => (this.navFocus = i)}
              >
                ${a.label}
              </button>`,
          )}
        </nav>
      </header>

      <main class="workspace">
        <section class="pane" id="data" data-area="data" aria-labelledby="h-data">
          <h2 id="h-data" tabindex="-1">Data</h2>
          <luna-drop-zone ?busy=${this.busy} @files-selected=${this._onFiles}></luna-drop-zone>
          <div class="row">
            <button data-testid="demo-button" ?disabled=${this.busy} @click=${this._onDemo}>
              Load synthetic demo data
            </button>
            <span class="storage" data-testid="storage">
              ${
                st
                  ? html`Storage: ${formatBytes(st.usage)} used of ${formatBytes(st.quota)} available
                    ${
                      this.summary?.seriesCount
                        ? html`· scans ${formatBytes(this.summary.storedBytes)} on disk
                          (${formatBytes(this.summary.voxelBytes)} of voxels, compressed)`
                        : ''
                    }
                    ${st.persisted === null ? '' : st.persisted ? '· persistent' : '· not persistent (the browser may evict it)'}`
                  : ''
              }
            </span>
          </div>
          ${this.failure ? html`<p class="failure" data-testid="ingest-failure">${this.failure}</p>` : ''}
          ${this.lastReport ? this._renderReport(this.lastReport) : ''}
          <luna-ingest-progress .files=${[...this.progress.values()]}></luna-ingest-progress>
          <div class="row">
            <h3>Cached data</h3>
            <button
              data-testid="clear-all"
              ?disabled=${this.busy || !this.summary?.seriesCount}
              @click=${this._onClear}
            >
              Delete all cached data
            </button>
          </div>
          <luna-dataset-panel
            .summary=${this.summary}
            @delete-series=${this._onDeleteSeries}
            @delete-subset=${this._onDeleteSubset}
          ></luna-dataset-panel>
        </section>

        <section class="pane" id="train" data-area="train" aria-labelledby="h-train">
          <h2 id="h-train" tabindex="-1">Train</h2>
          <luna-train-panel ?busy=${this.busy} @demo-request=${this._onDemo}></luna-train-panel>
        </section>

        <section class="pane wide" id="evaluate" data-area="evaluate" aria-labelledby="h-evaluate">
          <h2 id="h-evaluate" tabindex="-1">Evaluate (LUNA16 FROC)</h2>
          <luna-eval-panel></luna-eval-panel>
        </section>

        <section class="pane wide" id="inspect" data-area="inspect" aria-labelledby="h-inspect">
          <h2 id="h-inspect" tabindex="-1">Inspect</h2>
          <luna-inspect-panel .summary=${this.summary}></luna-inspect-panel>
        </section>
      </main>
    `;
  }

  /** Bring an area into view and move the focus to its heading (the runs to their table). */
  goTo(area: AreaId): void {
    if (area === 'runs') {
      this.trainPanel.focusRuns();
      return;
    }
    const heading = this.renderRoot.querySelector<HTMLElement>(`#h-${area}`);
    heading?.scrollIntoView({ block: 'start' });
    heading?.focus({ preventScroll: true });
  }

  /** Arrow keys, Home and End move within the navigation (one tab stop for all five). */
  private _onNavKey(e: KeyboardEvent) {
    const n = AREAS.length;
    const next =
      e.key === 'ArrowRight' || e.key === 'ArrowDown'
        ? (this.navFocus + 1) % n
        : e.key === 'ArrowLeft' || e.key === 'ArrowUp'
          ? (this.navFocus + n - 1) % n
          : e.key === 'Home'
            ? 0
            : e.key === 'End'
              ? n - 1
              : null;
    if (next === null) return;
    e.preventDefault();
    this.navFocus = next;
    this.renderRoot.querySelectorAll<HTMLButtonElement>('nav button')[next]?.focus();
  }

  private _renderReport(r: IngestReport) {
    const mb = r.voxelBytes / 1e6;
    return html`<p class="report" data-testid="ingest-report">
      Last ingest: ${r.series.length} series stored${r.skipped.length ? `, ${r.skipped.length} files skipped` : ''},
      ${r.errors.length} errors; ${mb.toFixed(1)} MB of voxels in ${(r.ms / 1000).toFixed(2)} s
      ${r.ms > 0 && mb > 0 ? `(${(mb / (r.ms / 1000)).toFixed(0)} MB/s)` : ''}.
      ${(r.mixed ?? []).map(
        (m) =>
          html`<br /><span class="warn" data-testid="ingest-mixed"
              >⚠ ${m.subset || '(no folder)'} now holds ${m.fromDrop} series from this drop and ${m.others} cached from
              elsewhere: a run on ${m.subset || 'it'} trains on both (delete the others to keep them apart).</span
            >`,
      )}
    </p>`;
  }

  private async refresh() {
    const [summary, est] = await Promise.all([labStore().datasetSummary(), storageEstimate()]);
    this.summary = summary;
    const persisted = navigator.storage?.persisted ? await navigator.storage.persisted() : null;
    this.storage = est ? { usage: est.usage ?? 0, quota: est.quota ?? 0, persisted } : null;
  }

  private _onFiles(e: CustomEvent<{ files: DroppedFile[] }>) {
    const files = e.detail.files;
    void this.run(
      files.map((f) => f.path),
      (cb) => ingest(files, cb),
    );
  }

  private _onDemo() {
    void this.run([], (cb) => ingestDemo({ ...DEMO_OPTIONS }, cb));
  }

  private async run(paths: string[], job: (cb: (p: FileProgress[]) => void) => Promise<IngestReport>) {
    this.busy = true;
    this.failure = null;
    this.progress = new Map(paths.map((p) => [p, { file: p, status: 'reading' as const }]));
    document.documentElement.dataset.ingest = 'running';
    // Ask once, on a user gesture; browsers may grant silently or refuse.
    if (navigator.storage?.persist) void navigator.storage.persist().catch(() => false);
    try {
      const report = await job((batch) => {
        const next = new Map(this.progress);
        for (const p of batch) next.set(p.file, p);
        this.progress = next;
        if (batch.some((p) => p.status === 'stored')) void this.refresh();
      });
      this.lastReport = report;
      window.lunaLastIngest = report;
    } catch (e) {
      this.failure = `Ingest failed: ${e instanceof Error ? e.message : String(e)}`;
    } finally {
      await this.refresh();
      this.busy = false;
      // The training panel checks a lab URL's data again.
      window.dispatchEvent(new Event('luna-data-changed'));
      await this.updateComplete;
      document.documentElement.dataset.ingest = 'idle';
    }
  }

  private async _onDeleteSeries(e: CustomEvent<{ seriesUid: string }>) {
    await labStore().deleteSeries(e.detail.seriesUid);
    await this.refresh();
  }

  private async _onDeleteSubset(e: CustomEvent<{ subset: string }>) {
    await labStore().deleteSubset(e.detail.subset);
    await this.refresh();
  }

  private async _onClear() {
    if (!confirm('Delete every cached scan and table from this browser?')) return;
    await labStore().clearAll();
    this.progress = new Map();
    await this.refresh();
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'luna-app': LunaApp;
  }
}
