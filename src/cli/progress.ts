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
