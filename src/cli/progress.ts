/**
 * The terminal's view of a headless run: a progress line per epoch phase (rewritten in place
 * on a TTY), a line per finished epoch, and with `--json` one JSON object per line instead.
 * Pure formatting here; train.ts decides when to print.
 */
import type { Progress } from '../train/trainer.ts';

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  // Round once, then split, so 119.6 s is "2 min 00 s", never "1 min 60 s".
  const s = Math.round(seconds);
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  const m = Math.round(seconds / 60);
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

export function bar(done: number, total: number, width = 24): string {
  const r = total > 0 ? done / total : 0;
  // Clamped: a negative count would make String.repeat throw, NaN would drop the bar.
  const f = Number.isFinite(r) ? Math.min(1, Math.max(0, r)) : 0;
  const full = Math.round(f * width);
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}]`;
}

export function progressLine(p: Progress): string {
  const phase = p.phase === 'training' ? 'train' : 'valid';
  return `epoch ${p.epoch}/${p.epochs} ${phase} ${bar(p.done, p.total)} ${p.done}/${p.total} · ${p.samplesPerSecond.toFixed(2)} samples/s · ETA ${formatDuration(p.etaSeconds)} · loss ${p.batchLoss.toFixed(4)}`;
}

// auc and auc_diameter: the malignancy task's only (src/model/roc.ts); absent keys are not shown.
const SHOWN = ['loss/all', 'correct/all', 'pr/precision', 'pr/recall', 'pr/f1_score', 'auc', 'auc_diameter'];

/** "epoch 2/5 · training loss/all 0.512 … · validating loss/all 0.498 …" */
export function epochLine(epoch: number, epochs: number, values: Record<string, number>): string {
  const part = (mode: string) => {
    const shown = SHOWN.filter((k) => `${mode}/${k}` in values).map((k) => `${k} ${values[`${mode}/${k}`].toFixed(4)}`);
    return shown.length ? ` · ${mode} ${shown.join(' ')}` : '';
  };
  return `epoch ${epoch}/${epochs} done${part('training')}${part('validating')}`;
}

/** The longest a headless command stays silent where no line is rewritten in place. */
export const QUIET_LIMIT_MS = 10_000;

/**
 * What keeps a piped or logged run's output alive (stdout not a terminal, a CI log): its latest
 * status — a progress line, or the phase it is in — printed when nothing has been printed for
 * `everyMs`, with how long there has been no news once a step (or ingest, or the browser's
 * start) takes longer than that. Pure: the caller passes the time and prints.
 */
export class Heartbeat {
  private lastLine: number;
  private lastNews: number;
  private status: string;

  constructor(
    now: number,
    status = 'starting',
    private readonly everyMs = QUIET_LIMIT_MS,
  ) {
    this.lastLine = now;
    this.lastNews = now;
    this.status = status;
  }

  /** A line was printed (any line): the quiet time starts again. */
  printed(now: number): void {
    this.lastLine = now;
  }

  /** New status; true when it should be printed now (quiet for `everyMs`, or `force`: a phase's last step). */
  news(text: string, now: number, force = false): boolean {
    this.status = text;
    this.lastNews = now;
    return force || now - this.lastLine >= this.everyMs;
  }

  /** On a timer: the line to print when it has been quiet for `everyMs`, else null. */
  tick(now: number): string | null {
    if (now - this.lastLine < this.everyMs) return null;
    const stalled = now - this.lastNews;
    return stalled >= this.everyMs ? `${this.status} · no news for ${formatDuration(stalled / 1000)}` : this.status;
  }

  /** Seconds since the last news (for JSON status lines). */
  quietSeconds(now: number): number {
    return Math.round((now - this.lastNews) / 1000);
  }

  get text(): string {
    return this.status;
  }
}
