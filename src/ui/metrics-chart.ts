/**
 * `<luna-metrics-chart>`: one metric over training samples seen, one line per series
 * (training, validation, or several runs), drawn with uPlot. Redraws when `series` changes.
 */
import { LitElement, css, html, unsafeCSS, type PropertyValues } from 'lit';
import { customElement, property, query } from 'lit/decorators.js';
import uPlot from 'uplot';
import uplotCss from 'uplot/dist/uPlot.min.css?inline';

export interface ChartSeries {
  label: string;
  color: string;
  /** [step, value] pairs; step = training samples seen. */
  points: readonly (readonly [number, number])[];
}

/** The look of a chart card (uPlot's CSS, the frame, heading and legend): shared by the lab's charts. */
export const CHART_CARD_STYLES = [
  unsafeCSS(uplotCss),
  css`
    :host {
      display: block;
      background: #121a22;
      border: 1px solid var(--luna-border, #2a3440);
      border-radius: 8px;
      padding: 6px;
    }
    h4 {
      margin: 0 0 4px;
      font-size: 12px;
      font-weight: 500;
      color: var(--luna-muted, #9aa5b1);
      font-family: ui-monospace, monospace;
    }
    .u-legend {
      font-size: 11px;
      color: #cdd6df;
    }
  `,
];

/** The width a chart card's plot gets: its host's, less the card's padding. */
export function plotWidth(host: HTMLElement, min: number): number {
  return Math.max(min, host.clientWidth - 14);
}

/** uPlot draws at a fixed width: `redraw` runs when the card's width changes (window resize,
 *  layout), so a chart never sticks out of a narrowed page. */
export function redrawOnResize(host: HTMLElement, plot: () => uPlot | null, min: number, redraw: () => void) {
  return new ResizeObserver(() => {
    const p = plot();
    if (p && Math.abs(p.width - plotWidth(host, min)) > 1) redraw();
  });
}

@customElement('luna-metrics-chart')
export class LunaMetricsChart extends LitElement {
  @property() heading = '';
  @property({ attribute: false }) series: ChartSeries[] = [];
  @query('.plot') private plotEl!: HTMLDivElement;
  private plot: uPlot | null = null;
  private resize = redrawOnResize(
    this,
    () => this.plot,
    200,
    () => this.draw(),
  );

  static override styles = [
    ...CHART_CARD_STYLES,
    css`
      .empty {
        color: var(--luna-muted, #9aa5b1);
        font-size: 12px;
        height: 40px;
      }
    `,
  ];

  override render() {
    const n = this.series.reduce((k, s) => k + s.points.length, 0);
    return html`<h4>${this.heading}</h4>
      <div class="plot" data-points=${n}></div>
      ${n ? '' : html`<div class="empty">no points yet</div>`}`;
  }

  override updated(changed: PropertyValues<this>) {
    if (changed.has('series')) this.draw();
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

  private draw() {
    this.plot?.destroy();
    this.plot = null;
    const xs = [...new Set(this.series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
    if (!xs.length) return;
    const ys = this.series.map((s) => {
      const m = new Map(s.points.map((p) => [p[0], p[1]]));
      return xs.map((x) => m.get(x) ?? null);
    });
    const width = plotWidth(this, 200);
    this.plot = new uPlot(
      {
        width,
        height: 150,
        scales: { x: { time: false } },
        // The legend names the lines; values while hovering only would show "--" placeholders.
        legend: { live: false },
        axes: [
          { stroke: '#9aa5b1', grid: { stroke: '#1f2a36' }, label: 'samples seen', labelSize: 14, size: 30 },
          { stroke: '#9aa5b1', grid: { stroke: '#1f2a36' }, size: 44 },
        ],
        series: [
          { label: 'samples' },
          ...this.series.map((s) => ({ label: s.label, stroke: s.color, width: 2, points: { show: true, size: 5 } })),
        ],
      },
      [xs, ...ys] as uPlot.AlignedData,
      this.plotEl,
    );
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'luna-metrics-chart': LunaMetricsChart;
  }
}
