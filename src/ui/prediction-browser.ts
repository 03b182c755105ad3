/**
 * `<luna-prediction-browser>`: a run's validation candidates with label, p(nodule) and outcome
 * at an adjustable threshold (TP/FP/FN/TN and their counts), sortable and filterable by
 * outcome and series, and a gallery of the worst false positives and false negatives with
 * thumbnails of the model's input crop (its central axial slice, read as training reads it).
 * Choosing a row or a gallery item is announced; the page moves the viewer there.
 *
 * State for tests on the host: `data-threshold`, `data-rows` (rows shown after filtering).
 *
 * @fires candidate-select - detail: `{ prediction }` (an `IndexedPrediction`)
 */
import { LitElement, css, html } from 'lit';
import { CONTROL_STYLES, TABLE_STYLES } from './ui-styles.ts';
import { customElement, property, state } from 'lit/decorators.js';
import { labStore } from '../store/lab-store.ts';
import type { SeriesRecord } from '../store/records.ts';
import type { InspectTarget } from './inspect-client.ts';
import { xyzToIrc } from '../data/geometry.ts';
import { WINDOW_PRESETS } from '../viewer/window-level.ts';
import {
  OUTCOMES,
  countOutcomes,
  indexed,
  outcomeOf,
  queryRows,
  worstFalseNegatives,
  worstFalsePositives,
  type IndexedPrediction,
  type Outcome,
  type RowQuery,
  type SortKey,
} from '../viewer/outcomes.ts';
import { probColor, cssRgb } from '../viewer/colormap.ts';
import { drawCropSlice } from './crop-canvas.ts';

const GALLERY_SIZE = 6;
const PAGE = 100;

const COLUMNS: { key: SortKey; label: string; num?: boolean }[] = [
  { key: 'index', label: '#', num: true },
  { key: 'seriesUid', label: 'series' },
  { key: 'diameterMm', label: '⌀ mm', num: true },
  { key: 'label', label: 'label', num: true },
  { key: 'prob', label: 'p(nodule)', num: true },
  { key: 'outcome', label: 'outcome' },
  { key: 'loss', label: 'loss', num: true },
];

@customElement('luna-prediction-browser')
export class LunaPredictionBrowser extends LitElement {
  /** A run of this browser, or an MLflow model with its run's predictions. */
  @property({ attribute: false }) run: InspectTarget | null = null;
  /** Index (in the run's predictions) of the candidate shown elsewhere, highlighted here. */
  @property({ type: Number }) selected = -1;

  @state() private query: RowQuery = {
    threshold: 0.5,
    outcome: 'all',
    seriesUid: 'all',
    sort: 'index',
    descending: false,
  };
  @state() private limit = PAGE;
  @state() private thumbs = new Map<string, { crop: Int16Array; series: SeriesRecord }>();

  private rowsOf: { run: InspectTarget; rows: IndexedPrediction[] } | null = null;
  private pendingThumbs = new Set<string>();
  private worst: { fp: IndexedPrediction[]; fn: IndexedPrediction[] } = { fp: [], fn: [] };

  static override styles = css`
    ${CONTROL_STYLES}
    ${TABLE_STYLES}
    :host {
      display: block;
      font-size: 13px;
      --luna-control-padding: 3px 8px;
      --luna-cell-padding: 3px 6px;
    }
    .bar {
      display: flex;
      gap: 10px;
      align-items: center;
      flex-wrap: wrap;
      margin: 6px 0;
    }
    .counts span {
      margin-right: 10px;
      font-variant-numeric: tabular-nums;
    }
    th {
      cursor: pointer;
      user-select: none;
    }
    tbody tr {
      cursor: pointer;
    }
    tbody tr:hover,
    tr.selected {
      background: rgba(127, 179, 255, 0.1);
    }
    .uid {
      font-family: ui-monospace, monospace;
      font-size: 12px;
    }
    .TP,
    .TN {
      color: var(--luna-ok, #7ad17a);
    }
    .FP,
    .FN {
      color: var(--luna-error, #ff7b72);
    }
    .swatch {
      display: inline-block;
      width: 10px;
      height: 10px;
      border-radius: 50%;
      margin-right: 4px;
      vertical-align: middle;
    }
    .gallery {
      display: grid;
      grid-template-columns: repeat(auto-fill, minmax(110px, 1fr));
      gap: 8px;
      margin: 6px 0 14px;
    }
    .item {
      background: #111820;
      border: 1px solid var(--luna-border, #2a3440);
      border-radius: 6px;
      padding: 4px;
      cursor: pointer;
      text-align: center;
      font: inherit;
      color: inherit;
    }
    .item.selected {
      border-color: var(--luna-accent, #7fb3ff);
    }
    .item canvas {
      display: block;
      margin: 0 auto 3px;
      image-rendering: pixelated;
    }
    h4 {
      margin: 10px 0 4px;
      font-size: 13px;
    }
    .muted {
      color: var(--luna-muted, #9aa5b1);
    }
  `;

  override render() {
    const run = this.run;
    if (!run) return html`<p class="muted">Choose a run to inspect (the Inspect button in the run list).</p>`;
    const rows = this.rows();
    if (!rows.length)
      return html`<p class="muted" data-testid="no-predictions">Run ${run.name} has no validation predictions yet.</p>`;
    const q = this.query;
    const counts = countOutcomes(rows, q.threshold);
    const shown = queryRows(rows, q);
    const series = [...new Set(rows.map((r) => r.seriesUid))].sort();
    return html`
      <div class="bar">
        <label>
          threshold
          <input
            type="range"
            data-testid="threshold"
            min="0"
            max="1"
            step="0.01"
            .value=${String(q.threshold)}
            @input=${this._onThreshold}
          />
          <span data-testid="threshold-value">${q.threshold.toFixed(2)}</span>
        </label>
        <span class="counts" data-testid="outcome-counts">
          ${OUTCOMES.map((o) => html`<span class=${o} data-testid="count-${o}" data-count=${counts[o]}>${o} ${counts[o]}</span>`)}
          <span>precision ${counts.precision.toFixed(3)}</span><span>recall ${counts.recall.toFixed(3)}</span
          ><span>F1 ${counts.f1.toFixed(3)}</span>
        </span>
      </div>
      <h4>Worst false positives</h4>
      ${this._gallery(this.worst.fp, 'fp')}
      <h4>Worst false negatives</h4>
      ${this._gallery(this.worst.fn, 'fn')}
      <div class="bar">
        <label>
          outcome
          <select
            data-testid="filter-outcome"
            @change=${(e: Event) => this._set({ outcome: (e.target as HTMLSelectElement).value as Outcome | 'all' })}
          >
            ${['all', ...OUTCOMES].map((o) => html`<option value=${o} ?selected=${o === q.outcome}>${o}</option>`)}
          </select>
        </label>
        <label>
          series
          <select
            data-testid="filter-series"
            @change=${(e: Event) => this._set({ seriesUid: (e.target as HTMLSelectElement).value })}
          >
            <option value="all" ?selected=${q.seriesUid === 'all'}>all (${series.length})</option>
            ${series.map((s) => html`<option value=${s} ?selected=${s === q.seriesUid}>…${s.slice(-16)}</option>`)}
          </select>
        </label>
        <span class="muted">${shown.length} of ${rows.length} candidates</span>
      </div>
      <table>
        <thead>
          <tr>
            ${COLUMNS.map(
              (c) =>
                html`<th class=${c.num ? 'num' : ''} data-testid="sort-${c.key}" @click=${() => this._sort(c.key)}>
                  ${c.label}${q.sort === c.key ? (q.descending ? ' ▼' : ' ▲') : ''}
                </th>`,
            )}
          </tr>
        </thead>
        <tbody>
          ${shown.slice(0, this.limit).map((r) => {
            const o = outcomeOf(r, q.threshold);
            return html`<tr
              data-testid="prediction-row"
              data-index=${r.index}
              data-outcome=${o}
              data-prob=${r.prob}
              class=${r.index === this.selected ? 'selected' : ''}
              @click=${() => this._select(r)}
            >
              <td class="num">${r.index}</td>
              <td class="uid" title=${r.seriesUid}>…${r.seriesUid.slice(-12)}</td>
              <td class="num">${r.diameterMm ? r.diameterMm.toFixed(1) : '–'}</td>
              <td class="num">${r.label}</td>
              <td class="num">
                <span class="swatch" style="background:${cssRgb(probColor(r.prob))}"></span>${r.prob.toFixed(3)}
              </td>
              <td class=${o}>${o}</td>
              <td class="num">${r.loss.toFixed(3)}</td>
            </tr>`;
          })}
        </tbody>
      </table>
      ${
        shown.length > this.limit
          ? html`<button data-testid="show-more" @click=${() => (this.limit += PAGE)}>
              show ${Math.min(PAGE, shown.length - this.limit)} more
            </button>`
          : ''
      }
    `;
  }

  protected override willUpdate() {
    const rows = this.rows();
    const t = this.query.threshold;
    this.worst = { fp: worstFalsePositives(rows, t, GALLERY_SIZE), fn: worstFalseNegatives(rows, t, GALLERY_SIZE) };
    for (const r of [...this.worst.fp, ...this.worst.fn]) {
      const key = this.thumbKey(r);
      if (!this.thumbs.has(key)) void this.loadThumb(r, key);
    }
  }

  protected override updated() {
    this.dataset.threshold = String(this.query.threshold);
    this.dataset.rows = String(this.run ? queryRows(this.rows(), this.query).length : 0);
    const run = this.run;
    if (!run) return;
    for (const canvas of this.renderRoot.querySelectorAll<HTMLCanvasElement>('canvas[data-thumb]')) {
      const key = canvas.dataset.thumb!;
      const t = this.thumbs.get(key);
      if (t && canvas.dataset.drawn !== key) {
        drawCropSlice(
          canvas,
          { crop: t.crop, shape: run.config.crop, spacing: t.series.spacing },
          'axial',
          WINDOW_PRESETS.lung,
          72,
        );
        canvas.dataset.drawn = key;
      }
    }
  }

  private rows(): IndexedPrediction[] {
    const run = this.run;
    if (!run) return [];
    if (this.rowsOf?.run !== run) this.rowsOf = { run, rows: indexed(run.predictions) };
    return this.rowsOf.rows;
  }

  private _gallery(items: IndexedPrediction[], kind: 'fp' | 'fn') {
    if (!items.length) return html`<p class="muted" data-testid="gallery-${kind}-empty">none at this threshold</p>`;
    return html`<div class="gallery" data-testid="gallery-${kind}">
      ${items.map((r) => {
        const key = this.thumbKey(r);
        return html`<button
          class="item ${r.index === this.selected ? 'selected' : ''}"
          data-testid="gallery-item"
          data-index=${r.index}
          @click=${() => this._select(r)}
        >
          <canvas data-thumb=${key} width="72" height="72"></canvas>
          p ${r.prob.toFixed(3)} · label ${r.label}
        </button>`;
      })}
    </div>`;
  }

  private thumbKey(r: IndexedPrediction): string {
    return `${this.run?.runId}|${r.seriesUid}|${r.xyz.join(',')}`;
  }

  private async loadThumb(r: IndexedPrediction, key: string) {
    const run = this.run;
    if (!run || this.pendingThumbs.has(key)) return;
    this.pendingThumbs.add(key);
    try {
      const store = labStore();
      const series = await store.getSeries(r.seriesUid);
      if (!series) return; // the scan was deleted from the cache; the item stays without a picture
      const crop = await store.readCrop(r.seriesUid, xyzToIrc(r.xyz, series), run.config.crop);
      this.thumbs = new Map(this.thumbs).set(key, { crop, series });
    } catch {
      // A missing slab leaves the thumbnail blank; the viewer reports the cause when opened.
    } finally {
      this.pendingThumbs.delete(key);
    }
  }

  private _onThreshold(e: Event) {
    this._set({ threshold: Number((e.target as HTMLInputElement).value) });
  }

  private _set(change: Partial<RowQuery>) {
    this.query = { ...this.query, ...change };
    this.limit = PAGE;
  }

  private _sort(key: SortKey) {
    const q = this.query;
    this._set(
      q.sort === key ? { descending: !q.descending } : { sort: key, descending: key === 'prob' || key === 'loss' },
    );
  }

  private async _select(r: IndexedPrediction) {
    this.selected = r.index;
    await this.updateComplete;
    this.dispatchEvent(
      new CustomEvent('candidate-select', { detail: { prediction: r }, bubbles: true, composed: true }),
    );
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'luna-prediction-browser': LunaPredictionBrowser;
  }
}
