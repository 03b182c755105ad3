/**
 * `<luna-froc-chart>`: a FROC curve — sensitivity over average false positives per scan, on a
 * log₂ axis as LUNA16 draws it — with LUNA16's seven operating points marked, drawn with uPlot.
 * The line is the interpolant the CPM reads (src/eval/froc.ts `interp`), so the marks lie on it.
 * `data-points` on the plot says how many curve points were drawn (for tests).
 *
 * A click on the plot chooses the curve point nearest it (froc-cases.ts `nearestPoint`: its
 * rate on the log axis) and announces it; `positionOf` says where a point is drawn (tests click there).
 *
 * @fires froc-point-select - detail: `{ point }` (a `FrocPoint` of the curve, finite threshold)
 */
import { LitElement, html, type PropertyValues } from 'lit';
import { customElement, property, query } from 'lit/decorators.js';
import uPlot from 'uplot';
import { CHART_CARD_STYLES, plotWidth, redrawOnResize } from './metrics-chart.ts';
import { CPM_FPS, interp, type FrocPoint, type FrocResult } from '../eval/froc.ts';
import { nearestPoint } from '../eval/froc-cases.ts';

@customElement('luna-froc-chart')
export class LunaFrocChart extends LitElement {
  /** The evaluation to draw; null draws nothing. */
  @property({ attribute: false }) result: FrocResult | null = null;
  @query('.plot') private plotEl!: HTMLDivElement;
  private plot: uPlot | null = null;
  private resize = redrawOnResize(
    this,
    () => this.plot,
    260,
    () => this.draw(),
  );
  /** The point chosen last by a click. */
  chosen: FrocPoint | null = null;

  static override styles = CHART_CARD_STYLES;

  override render() {
    return html`<h4>FROC: sensitivity vs false positives per scan</h4>
      <div class="plot" data-points=${this.xs().length}></div>`;
  }

  override updated(changed: PropertyValues<this>) {
    if (changed.has('result')) this.draw();
  }

  override connectedCallback() {
    super.connectedCallback();
    this.resize.observe(this);
  }

  override disconnectedCallback() {
    super.disconnectedCallback();
    this.resize.disconnect();
    this.plot?.destroy();
    this.plot = null;
  }

  /** Curve abscissae > 0 (a log axis has no 0) from 1/16 up, and the seven operating points. */
  private xs(): number[] {
    const r = this.result;
    if (!r) return [];
    const last = r.curve[r.curve.length - 1]?.fpsPerScan ?? 0;
    const lo = 1 / 16;
    const hi = Math.max(16, last);
    return [
      ...new Set([lo, ...r.curve.map((p) => p.fpsPerScan).filter((x) => x > lo && x <= hi), ...CPM_FPS, hi]),
    ].sort((a, b) => a - b);
  }

  /** Where the curve point at (fpsPerScan, sensitivity) is drawn, CSS px from the top-left of
   *  the plot's drawing area (uPlot's `.u-over`); null before a draw. */
  positionOf(fpsPerScan: number, sensitivity: number): { x: number; y: number } | null {
    if (!this.plot) return null;
    return { x: this.plot.valToPos(fpsPerScan, 'x'), y: this.plot.valToPos(sensitivity, 'y') };
  }

  /** The click's curve point: nearest on the log axis among those with a threshold (marks).
   *  From the click's own position in the drawing area (uPlot's cursor may not have moved yet). */
  private _onClick = (e: MouseEvent) => {
    const u = this.plot;
    const r = this.result;
    if (!u || !r) return;
    const fps = u.posToVal(e.clientX - u.over.getBoundingClientRect().left, 'x');
    const point = nearestPoint(
      r.curve.filter((p) => Number.isFinite(p.threshold)),
      fps,
    );
    if (!point) return;
    this.chosen = point;
    this.dispatchEvent(new CustomEvent('froc-point-select', { detail: { point }, bubbles: true, composed: true }));
  };

  private draw() {
    this.plot?.destroy();
    this.plot = null;
    const r = this.result;
    if (!r) return;
    const xs = this.xs();
    const curve = xs.map((x) => interp(x, r.curve));
    const marks = xs.map((x) => (CPM_FPS.includes(x as (typeof CPM_FPS)[number]) ? interp(x, r.curve) : null));
    this.plot = new uPlot(
      {
        width: plotWidth(this, 260),
        height: 220,
        scales: { x: { time: false, distr: 3, log: 2 }, y: { range: [0, 1] } },
        // A click chooses a point: no drag-to-zoom, and uPlot must not swallow the click (its
        // drag.click stops a click it takes for the end of a drag).
        cursor: { drag: { x: false, y: false, setScale: false, click: () => {} } },
        axes: [
          {
            stroke: '#9aa5b1',
            grid: { stroke: '#1f2a36' },
            label: 'average false positives per scan',
            labelSize: 14,
            size: 30,
          },
          { stroke: '#9aa5b1', grid: { stroke: '#1f2a36' }, label: 'sensitivity', labelSize: 14, size: 44 },
        ],
        series: [
          { label: 'FPs/scan' },
          { label: 'FROC', stroke: '#7fb3ff', width: 2, points: { show: false } },
          {
            label: `CPM points (CPM ${r.cpm.toFixed(3)})`,
            stroke: '#e3b341',
            width: 0,
            points: { show: true, size: 7, fill: '#e3b341' },
          },
        ],
      },
      [xs, curve, marks] as uPlot.AlignedData,
      this.plotEl,
    );
    this.plot.over.addEventListener('click', this._onClick);
    this.plot.over.style.cursor = 'pointer';
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'luna-froc-chart': LunaFrocChart;
  }
}
