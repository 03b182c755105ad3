/**
 * `<luna-ingest-progress>`: one line per file of the current drop with its state
 * (reading, stored, skipped, error) and, for errors, the reader's message.
 */
import { LitElement, css, html } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import type { FileProgress } from '../store/ingest.ts';

@customElement('luna-ingest-progress')
export class LunaIngestProgress extends LitElement {
  /** Latest state per file, in drop order. */
  @property({ attribute: false }) files: FileProgress[] = [];

  static override styles = css`
    :host {
      display: block;
      font-size: 13px;
    }
    summary {
      cursor: pointer;
      color: var(--luna-muted, #9aa5b1);
    }
    ul {
      list-style: none;
      margin: 6px 0 0;
      padding: 0;
      max-height: 240px;
      overflow: auto;
    }
    li {
      display: grid;
      grid-template-columns: 70px 1fr;
      gap: 8px;
      padding: 2px 0;
    }
    .status {
      font-weight: 600;
    }
    .reading {
      color: var(--luna-accent, #7fb3ff);
    }
    .stored {
      color: var(--luna-ok, #7ad17a);
    }
    .skipped {
      color: var(--luna-muted, #9aa5b1);
    }
    .error {
      color: var(--luna-error, #ff7b72);
    }
    .msg {
      grid-column: 2;
      white-space: pre-wrap;
    }
    .msg.error {
      color: var(--luna-error, #ff7b72);
    }
    /* "already cached" and other skips are not errors. */
    .msg.skipped {
      color: var(--luna-muted, #9aa5b1);
    }
    .msg.stored {
      color: var(--luna-warn, #e3b341);
    }
    .path {
      overflow-wrap: anywhere;
    }
  `;

  override render() {
    if (!this.files.length) return html``;
    const counts = { reading: 0, stored: 0, skipped: 0, error: 0 };
    for (const f of this.files) counts[f.status]++;
    const errorsFirst = [...this.files].sort((a, b) => Number(b.status === 'error') - Number(a.status === 'error'));
    return html`
      <details open>
        <summary data-testid="ingest-summary">
          ${this.files.length} files: ${counts.stored} stored, ${counts.reading} reading, ${counts.skipped} skipped,
          ${counts.error} with errors
        </summary>
        <ul data-testid="ingest-files">
          ${errorsFirst.map(
            (f) =>
              html`<li data-status=${f.status}>
                <span class="status ${f.status}">${f.status}</span><span class="path">${f.file}</span>
                ${
                  f.status === 'error' || f.status === 'skipped' || (f.status === 'stored' && f.warning)
                    ? html`<span class="msg ${f.status}" data-testid="file-message"
                        >${f.status === 'stored' ? `⚠ ${f.warning}` : (f.message ?? '')}</span
                      >`
                    : ''
                }
              </li>`,
          )}
        </ul>
      </details>
    `;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'luna-ingest-progress': LunaIngestProgress;
  }
}
