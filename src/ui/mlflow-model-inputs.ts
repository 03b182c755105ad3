/**
 * The page's two inputs for an MLflow model — its URI (`models:/NAME/VERSION`,
 * `runs:/<id>/model`) and the tracking server it is read from — as one lit template, so the
 * evaluation and Inspect panels look, accept and refuse alike. A URI is checked as it is typed
 * with `parseMlflowModelUri` (src/train/model-source.ts), the parse every reader of MLflow
 * models uses, and why it is refused is shown under the inputs in that parse's words.
 *
 * Test ids (the e2e specs use them): `${prefix}-model-uri`, `${prefix}-model-server`, and
 * `${prefix}-model-uri-issue` while the URI is refused.
 */
import { css, html, type TemplateResult } from 'lit';
import { parseMlflowModelUri } from '../train/model-source.ts';
import { decodeLabUrl } from '../config/lab-url.ts';

/** For the panel's `static styles`: the refusal on a line of its own under the inputs (a wrapping flex row). */
export const MLFLOW_MODEL_INPUT_STYLES = css`
  .model-uri-issue {
    flex-basis: 100%;
    color: var(--luna-error, #ff7b72);
    font-size: 13px;
  }
`;

export interface MlflowModelInputsOptions {
  /** The panel's test-id prefix ('eval', 'inspect'). */
  prefix: string;
  uri: string;
  server: string;
  disabled: boolean;
  /** The URI as typed (trimmed). */
  onUri: (uri: string) => void;
  /** The server as typed (trimmed). */
  onServer: (server: string) => void;
}

/** Why `uri` is not an MLflow model URI (the parse's message), or null when it is one. */
export function mlflowUriIssue(uri: string): string | null {
  try {
    parseMlflowModelUri(uri);
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/** A model can be read: its URI parses and a server is given. */
export function mlflowModelReady(uri: string, server: string): boolean {
  return server !== '' && mlflowUriIssue(uri) === null;
}

/** The URI input, the server input and, for a typed URI that is refused, why. */
export function mlflowModelInputs(o: MlflowModelInputsOptions): TemplateResult {
  const value = (e: Event) => (e.target as HTMLInputElement).value.trim();
  // Nothing typed yet is not an error: the panel's button just stays disabled.
  const issue = o.uri ? mlflowUriIssue(o.uri) : null;
  return html`<input
      data-testid=${`${o.prefix}-model-uri`}
      aria-label="MLflow model URI"
      placeholder="models:/NAME/1"
      title="an MLflow model: models:/NAME/VERSION or runs:/<run id>/model"
      .value=${o.uri}
      ?disabled=${o.disabled}
      @input=${(e: Event) => o.onUri(value(e))}
    />
    <input
      data-testid=${`${o.prefix}-model-server`}
      aria-label="MLflow server"
      placeholder="http://127.0.0.1:5000"
      title="the MLflow server the model is read from"
      .value=${o.server}
      ?disabled=${o.disabled}
      @input=${(e: Event) => o.onServer(value(e))}
    />
    ${issue ? html`<span class="model-uri-issue" data-testid=${`${o.prefix}-model-uri-issue`}>${issue}</span>` : ''}`;
}

/** The tracking server the page's lab URL names ('' when none or the URL does not decode): the inputs' default. */
export function pageServer(): string {
  const { config, issues } = decodeLabUrl(location.hash);
  return issues.length ? '' : config.tracking.server;
}
