/**
 * `<luna-crop-view>`: the model's input crop of one candidate — central axial, coronal and
 * sagittal slices, read as training reads them — with an optional saliency overlay: the
 * gradient of p(nodule) with respect to the crop, from the run's last checkpoint, computed in
 * the inspect worker.
 *
 * State for tests on the host: `data-saliency` (off|computing|ready|error), `data-prob` (the
 * checkpoint's p(nodule) of the crop), `data-max` (max |∂p/∂x|), `data-epoch` (checkpoint),
 * `data-drawn` (plain|saliency: what the canvases show, once drawn).
 */
import { LitElement, css, html, type PropertyValues } from 'lit';
import { customElement, property, queryAll, state } from 'lit/decorators.js';
import { labStore } from '../store/lab-store.ts';
import type { PredictionRow, SeriesRecord } from '../store/records.ts';
import { xyzToIrc } from '../data/geometry.ts';
import { PLANES } from '../viewer/plane.ts';
import { WINDOW_PRESETS } from '../viewer/window-level.ts';
import { drawCropSlice } from './crop-canvas.ts';
import {
  saliencyModelOf,
  type InspectClient,
  type InspectTarget,
  type SaliencyReply,
  type SaliencyStage,
} from './inspect-client.ts';

const STAGE_TEXT: Record<SaliencyStage, string> = {
  model: 'loading the model',
  crop: 'reading the crop',
  // One forward and backward pass: seconds for a small model, about a minute for the book's on software WebGPU.
  gradient: 'computing ∂p/∂input (one forward and backward pass)',
};

@customElement('luna-crop-view')
export class LunaCropView extends LitElement {
  /** A run of this browser, or an MLflow model the page read (inspect-client.ts). */
  @property({ attribute: false }) run: InspectTarget | null = null;
  @property({ attribute: false }) candidate: PredictionRow | null = null;
  /** The inspect worker's handle (shared with the page). */
  @property({ attribute: false }) client: InspectClient | null = null;

  @state() private crop: { key: string; data: Int16Array; series: SeriesRecord } | null = null;
  @state() private showSaliency = false;
  @state() private saliency: { key: string; reply: SaliencyReply } | null = null;
  @state() private status: 'off' | 'computing' | 'ready' | 'error' = 'off';
  @state() private error: string | null = null;
  /** While computing: the worker's stage and the seconds since the request. */
  @state() private stage: SaliencyStage | null = null;
  @state() private elapsed = 0;

  @queryAll('canvas') private canvases!: NodeListOf<HTMLCanvasElement>;

  static override styles = css`
    :host {
      display: block;
      font-size: 13px;
    }
    .slices {
      display: flex;
      gap: 8px;
      align-items: flex-end;
      flex-wrap: wrap;
    }
    figure {
      margin: 0;
    }
    figcaption {
      color: var(--luna-muted, #9aa5b1);
      font-size: 12px;
    }
    canvas {
      display: block;
      image-rendering: pixelated;
      outline: 1px solid var(--luna-border, #2a3440);
    }
    .muted {
      color: var(--luna-muted, #9aa5b1);
    }
    .error {
      color: var(--luna-error, #ff7b72);
    }
  `;

  override render() {
    const c = this.candidate;
    if (!this.run || !c)
      return html`<p class="muted">Choose a candidate in the table or the gallery to see the model's input crop.</p>`;
    const s = this.saliency?.reply;
    return html`
      <p>
        Crop ${this.run.config.crop.join('×')} around (${c.xyz.map((v) => v.toFixed(1)).join(', ')}) mm · label
        ${c.label} · stored p ${c.prob.toFixed(3)}
      </p>
      <label>
        <input type="checkbox" data-testid="saliency-toggle" .checked=${this.showSaliency} @change=${this._onToggle} />
        saliency overlay (∂p(nodule)/∂input, ${this.run.weights ? 'the MLflow model' : 'last checkpoint'})
      </label>
      ${
        this.status === 'computing'
          ? html`<span class="muted" role="status" data-testid="saliency-progress">
              computing: ${this.stage ? STAGE_TEXT[this.stage] : 'starting the inspect worker'} · ${this.elapsed}
              s</span
            >`
          : ''
      }
      ${
        s && this.status === 'ready'
          ? html`<span data-testid="saliency-info">
              · ${s.epoch === null ? this.run.runId : `checkpoint epoch ${s.epoch}`} on ${s.backend}: p
              ${s.prob.toFixed(3)}, max |∂p/∂x| ${s.maxAbs.toExponential(2)}</span
            >`
          : ''
      }
      ${this.error ? html`<p class="error" data-testid="saliency-error">${this.error}</p>` : ''}
      <div class="slices">
        ${PLANES.map(
          (p) =>
            html`<figure>
              <canvas data-testid="crop-${p}"></canvas>
              <figcaption>${p}</figcaption>
            </figure>`,
        )}
      </div>
    `;
  }

  protected override willUpdate(changed: PropertyValues<this>) {
    if (changed.has('candidate') || changed.has('run')) {
      void this.loadCrop();
      if (this.showSaliency) void this.computeSaliency();
    }
  }

  protected override updated() {
    this.dataset.saliency = this.status;
    const s = this.saliency?.key === this.key() ? this.saliency.reply : null;
    this.dataset.prob = s ? String(s.prob) : '';
    this.dataset.max = s ? String(s.maxAbs) : '';
    this.dataset.epoch = s ? String(s.epoch ?? '') : '';
    const crop = this.crop;
    if (!crop || crop.key !== this.key() || !this.canvases.length) {
      this.dataset.drawn = '';
      return;
    }
    const overlay = s && this.showSaliency ? { values: s.gradient, max: s.maxAbs } : undefined;
    this.canvases.forEach((canvas, k) =>
      drawCropSlice(
        canvas,
        { crop: crop.data, shape: this.run!.config.crop, spacing: crop.series.spacing },
        PLANES[k],
        WINDOW_PRESETS.lung,
        144,
        overlay,
      ),
    );
    this.dataset.drawn = overlay ? 'saliency' : 'plain';
  }

  private key(): string {
    const c = this.candidate;
    return this.run && c ? `${this.run.runId}|${c.seriesUid}|${c.xyz.join(',')}` : '';
  }

  private async loadCrop() {
    const key = this.key();
    const c = this.candidate;
    if (!key || !c || !this.run) return;
    try {
      const store = labStore();
      const series = await store.getSeries(c.seriesUid);
      if (!series) throw new Error(`series ${c.seriesUid} is not in the cache: drop its scan again`);
      const data = await store.readCrop(c.seriesUid, xyzToIrc(c.xyz, series), this.run.config.crop);
      if (key === this.key()) this.crop = { key, data, series };
    } catch (e) {
      if (key === this.key()) this.error = e instanceof Error ? e.message : String(e);
    }
  }

  private _onToggle(e: Event) {
    this.showSaliency = (e.target as HTMLInputElement).checked;
    if (this.showSaliency) void this.computeSaliency();
    else this.status = 'off';
  }

  private async computeSaliency() {
    const key = this.key();
    const c = this.candidate;
    if (!key || !c || !this.run || !this.client) return;
    if (this.saliency?.key === key) {
      this.status = 'ready';
      return;
    }
    this.status = 'computing';
    this.error = null;
    this.stage = null;
    this.elapsed = 0;
    const t0 = Date.now();
    const tick = setInterval(() => (this.elapsed = Math.round((Date.now() - t0) / 1000)), 1000);
    try {
      const reply = await this.client
        .saliency(
          { model: saliencyModelOf(this.run), seriesUid: c.seriesUid, xyz: [c.xyz[0], c.xyz[1], c.xyz[2]] },
          (stage) => {
            if (key === this.key()) this.stage = stage;
          },
        )
        .finally(() => clearInterval(tick));
      if (key !== this.key()) return;
      this.saliency = { key, reply };
      this.status = this.showSaliency ? 'ready' : 'off';
    } catch (e) {
      if (key !== this.key()) return;
      this.status = 'error';
      this.error = `Saliency failed: ${e instanceof Error ? e.message : String(e)}`;
    }
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'luna-crop-view': LunaCropView;
  }
}
