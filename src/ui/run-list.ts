/**
 * `<luna-run-list>`: the lab's runs (kept in IndexedDB), newest first, with their final
 * validation metrics and their last LUNA16 evaluation (CPM, and whether it was on held-out
 * scans) side by side for comparison, and the actions each status allows. A fine-tuned run
 * names its source (a run of this list by its name, else the source as given) and depth.
 *
 * @fires run-select - detail: `{ runId }`
 * @fires run-resume - detail: `{ runId }` (continue an interrupted or stopped run)
 * @fires run-continue - detail: `{ runId, epochs }` (train a finished run for more epochs)
 * @fires run-delete - detail: `{ runId }` (after the user confirmed)
 * @fires run-push - detail: `{ runId }` (send a run kept in this browser to the tracking server)
 * @fires run-inspect - detail: `{ runId }` (show its predictions in the Inspect section)
 */
import { LitElement, css, html } from 'lit';
import { CONTROL_STYLES, TABLE_STYLES } from './ui-styles.ts';
import { customElement, property } from 'lit/decorators.js';
import type { RunRecord } from '../store/records.ts';

const fmt = (v: number | undefined, digits = 3) => (v === undefined || Number.isNaN(v) ? '–' : v.toFixed(digits));

export function lastValues(run: RunRecord, prefix: 'training' | 'validating'): Record<string, number> {
  for (let i = run.history.length - 1; i >= 0; i--) {
    const v = run.history[i].values;
    if (Object.keys(v).some((k) => k.startsWith(prefix + '/'))) return v;
  }
  return {};
}

@customElement('luna-run-list')
export class LunaRunList extends LitElement {
  @property({ attribute: false }) runs: RunRecord[] = [];
  @property() selected: string | null = null;
  /** The run training in this page right now (its actions are the panel's). */
  @property() active: string | null = null;
  /** A tracking server is set, so untracked runs can be pushed to it. */
  @property({ type: Boolean }) canPush = false;

  static override styles = css`
    ${CONTROL_STYLES}
    ${TABLE_STYLES}
    :host {
      display: block;
      font-size: 13px;
    }
    tr.selected {
      background: rgba(127, 179, 255, 0.08);
    }
    tr {
      cursor: pointer;
    }
    .status-failed,
    .status-interrupted {
      color: var(--luna-error, #ff7b72);
    }
    .status-finished {
      color: var(--luna-ok, #7ad17a);
    }
    .status-running,
    .status-paused {
      color: var(--luna-accent, #7fb3ff);
    }
    button {
      font-size: 12px;
    }
    :host {
      --luna-control-padding: 2px 8px;
    }
    .err {
      color: var(--luna-error, #ff7b72);
      font-size: 12px;
    }
    .from {
      color: var(--luna-muted, #9aa5b1);
      font-size: 12px;
    }
  `;

  private _renderSource(r: RunRecord) {
    const f = r.config.finetune;
    if (!f?.from) return '';
    const source = this.runs.find((s) => s.runId === f.from);
    return html`<div class="from" data-testid="run-from" data-from=${f.from}>
      ${f.depth === 0 ? 'continued' : 'fine-tuned'} from
      ${source ? `“${source.name}”` : f.from}${f.depth ? `, depth ${f.depth}` : ''}
    </div>`;
  }

  override render() {
    if (!this.runs.length) return html`<p data-testid="no-runs">No runs yet.</p>`;
    return html`<table>
      <thead>
        <tr>
          <th>run</th>
          <th>status</th>
          <th class="num">epochs</th>
          <th>backend</th>
          <th class="num">val loss</th>
          <th class="num">val F1</th>
          <th class="num">precision</th>
          <th class="num">recall</th>
          <th class="num">CPM</th>
          <th></th>
        </tr>
      </thead>
      <tbody>
        ${this.runs.map((r) => {
          const v = lastValues(r, 'validating');
          return html`<tr
            class=${r.runId === this.selected ? 'selected' : ''}
            data-testid="run-row"
            data-run=${r.runId}
            data-status=${r.status}
            @click=${() => this._emit('run-select', { runId: r.runId })}
          >
            <td>
              ${r.name}${this._renderSource(r)}${r.error ? html`<div class="err" data-testid="run-error">${r.error}</div>` : ''}
            </td>
            <td class="status-${r.status}" data-testid="run-status">${r.status}</td>
            <td class="num">${r.epochsDone}/${r.config.train.epochs}</td>
            <td>${r.backend ?? '–'}</td>
            <td class="num">${fmt(v['validating/loss/all'])}</td>
            <td class="num" data-testid="run-f1">${fmt(v['validating/pr/f1_score'])}</td>
            <td class="num">${fmt(v['validating/pr/precision'])}</td>
            <td class="num">${fmt(v['validating/pr/recall'])}</td>
            ${this._cpm(r)}
            <td>${this._actions(r)}</td>
          </tr>`;
        })}
      </tbody>
    </table>`;
  }

  /** The last evaluation's CPM; marked when training scans were among those scored. */
  private _cpm(r: RunRecord) {
    const e = r.eval;
    if (!e) return html`<td class="num" data-testid="run-cpm">–</td>`;
    const band = e.cpmBand
      ? `, ${Math.round(100 * e.cpmBand.confidence)}% band ${e.cpmBand.lower.toFixed(3)}–${e.cpmBand.upper.toFixed(3)}`
      : '';
    const title = `epoch ${e.epoch}, ${e.scans} scans (${e.scope === 'validation' ? 'validation series' : 'all scans'})${band}${e.trainingScans ? `; ${e.trainingScans} training scans among them` : '; held out'}`;
    return html`<td
      class="num"
      data-testid="run-cpm"
      data-cpm=${e.cpm}
      data-training-scans=${e.trainingScans}
      title=${title}
    >
      ${fmt(e.cpm)}${e.trainingScans ? html`<span class="err" title="training scans were scored: optimistic">*</span>` : ''}
    </td>`;
  }

  private _actions(r: RunRecord) {
    if (r.runId === this.active) return '';
    const stop = (e: Event) => e.stopPropagation();
    return html`<span @click=${stop}>
      ${
        ['interrupted', 'stopped', 'failed', 'paused', 'running'].includes(r.status)
          ? html`<button data-testid="run-resume" @click=${() => this._emit('run-resume', { runId: r.runId })}>
              resume
            </button>`
          : ''
      }
      ${
        r.status === 'finished'
          ? html`<button
              data-testid="run-continue"
              @click=${() => this._emit('run-continue', { runId: r.runId, epochs: 1 })}
            >
              +1 epoch
            </button>`
          : ''
      }
      ${
        this.canPush && !r.trackingQueued && !['running', 'paused'].includes(r.status)
          ? html`<button data-testid="run-push" @click=${() => this._emit('run-push', { runId: r.runId })}>
              push to MLflow
            </button>`
          : ''
      }
      ${
        r.predictions.length
          ? html`<button data-testid="run-inspect" @click=${() => this._emit('run-inspect', { runId: r.runId })}>
              inspect
            </button>`
          : ''
      }
      <button
        data-testid="run-delete"
        aria-label="Delete run ${r.name}"
        title="Delete this run and its checkpoint"
        @click=${() => this._delete(r)}
      >
        ✕
      </button>
    </span>`;
  }

  /** A run, its checkpoint and its predictions are gone for good: ask first. */
  private _delete(r: RunRecord) {
    if (!confirm(`Delete run “${r.name}” (${r.status}, ${r.epochsDone} epochs) and its checkpoint from this browser?`))
      return;
    this._emit('run-delete', { runId: r.runId });
  }

  private _emit(name: string, detail: object) {
    this.dispatchEvent(new CustomEvent(name, { detail, bubbles: true, composed: true }));
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'luna-run-list': LunaRunList;
  }
}
