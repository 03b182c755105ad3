/**
 * `<luna-dataset-panel>`: the cache at a glance — subsets, their series, each with its shape
 * and LUNA16 candidate/positive/annotation counts — with delete buttons. It renders the
 * `summary` it is given; deleting is announced, not done here.
 *
 * @fires delete-series - detail: `{ seriesUid }`
 * @fires delete-subset - detail: `{ subset }`
 */
import { LitElement, css, html } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { formatBytes } from '../store/quota.ts';
import type { DatasetSummary } from '../store/records.ts';

@customElement('luna-dataset-panel')
export class LunaDatasetPanel extends LitElement {
  @property({ attribute: false }) summary: DatasetSummary | null = null;

  static override styles = css`
    :host {
      display: block;
    }
    table {
      width: 100%;
      border-collapse: collapse;
      font-size: 13px;
    }
    th,
    td {
      text-align: left;
      padding: 4px 6px;
      border-bottom: 1px solid var(--luna-border, #2a3440);
    }
    th {
      color: var(--luna-muted, #9aa5b1);
      font-weight: 500;
    }
    td.num,
    th.num {
      text-align: right;
      font-variant-numeric: tabular-nums;
    }
    .uid {
      font-family: ui-monospace, monospace;
      font-size: 12px;
      overflow-wrap: anywhere;
    }
    .subset {
      margin: 14px 0 6px;
      display: flex;
      align-items: center;
      gap: 12px;
    }
    .subset h3 {
      margin: 0;
      font-size: 15px;
    }
    .warn {
      color: var(--luna-warn, #e3b341);
      font-size: 12px;
    }
    button.link {
      background: none;
      border: none;
      color: var(--luna-error, #ff7b72);
      cursor: pointer;
      padding: 0;
    }
    .empty {
      color: var(--luna-muted, #9aa5b1);
    }
  `;

  override render() {
    const s = this.summary;
    if (!s) return html`<p class="empty">Reading the cache…</p>`;
    if (!s.seriesCount) {
      return html`<p class="empty" data-testid="dataset-empty">
        No scans cached yet. Drop a LUNA16 subset, or load the synthetic demo.
        ${s.tableSeries ? html`<br />Tables cached for ${s.tableSeries} series.` : ''}
      </p>`;
    }
    return html`
      <p data-testid="dataset-totals">
        ${s.seriesCount} series in ${s.subsets.length} ${s.subsets.length === 1 ? 'group' : 'groups'},
        ${formatBytes(s.voxelBytes)} of voxels; tables cover ${s.tableSeries} series.
      </p>
      ${s.subsets.map(
        (g) => html`
          <div class="subset" data-testid="subset" data-subset=${g.subset}>
            <h3>${g.subset || '(no folder)'}</h3>
            <span>${g.series.length} series</span>
            <button class="link" @click=${() => this._emit('delete-subset', { subset: g.subset })}>delete</button>
          </div>
          <table>
            <thead>
              <tr>
                <th>series uid</th>
                <th>format</th>
                <th>shape (i×r×c)</th>
                <th class="num">candidates</th>
                <th class="num">positive</th>
                <th class="num">annotations</th>
                <th class="num">size</th>
                <th></th>
              </tr>
            </thead>
            <tbody>
              ${g.series.map(
                (r) =>
                  html`<tr data-testid="series-row" data-series=${r.seriesUid}>
                    <td class="uid">
                      ${r.seriesUid}
                      ${r.warnings.map((w) => html`<div class="warn" data-testid="series-warning">⚠ ${w}</div>`)}
                    </td>
                    <td>${r.format}</td>
                    <td>${r.shape.join('×')}</td>
                    <td class="num" data-testid="candidates">${r.candidates}</td>
                    <td class="num" data-testid="positives">${r.positives}</td>
                    <td class="num" data-testid="annotations">${r.annotations}</td>
                    <td class="num">${formatBytes(r.byteLength)}</td>
                    <td>
                      <button
                        class="link"
                        title="delete from cache"
                        @click=${() => this._emit('delete-series', { seriesUid: r.seriesUid })}
                      >
                        ✕
                      </button>
                    </td>
                  </tr>`,
              )}
            </tbody>
          </table>
        `,
      )}
    `;
  }

  private _emit(name: string, detail: object) {
    this.dispatchEvent(new CustomEvent(name, { detail, bubbles: true, composed: true }));
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'luna-dataset-panel': LunaDatasetPanel;
  }
}
