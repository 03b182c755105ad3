/**
 * `<luna-config-form>`: the run config as a form, generated from the schema table (FIELDS),
 * so a new setting appears here, in the group its row names, with its help, range and default
 * (src/config/field-hint.ts) under it, without touching this file. Text is parsed strictly; each
 * bad value is shown beside its field and no config is announced until all are resolved.
 *
 * @fires config-change - detail: `{ config: LabConfig | null, issues: ConfigIssue[] }`
 */
import { LitElement, css, html } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import {
  FIELDS,
  formatFieldValue,
  fieldValue,
  parseFieldText,
  resolveConfig,
  setPath,
  type ConfigIssue,
  type Field,
  type LabConfig,
} from '../config/lab-config.ts';
import { fieldHint } from '../config/field-hint.ts';

@customElement('luna-config-form')
export class LunaConfigForm extends LitElement {
  /** The config the form starts from (and returns to when set again). */
  @property({ attribute: false }) config: LabConfig | null = null;
  @property({ type: Boolean }) disabled = false;
  @state() private texts = new Map<string, string>();
  @state() private issues: ConfigIssue[] = [];

  static override styles = css`
    :host {
      display: block;
      font-size: 13px;
    }
    .groups {
      display: grid;
      grid-template-columns: repeat(auto-fill, minmax(250px, 1fr));
      gap: 10px 18px;
    }
    fieldset {
      border: 1px solid var(--luna-border, #2a3440);
      border-radius: 8px;
      padding: 6px 10px 10px;
      margin: 0;
    }
    legend {
      color: var(--luna-muted, #9aa5b1);
      padding: 0 4px;
    }
    .field {
      display: grid;
      grid-template-columns: minmax(0, 1fr) 110px;
      gap: 2px 6px;
      align-items: center;
      margin-top: 6px;
    }
    label {
      overflow-wrap: anywhere;
    }
    .hint {
      grid-column: 1 / -1;
      color: var(--luna-muted, #9aa5b1);
      font-size: 11px;
      line-height: 1.3;
    }
    input[type='text'],
    select {
      width: 100%;
      box-sizing: border-box;
      background: #0f1419;
      color: inherit;
      border: 1px solid var(--luna-border, #2a3440);
      border-radius: 4px;
      padding: 3px 5px;
      font: inherit;
    }
    input.bad {
      border-color: var(--luna-error, #ff7b72);
    }
    .issue {
      grid-column: 1 / -1;
      color: var(--luna-error, #ff7b72);
      font-size: 12px;
    }
  `;

  override willUpdate(changed: Map<string, unknown>) {
    if (changed.has('config') && this.config) {
      this.texts = new Map(FIELDS.map((f) => [f.key, formatFieldValue(fieldValue(this.config!, f.key))]));
      this.issues = [];
    }
  }

  override render() {
    // Each row names its group; groups appear in the order of their first row.
    const groups = new Map<string, Field[]>();
    for (const f of FIELDS) groups.set(f.group, [...(groups.get(f.group) ?? []), f]);
    return html`<div class="groups">
      ${[...groups].map(
        ([name, fields]) =>
          html`<fieldset ?disabled=${this.disabled}>
            <legend>${name}</legend>
            ${fields.map((f) => this._renderField(f))}
          </fieldset>`,
      )}
    </div>`;
  }

  private _renderField(f: Field) {
    const text = this.texts.get(f.key) ?? '';
    const issue = this.issues.find((i) => i.key === f.key);
    const label = f.key.replace(/^(train|model|optimizer|scheduler|sampling|augment|data|tracking)\./, '');
    // ids are unique within this shadow root; the hint describes the control, the label names it.
    const id = `f-${f.key.replace(/\./g, '-')}`;
    const described = issue ? `${id}-hint ${id}-issue` : `${id}-hint`;
    let input;
    if (f.spec.kind === 'bool') {
      input = html`<input
        id=${id}
        type="checkbox"
        name=${f.key}
        aria-describedby=${described}
        .checked=${text === 'true'}
        @change=${(e: Event) => this._set(f, String((e.target as HTMLInputElement).checked))}
      />`;
    } else if (f.spec.kind === 'enum') {
      input = html`<select
        id=${id}
        name=${f.key}
        aria-describedby=${described}
        @change=${(e: Event) => this._set(f, (e.target as HTMLSelectElement).value)}
      >
        ${f.spec.choices.map((c) => html`<option value=${c} ?selected=${c === text}>${c}</option>`)}
      </select>`;
    } else {
      input = html`<input
        id=${id}
        type="text"
        name=${f.key}
        class=${issue ? 'bad' : ''}
        aria-describedby=${described}
        aria-invalid=${issue ? 'true' : 'false'}
        .value=${text}
        @change=${(e: Event) => this._set(f, (e.target as HTMLInputElement).value)}
      />`;
    }
    return html`<div class="field">
      <label for=${id}>${label}</label>${input}
      <span class="hint" id="${id}-hint">${fieldHint(f)}</span>
      ${issue ? html`<span class="issue" id="${id}-issue" data-testid="config-issue">${issue.reason}</span>` : ''}
    </div>`;
  }

  private async _set(f: Field, text: string) {
    this.texts = new Map(this.texts).set(f.key, text);
    const input: Record<string, unknown> = {};
    const issues: ConfigIssue[] = [];
    for (const field of FIELDS) {
      const t = this.texts.get(field.key) ?? '';
      const r = parseFieldText(field, t);
      if ('reason' in r) issues.push({ key: field.key, raw: t, reason: r.reason });
      else setPath(input, field.key, r.value);
    }
    const resolved = resolveConfig(input);
    this.issues = [...issues, ...resolved.issues.filter((i) => !issues.some((j) => j.key === i.key))];
    await this.updateComplete;
    this.dispatchEvent(
      new CustomEvent('config-change', {
        detail: { config: this.issues.length ? null : resolved.config, issues: this.issues },
        bubbles: true,
        composed: true,
      }),
    );
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'luna-config-form': LunaConfigForm;
  }
}
