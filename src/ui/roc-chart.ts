/**
 * `<luna-roc-chart>`: the malignancy task's ROC on the validation nodules (malignant vs benign)
 * from a run's stored predictions, beside the book's diameter baseline (p2ch14: the same nodules
 * ranked by annotated diameter alone) and the chance diagonal, with both AUCs (src/model/roc.ts),
 * drawn with uPlot. Nothing is drawn before the run's first validation.
 */
import { LitElement, css, html, type PropertyValues } from 'lit';
import { customElement, property, query } from 'lit/decorators.js';
import uPlot from 'uplot';
import { CHART_CARD_STYLES } from './metrics-chart.ts';
import { alignCurves, curveArea, rocCurve } from '../model/roc.ts';
import type { PredictionRow } from '../store/records.ts';

@customElement('luna-roc-chart')
export class LunaRocChart extends LitElement {
  /** The run's validation predictions (label 1 = malignant). */
  @property({ attribute: false }) predictions: readonly PredictionRow[] = [];
  @query('.plot') private plotEl!: HTMLDivElement;
  private plot: uPlot | null = null;

  static override styles = [
    ...CHART_CARD_STYLES,
    css`
      p {
        margin: 0 0 4px;
        font-size: 12px;
        color: #cdd6df;
        font-family: ui-monospace, monospace;
      }
    `,
  ];

  private curves() {
    const labels = this.predictions.map((p) => p.label);
    const model = rocCurve(
      labels,
      this.predictions.map((p) => p.prob),
    );
    const diameter = rocCurve(
      labels,
      this.predictions.map((p) => p.diameterMm),
    );
    return { model, diameter, auc: curveArea(model), baseline: curveArea(diameter) };
  }

  override render() {
    const c = this.curves();
    const fmt = (v: number) => (Number.isNaN(v) ? 'n/a' : v.toFixed(3));
    const summary = this.predictions.length
      ? `AUC ${fmt(c.auc)} · diameter baseline ${fmt(c.baseline)} (${c.model.positives} malignant, ${c.model.negatives} benign)`
      : 'no validation yet';
    return html`<h4>ROC: malignant vs benign nodules (validation)</h4>
      <p data-testid="roc-auc" data-auc=${c.auc} data-baseline=${c.baseline}>${summary}</p>
      <div class="plot"></div>`;
  }

  override updated(changed: PropertyValues<this>) {
    if (changed.has('predictions')) this.draw();
  }

  override disconnectedCallback() {
    super.disconnectedCallback();
    this.plot?.destroy();
    this.plot = null;
  }

  private draw() {
    this.plot?.destroy();
    this.plot = null;
    if (!this.predictions.length) return;
    const { model, diameter, auc, baseline } = this.curves();
    const { x, ys } = alignCurves([model, diameter, { fpr: [0, 1], tpr: [0, 1] }]);
    const line = (label: string, stroke: string, dash?: number[]) => ({
      label,
      stroke,
      width: 2,
      spanGaps: true,
      points: { show: false },
      ...(dash ? { dash } : {}),
    });
    this.plot = new uPlot(
      {
        width: Math.max(260, this.clientWidth - 14),
        height: 220,
        scales: { x: { time: false, range: [0, 1] }, y: { range: [0, 1] } },
        axes: [
          { stroke: '#9aa5b1', grid: { stroke: '#1f2a36' }, label: 'false-positive rate', labelSize: 14, size: 30 },
          { stroke: '#9aa5b1', grid: { stroke: '#1f2a36' }, label: 'true-positive rate', labelSize: 14, size: 44 },
        ],
        series: [
          { label: 'FPR' },
          line(`model (AUC ${auc.toFixed(3)})`, '#7fb3ff'),
          line(`diameter (AUC ${baseline.toFixed(3)})`, '#e3b341'),
          line('chance', '#5c6773', [4, 4]),
        ],
      },
      [x, ...ys] as uPlot.AlignedData,
      this.plotEl,
    );
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'luna-roc-chart': LunaRocChart;
  }
}
