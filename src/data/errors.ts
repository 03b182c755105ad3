/**
 * Errors a user can act on. Every reader throws `DataError` naming the file, the field, the
 * value and what was expected; callers show `message` as is. Anything else is a bug.
 */

export interface DataErrorDetails {
  /** The file the problem is in (a name or relative path). */
  file?: string;
  /** The header field, tag or CSV column at fault. */
  field?: string;
}

export class DataError extends Error {
  override name = 'DataError';
  readonly file?: string;
  readonly field?: string;
  constructor(message: string, details: DataErrorDetails = {}) {
    super(message);
    this.file = details.file;
    this.field = details.field;
  }
}

export function isDataError(e: unknown): e is DataError {
  return e instanceof Error && e.name === 'DataError';
}

/** A plain, structured-clonable error for crossing a worker boundary (comlink). */
export interface PlainError {
  name: string;
  message: string;
  file?: string;
  field?: string;
  stack?: string;
}

export function toPlainError(e: unknown): PlainError {
  if (e instanceof Error) {
    const { file, field } = e as Partial<DataError>;
    return { name: e.name, message: e.message, file, field, stack: e.stack };
  }
  return { name: 'Error', message: String(e) };
}
