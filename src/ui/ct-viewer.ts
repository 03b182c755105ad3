/**
 * `<luna-ct-viewer>`: one plane of a cached CT series on a canvas, with the radiologists'
 * nodules (annotations.csv) and a run's scored candidates drawn on it.
 *
 * - Axial, coronal and sagittal planes, drawn aspect-correct (src/viewer/plane.ts,
 *   view-transform.ts). Wheel or ↑/↓/PageUp/PageDown scroll slices; Ctrl+wheel or +/− zoom
 *   about the cursor; Shift+drag or middle-drag pans; drag sets window/level freely; a click
 *   moves the cursor (the other planes' slices) to the voxel under it; 0 resets the view.
 * - Lung (W 1500 / L −600) and mediastinal (W 350 / L 50) window presets.
 * - Annotations are circles of their diameter on every slice their sphere crosses (solid on
 *   the central one); candidates are dots (and circles, when they have a diameter) coloured
 *   by the run's p(nodule); unscored cached candidates are grey, on request.
 * - Hovering shows world mm, voxel (index, row, col), HU and the nearest candidate.
 *
 * State for tests and scripts, on the host: `data-state` (empty|loading|ready|error),
 * `data-series`, `data-plane`, `data-slice-index|row|col` (the cursor voxel, whose component
 * along the plane's normal is the slice shown), `data-window`, `data-level`, `data-zoom`.
 * `focusWorld(seriesUid, xyz)` (or a `viewer-focus-request` event with that detail) jumps to a
 * world point; `canvasPointOf(xyz)` says where a world point is drawn, `planeBox()` where the
 * plane is.
 *
 * @fires viewer-change - detail: `{ seriesUid, plane, cursor }`, after the view has been drawn
 */
import { LitElement, css, html, type PropertyValues } from 'lit';
import { CONTROL_STYLES } from './ui-styles.ts';
import { customElement, property, query, state } from 'lit/decorators.js';
import { labStore } from '../store/lab-store.ts';
import type { AnnotationRow, CandidateRow, PredictionRow, SeriesRecord } from '../store/records.ts';
import type { Irc, Vec3 } from '../data/volume.ts';
import { ircToXyz } from '../data/geometry.ts';
import { preferredTable } from '../data/candidate-selection.ts';
import { PLANES, extractPlane, planeGeometry, voxelAt, type Plane, type PlaneGeometry } from '../viewer/plane.ts';
import { ViewTransform, focusView, nearestVoxel, zoomAbout, type ViewParams } from '../viewer/view-transform.ts';
import { WINDOW_PRESETS, dragWindowLevel, planeToRgba, windowLut, type WindowLevel } from '../viewer/window-level.ts';
import { ANNOTATION_RGB, UNSCORED_RGB, cssRgb, probColor } from '../viewer/colormap.ts';
import { markersOnSlice, nearest, sliceOf, type MarkerSource } from '../viewer/markers.ts';

export const CANVAS_SIZE = 512;

/** A series the viewer can show (the page's cached list). */
export interface ViewerSeries {
  seriesUid: string;
  subset: string;
  annotations: number;
}

interface Loaded {
  record: SeriesRecord;
  voxels: Int16Array;
  annotations: AnnotationRow[];
  candidates: CandidateRow[];
}

interface Hover {
  xyz: Vec3;
  irc: Irc;
  hu: number | null;
  near: { label: 0 | 1; prob: number | null; distanceMm: number } | null;
}

interface ScoredMarker extends MarkerSource {
  prob: number | null;
  label: 0 | 1;
}

const DEFAULT_VIEW = { zoom: 1, panX: 0, panY: 0 };

@customElement('luna-ct-viewer')
export class LunaCtViewer extends LitElement {
  /** Cached series to choose from. */
  @property({ attribute: false }) seriesList: ViewerSeries[] = [];
  /** The series shown (uid); null = none. */
  @property() seriesUid: string | null = null;
  /** A run's scored candidates (any series; those of the shown series are drawn). */
  @property({ attribute: false }) predictions: PredictionRow[] = [];

  @state() private plane: Plane = 'axial';
  @state() private cursor: [number, number, number] = [0, 0, 0];
  @state() private wl: WindowLevel = WINDOW_PRESETS.lung;
  @state() private view = DEFAULT_VIEW;
  @state() private showUnscored = false;
  @state() private hover: Hover | null = null;
  @state() private loaded: Loaded | null = null;
  @state() private loadState: 'empty' | 'loading' | 'ready' | 'error' = 'empty';
  @state() private error: string | null = null;

  @query('canvas') private canvas!: HTMLCanvasElement;

  private loading: Promise<void> | null = null;
  private loadingUid: string | null = null;
  private announced = '';
  private greyCache: { key: string; image: HTMLCanvasElement } | null = null;
  private lut: { wl: WindowLevel; table: Uint8Array } | null = null;
  private drag: {
    x: number;
    y: number;
    mode: 'window' | 'pan';
    wl: WindowLevel;
    view: typeof DEFAULT_VIEW;
    moved: boolean;
  } | null = null;

  static override styles = css`
    ${CONTROL_STYLES}
    :host {
      display: block;
      font-size: 13px;
      --luna-control-padding: 3px 8px;
    }
    .bar {
      display: flex;
      gap: 6px;
      align-items: center;
      flex-wrap: wrap;
      margin-bottom: 6px;
    }
    .bar select {
      max-width: 320px;
    }
    button[aria-pressed='true'] {
      border-color: var(--luna-accent, #7fb3ff);
      color: var(--luna-accent, #7fb3ff);
    }
    /* An outline, not a border: the canvas's box must be exactly its pixels. */
    canvas {
      display: block;
      background: #000;
      outline: 1px solid var(--luna-border, #2a3440);
      cursor: crosshair;
    }
    .stage {
      position: relative;
      width: fit-content;
      max-width: 100%;
    }
    /* Centred on the empty canvas; clicks go through to it. */
    .empty-hint {
      position: absolute;
      inset: 0;
      margin: 0;
      display: flex;
      align-items: center;
      justify-content: center;
      text-align: center;
      padding: 0 48px;
      color: var(--luna-muted, #9aa5b1);
      pointer-events: none;
    }
    canvas:focus {
      outline-color: var(--luna-accent, #7fb3ff);
    }
    .readout {
      font-variant-numeric: tabular-nums;
      color: var(--luna-muted, #9aa5b1);
      min-height: 1.4em;
      margin-top: 4px;
    }
    .error {
      color: var(--luna-error, #ff7b72);
    }
    .muted {
      color: var(--luna-muted, #9aa5b1);
    }
  `;

  override render() {
    const l = this.loaded;
    const g = this.planeGeom();
    return html`
      <div class="bar">
        <select data-testid="viewer-series" aria-label="series" @change=${this._onSeries}>
          <option value="" ?selected=${!this.seriesUid}>choose a cached series…</option>
          ${this.seriesList.map(
            (s) =>
              html`<option value=${s.seriesUid} ?selected=${s.seriesUid === this.seriesUid}>
                ${s.subset ? `${s.subset} · ` : ''}…${s.seriesUid.slice(-16)}${s.annotations ? ` · ${s.annotations} nodule(s)` : ''}
              </option>`,
          )}
        </select>
        ${PLANES.map(
          (p) =>
            html`<button data-testid="plane-${p}" aria-pressed=${p === this.plane} @click=${() => this._setPlane(p)}>
              ${p}
            </button>`,
        )}
        <button
          data-testid="preset-lung"
          aria-pressed=${this._isPreset('lung')}
          @click=${() => (this.wl = WINDOW_PRESETS.lung)}
        >
          lung
        </button>
        <button
          data-testid="preset-mediastinal"
          aria-pressed=${this._isPreset('mediastinal')}
          @click=${() => (this.wl = WINDOW_PRESETS.mediastinal)}
        >
          mediastinal
        </button>
        <span data-testid="viewer-wl">W ${this.wl.window} / L ${this.wl.level}</span>
        ${g ? html`<span data-testid="viewer-slice">slice ${this.cursor[g.normal] + 1}/${g.depth}</span>` : ''}
        <button data-testid="viewer-reset" @click=${() => (this.view = DEFAULT_VIEW)}>reset view</button>
        <label
          ><input
            type="checkbox"
            .checked=${this.showUnscored}
            @change=${(e: Event) => (this.showUnscored = (e.target as HTMLInputElement).checked)}
          />
          unscored candidates</label
        >
      </div>
      ${
        l && l.annotations.length
          ? html`<div class="bar">
              <span class="muted">nodules:</span>
              ${l.annotations.map(
                (a, k) =>
                  html`<button
                    data-testid="annotation-jump"
                    @click=${() => void this.focusWorld(l.record.seriesUid, a.xyz)}
                  >
                    #${k + 1} ⌀ ${a.diameterMm.toFixed(1)} mm
                  </button>`,
              )}
            </div>`
          : ''
      }
      <div class="stage">
        <canvas
          data-testid="viewer-canvas"
          width=${CANVAS_SIZE}
          height=${CANVAS_SIZE}
          tabindex="0"
          @wheel=${this._onWheel}
          @keydown=${this._onKey}
          @pointerdown=${this._onDown}
          @pointermove=${this._onMove}
          @pointerup=${this._onUp}
          @pointerleave=${() => (this.hover = null)}
          @contextmenu=${(e: Event) => e.preventDefault()}
          aria-label="CT slice: arrow keys or the wheel move through slices"
        ></canvas>
        ${
          this.loadState === 'empty'
            ? html`<p class="empty-hint" data-testid="viewer-empty">
                No series shown yet.<br />Choose a cached series above, or a prediction or a FROC case below, to see it
                here.
              </p>`
            : ''
        }
      </div>
      <div class="readout" data-testid="viewer-hover">${this._hoverText()}</div>
      ${this.error ? html`<p class="error" data-testid="viewer-error">${this.error}</p>` : ''}
      ${this.loadState === 'loading' ? html`<p class="muted">Reading the series from the cache…</p>` : ''}
    `;
  }

  /** Show `seriesUid` with the cursor on the voxel nearest world point `xyz` (mm), centred on
   *  it as far as the scan still fills the canvas (focusView). */
  async focusWorld(seriesUid: string, xyz: Vec3): Promise<void> {
    this.seriesUid = seriesUid;
    await this.ensureLoaded();
    const l = this.loaded;
    if (!l || l.record.seriesUid !== seriesUid) return;
    this.cursor = sliceOf(xyz, l.record, l.record.shape);
    const g = this.planeGeom()!;
    // Centred on the point as far as the scan still fills the canvas (no black bands).
    const v = focusView(g, this.viewParams(), l.record, xyz);
    this.view = { zoom: v.zoom, panX: v.panX, panY: v.panY };
    await this.updateComplete;
  }

  /** Where world point `xyz` is drawn (canvas px, CSS pixels from the canvas's top-left), and
   *  its distance in slices from the one shown; null while nothing is shown. */
  canvasPointOf(xyz: Vec3): { x: number; y: number; slicesAway: number } | null {
    const t = this.transform();
    const g = this.planeGeom();
    if (!t || !g) return null;
    const p = t.xyzToCanvas(xyz);
    return { x: p.x, y: p.y, slicesAway: p.depth - this.cursor[g.normal] };
  }

  /** The canvas rectangle (CSS px) the shown plane is drawn in; null while nothing is shown. */
  planeBox(): { left: number; top: number; right: number; bottom: number } | null {
    const t = this.transform();
    if (!t) return null;
    const [pw, ph] = t.pixelSize;
    return { left: t.x0, top: t.y0, right: t.x0 + t.plane.width * pw, bottom: t.y0 + t.plane.height * ph };
  }

  override connectedCallback() {
    super.connectedCallback();
    this.addEventListener('viewer-focus-request', this._onFocusRequest as EventListener);
  }

  override disconnectedCallback() {
    super.disconnectedCallback();
    this.removeEventListener('viewer-focus-request', this._onFocusRequest as EventListener);
  }

  protected override willUpdate(changed: PropertyValues<this>) {
    if (changed.has('seriesUid')) void this.ensureLoaded();
  }

  protected override updated() {
    this.draw();
    const ds = this.dataset;
    ds.state = this.loadState;
    ds.series = this.loaded?.record.seriesUid ?? '';
    ds.plane = this.plane;
    [ds.sliceIndex, ds.sliceRow, ds.sliceCol] = this.cursor.map(String);
    ds.window = String(this.wl.window);
    ds.level = String(this.wl.level);
    ds.zoom = this.view.zoom.toFixed(3);
    const key = `${ds.series}|${this.plane}|${this.cursor.join(',')}`;
    if (this.loaded && key !== this.announced) {
      this.announced = key;
      this.dispatchEvent(
        new CustomEvent('viewer-change', {
          detail: { seriesUid: this.loaded.record.seriesUid, plane: this.plane, cursor: [...this.cursor] },
          bubbles: true,
          composed: true,
        }),
      );
    }
  }

  private async ensureLoaded(): Promise<void> {
    const uid = this.seriesUid;
    if (!uid) {
      this.loaded = null;
      this.loadState = 'empty';
      return;
    }
    if (this.loaded?.record.seriesUid === uid) return;
    if (this.loading && this.loadingUid === uid) return this.loading;
    this.loadingUid = uid;
    this.loadState = 'loading';
    this.error = null;
    this.loading = (async () => {
      try {
        const store = labStore();
        const [{ record, voxels }, [ann], cands] = await Promise.all([
          store.readVolume(uid),
          store.annotationsFor([uid]),
          store.candidatesFor([uid]),
        ]);
        if (this.seriesUid !== uid) return; // another series was chosen meanwhile
        // Prefer the book's candidates.csv where both tables are cached.
        const table = preferredTable(cands, (c) => c.source);
        this.loaded = { record, voxels, annotations: ann?.rows ?? [], candidates: table?.rows ?? [] };
        this.greyCache = null;
        const s = record.shape;
        this.cursor = [Math.floor(s[0] / 2), Math.floor(s[1] / 2), Math.floor(s[2] / 2)];
        this.view = DEFAULT_VIEW;
        this.loadState = 'ready';
      } catch (e) {
        if (this.seriesUid !== uid) return;
        this.loaded = null;
        this.loadState = 'error';
        this.error = `Could not show series ${uid}: ${e instanceof Error ? e.message : String(e)}`;
      } finally {
        if (this.loadingUid === uid) {
          this.loading = null;
          this.loadingUid = null;
        }
      }
    })();
    return this.loading;
  }

  private planeGeom(): PlaneGeometry | null {
    const r = this.loaded?.record;
    return r ? planeGeometry(this.plane, r.shape, r.spacing, r.direction) : null;
  }

  private viewParams(): ViewParams {
    return { canvasWidth: CANVAS_SIZE, canvasHeight: CANVAS_SIZE, ...this.view };
  }

  private transform(): ViewTransform | null {
    const g = this.planeGeom();
    return g && this.loaded ? new ViewTransform(g, this.viewParams(), this.loaded.record) : null;
  }

  private scored(): ScoredMarker[] {
    const l = this.loaded;
    if (!l) return [];
    const uid = l.record.seriesUid;
    return this.predictions
      .filter((p) => p.seriesUid === uid)
      .map((p) => ({ xyz: p.xyz, diameterMm: p.diameterMm, prob: p.prob, label: p.label }));
  }

  private unscored(): ScoredMarker[] {
    return (this.loaded?.candidates ?? []).map((c) => ({
      xyz: c.xyz,
      diameterMm: 0,
      prob: null,
      label: c.isNodule ? 1 : 0,
    }));
  }

  private draw() {
    const ctx = this.canvas?.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, CANVAS_SIZE, CANVAS_SIZE);
    const l = this.loaded;
    const g = this.planeGeom();
    const t = this.transform();
    if (!l || !g || !t) return;
    const slice = this.cursor[g.normal];
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(this.greyImage(l, g, slice), t.x0, t.y0, g.width * t.pixelSize[0], g.height * t.pixelSize[1]);

    const spacing = l.record.spacing;
    ctx.lineWidth = 2;
    for (const m of markersOnSlice(l.annotations, t, slice, spacing)) {
      ctx.strokeStyle = cssRgb(ANNOTATION_RGB);
      ctx.setLineDash(m.central ? [] : [6, 4]);
      circle(ctx, m.x, m.y, Math.max(m.r, 3));
      ctx.stroke();
    }
    ctx.setLineDash([]);
    const markers = [
      ...(this.showUnscored ? markersOnSlice(this.unscored(), t, slice, spacing) : []),
      ...markersOnSlice(this.scored(), t, slice, spacing),
    ];
    for (const m of markers) {
      const rgb = m.item.prob === null ? UNSCORED_RGB : probColor(m.item.prob);
      if (m.item.diameterMm > 0) {
        ctx.strokeStyle = cssRgb(rgb);
        ctx.lineWidth = 1.5;
        circle(ctx, m.x, m.y, m.r);
        ctx.stroke();
      }
      if (m.central) {
        ctx.fillStyle = cssRgb(rgb);
        circle(ctx, m.x, m.y, m.item.prob === null ? 2.5 : 5);
        ctx.fill();
      }
    }
  }

  /** The slice through the window, as an image one pixel per voxel (cached while unchanged). */
  private greyImage(l: Loaded, g: PlaneGeometry, slice: number): HTMLCanvasElement {
    const key = `${l.record.seriesUid}|${g.plane}|${slice}|${this.wl.window}|${this.wl.level}`;
    if (this.greyCache?.key === key) return this.greyCache.image;
    if (this.lut?.wl !== this.wl) this.lut = { wl: this.wl, table: windowLut(this.wl) };
    const plane = extractPlane(l.voxels, l.record.shape, g, slice);
    const image = this.greyCache?.image ?? document.createElement('canvas');
    image.width = g.width;
    image.height = g.height;
    const data = new ImageData(g.width, g.height);
    planeToRgba(plane, this.lut.table, data.data);
    image.getContext('2d')!.putImageData(data, 0, 0);
    this.greyCache = { key, image };
    return image;
  }

  private _hoverText() {
    const h = this.hover;
    if (!h) return this.loaded ? 'Hover over the image for coordinates and HU.' : '';
    const f = (v: readonly number[], d: number) => v.map((x) => x.toFixed(d)).join(', ');
    const near = h.near
      ? ` · nearest candidate ${h.near.distanceMm.toFixed(1)} mm away: label ${h.near.label}, p ${h.near.prob === null ? '–' : h.near.prob.toFixed(3)}`
      : '';
    return html`<span data-testid="hover-xyz">xyz ${f(h.xyz, 1)} mm</span> ·
      <span data-testid="hover-irc">irc ${h.irc.join(', ')}</span> ·
      <span data-testid="hover-hu">${h.hu === null ? 'outside' : `${h.hu} HU`}</span
      ><span data-testid="hover-near">${near}</span>`;
  }

  private _isPreset(name: keyof typeof WINDOW_PRESETS): boolean {
    const p = WINDOW_PRESETS[name];
    return p.window === this.wl.window && p.level === this.wl.level;
  }

  private _onSeries(e: Event) {
    this.seriesUid = (e.target as HTMLSelectElement).value || null;
  }

  private _onFocusRequest = (e: CustomEvent<{ seriesUid: string; xyz: Vec3 }>) => {
    void this.focusWorld(e.detail.seriesUid, e.detail.xyz);
  };

  private _setPlane(p: Plane) {
    this.plane = p;
    this.view = DEFAULT_VIEW;
  }

  private scrollSlices(step: number) {
    const g = this.planeGeom();
    if (!g) return;
    const next: [number, number, number] = [...this.cursor];
    next[g.normal] = Math.min(g.depth - 1, Math.max(0, next[g.normal] + step));
    this.cursor = next;
  }

  private zoomAt(factor: number, x: number, y: number) {
    const v = zoomAbout(this.viewParams(), factor, x, y);
    this.view = { zoom: v.zoom, panX: v.panX, panY: v.panY };
  }

  private _onWheel(e: WheelEvent) {
    if (!this.loaded) return;
    e.preventDefault();
    const [x, y] = this.local(e);
    if (e.ctrlKey || e.metaKey) this.zoomAt(e.deltaY < 0 ? 1.25 : 0.8, x, y);
    else this.scrollSlices(e.deltaY > 0 ? 1 : -1);
  }

  private _onKey(e: KeyboardEvent) {
    const steps: Record<string, number> = { ArrowUp: -1, ArrowDown: 1, PageUp: -10, PageDown: 10 };
    if (e.key in steps) this.scrollSlices(steps[e.key]);
    else if (e.key === '+' || e.key === '=') this.zoomAt(1.25, CANVAS_SIZE / 2, CANVAS_SIZE / 2);
    else if (e.key === '-') this.zoomAt(0.8, CANVAS_SIZE / 2, CANVAS_SIZE / 2);
    else if (e.key === '0') this.view = DEFAULT_VIEW;
    else return;
    e.preventDefault();
  }

  private _onDown(e: PointerEvent) {
    if (!this.loaded) return;
    this.canvas.focus();
    this.canvas.setPointerCapture?.(e.pointerId);
    const mode = e.shiftKey || e.button === 1 || e.button === 2 ? 'pan' : 'window';
    this.drag = { x: e.clientX, y: e.clientY, mode, wl: this.wl, view: this.view, moved: false };
  }

  private _onMove(e: PointerEvent) {
    const d = this.drag;
    if (d) {
      const dx = e.clientX - d.x;
      const dy = e.clientY - d.y;
      if (Math.abs(dx) + Math.abs(dy) > 2) d.moved = true;
      if (d.moved && d.mode === 'window') this.wl = dragWindowLevel(d.wl, dx, dy);
      if (d.moved && d.mode === 'pan') this.view = { ...d.view, panX: d.view.panX + dx, panY: d.view.panY + dy };
    }
    this.hover = this.hoverAt(...this.local(e));
  }

  private _onUp(e: PointerEvent) {
    const d = this.drag;
    this.drag = null;
    if (!d || d.moved) return;
    // A click without a drag moves the cursor to the voxel under it.
    const t = this.transform();
    const g = this.planeGeom();
    const l = this.loaded;
    if (!t || !g || !l) return;
    const irc = nearestVoxel(t.canvasToIrc(...this.local(e), this.cursor[g.normal]));
    if (voxelAt(l.voxels, l.record.shape, irc) !== null) this.cursor = [irc[0], irc[1], irc[2]];
  }

  private hoverAt(x: number, y: number): Hover | null {
    const t = this.transform();
    const g = this.planeGeom();
    const l = this.loaded;
    if (!t || !g || !l) return null;
    const exact = t.canvasToIrc(x, y, this.cursor[g.normal]);
    const irc = nearestVoxel(exact);
    const xyz = ircToXyz(exact, l.record);
    const scored = nearest(this.scored(), xyz);
    const any = scored ?? nearest(this.unscored(), xyz);
    return {
      xyz,
      irc,
      hu: voxelAt(l.voxels, l.record.shape, irc),
      near: any ? { label: any.item.label, prob: any.item.prob, distanceMm: any.distanceMm } : null,
    };
  }

  /** Event position in canvas px. */
  private local(e: MouseEvent): [number, number] {
    const r = this.canvas.getBoundingClientRect();
    return [((e.clientX - r.left) * CANVAS_SIZE) / r.width, ((e.clientY - r.top) * CANVAS_SIZE) / r.height];
  }
}

function circle(ctx: CanvasRenderingContext2D, x: number, y: number, r: number) {
  ctx.beginPath();
  ctx.arc(x, y, r, 0, 2 * Math.PI);
}

declare global {
  interface HTMLElementTagNameMap {
    'luna-ct-viewer': LunaCtViewer;
  }
}
