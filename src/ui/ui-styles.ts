/**
 * The look every lab component shares, written once: its buttons and selects, and its data
 * tables. A component adds these to its own `static styles`; the theme comes from the page's
 * custom properties (`--luna-border`, `--luna-accent`, `--luna-muted`), and a compact component
 * sets `--luna-control-padding`.
 */
import { css } from 'lit';

export const CONTROL_STYLES = css`
  button,
  select {
    background: #1f2a36;
    color: inherit;
    border: 1px solid var(--luna-border, #2a3440);
    border-radius: 6px;
    padding: var(--luna-control-padding, 6px 12px);
    font: inherit;
    cursor: pointer;
  }
  button.primary {
    border-color: var(--luna-accent, #7fb3ff);
  }
  button:hover:not([disabled]) {
    border-color: var(--luna-accent, #7fb3ff);
  }
  button:focus-visible,
  select:focus-visible {
    outline: 2px solid var(--luna-accent, #7fb3ff);
    outline-offset: 1px;
  }
  button[disabled] {
    opacity: 0.5;
    cursor: default;
  }
`;

export const TABLE_STYLES = css`
  table {
    width: 100%;
    border-collapse: collapse;
  }
  th,
  td {
    text-align: left;
    padding: var(--luna-cell-padding, 4px 6px);
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
`;
