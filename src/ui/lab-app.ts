/**
 * `<luna-app>`: the lab's page. It owns the page-level state (the cache summary, the
 * current drop's progress, storage figures) and wires the drop zone and the demo button to
 * the ingest worker. Readiness is exposed for tests and the headless CLI as
 * `<html data-luna-ready>` and `<html data-ingest="idle|running">`.
 */
import { LitElement, css, html } from 'lit';
import { customElement, state } from 'lit/decorators.js';
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

export const DEMO_OPTIONS = { scans: 6, size: 'small', seed: 16, subsets: 2, malignancy: true } as const;

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

  static override styles = css`
    :host {
      display: block;
      max-width: 1100px;
      margin: 0 auto;
      padding: 20px 24px 60px;
      --luna-accent: #7fb3ff;
      --luna-muted: #9aa5b1;
      --luna-border: #2a3440;
    }
    header {
      display: flex;
      align-items: baseline;
      gap: 16px;
      flex-wrap: wrap;
    }
    h1 {
      margin: 0;
      font-size: 22px;
    }
    h2 {
      font-size: 16px;
      margin: 26px 0 8px;
    }
    .tag {
      color: var(--luna-muted);
    }
    section {
      margin-top: 16px;
    }
    .row {
      display: flex;
      gap: 12px;
      align-items: center;
      flex-wrap: wrap;
      margin-top: 10px;
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
    button {
      background: #1f2a36;
      color: inherit;
      border: 1px solid var(--luna-border);
      border-radius: 6px;
      padding: 6px 12px;
      font: inherit;
      cursor: pointer;
    }
    button:hover:not([disabled]) {
      border-color: var(--luna-accent);
    }
    button[disabled] {
      opacity: 0.5;
      cursor: default;
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
      <header>
        <h1>Luna Lab</h1>
        <span class="tag">LUNA16 nodule classification, trained in your browser</span>
      </header>

      <section>
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
      </section>

      <section>
        <div class="row">
          <h2>Cached data</h2>
          <button data-testid="clear-all" ?disabled=${this.busy || !this.summary?.seriesCount} @click=${this._onClear}>
            Delete all cached data
          </button>
        </div>
        <luna-dataset-panel
          .summary=${this.summary}
          @delete-series=${this._onDeleteSeries}
          @delete-subset=${this._onDeleteSubset}
        ></luna-dataset-panel>
      </section>

      <section>
        <h2>Training</h2>
        <luna-train-panel></luna-train-panel>
      </section>

      <section>
        <h2>Evaluation (LUNA16 FROC)</h2>
        <luna-eval-panel></luna-eval-panel>
      </section>

      <section>
        <h2>Inspect</h2>
        <luna-inspect-panel .summary=${this.summary}></luna-inspect-panel>
      </section>
    `;
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
