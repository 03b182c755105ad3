import { describe, expect, it } from 'vitest';
import type { Progress } from '../train/trainer.ts';
import { bar, epochLine, formatDuration, progressLine } from './progress.ts';

describe('formatDuration', () => {
  it('seconds under 90 s, minutes and seconds under 90 min, then hours and minutes', () => {
    expect(formatDuration(0)).toBe('0 s');
    expect(formatDuration(4.4)).toBe('4 s');
    expect(formatDuration(89.4)).toBe('89 s');
    expect(formatDuration(90)).toBe('1 min 30 s');
    expect(formatDuration(125)).toBe('2 min 05 s');
    expect(formatDuration(5399)).toBe('89 min 59 s');
    expect(formatDuration(5400)).toBe('1 h 30 min');
    expect(formatDuration(3 * 3600 + 7 * 60)).toBe('3 h 07 min');
  });

  it('never shows 60 s or 60 min: rounding carries into the next unit', () => {
    expect(formatDuration(119.6)).toBe('2 min 00 s');
    expect(formatDuration(179.7)).toBe('3 min 00 s');
    expect(formatDuration(2 * 3600 - 10)).toBe('2 h 00 min');
    expect(formatDuration(5399.8)).toBe('1 h 30 min');
    expect(formatDuration(89.6)).toBe('1 min 30 s');
    for (let s = 0; s < 20_000; s += 0.7) expect(formatDuration(s)).not.toMatch(/ (min|h) 60 (s|min)$/);
  });

  it('unknown for negative, NaN and infinite estimates', () => {
    expect(formatDuration(-1)).toBe('?');
    expect(formatDuration(Number.NaN)).toBe('?');
    expect(formatDuration(Number.POSITIVE_INFINITY)).toBe('?');
  });
});

describe('bar', () => {
  it('fills in proportion, width 24 by default', () => {
    expect(bar(0, 10)).toBe(`[${'-'.repeat(24)}]`);
    expect(bar(5, 10)).toBe(`[${'#'.repeat(12)}${'-'.repeat(12)}]`);
    expect(bar(10, 10)).toBe(`[${'#'.repeat(24)}]`);
    expect(bar(1, 4, 8)).toBe('[##------]');
  });

  it('stays within its width whatever it is given', () => {
    expect(bar(20, 10, 4)).toBe('[####]');
    expect(bar(3, 0, 4)).toBe('[----]');
    expect(bar(-1, 10, 4)).toBe('[----]');
    expect(bar(Number.NaN, 10, 4)).toBe('[----]');
    expect(bar(1, Number.NaN, 4)).toBe('[----]');
  });
});

const progress: Progress = {
  runId: 'r1',
  epoch: 2,
  epochs: 5,
  phase: 'training',
  done: 64,
  total: 128,
  samplesSeen: 192,
  samplesPerSecond: 12.345,
  etaSeconds: 125,
  batchLoss: 0.693147,
  numTensors: 42,
};

describe('progressLine', () => {
  it('shows epoch, phase, bar, counts, speed, ETA and loss', () => {
    expect(progressLine(progress)).toBe(
      `epoch 2/5 train [${'#'.repeat(12)}${'-'.repeat(12)}] 64/128 · 12.35 samples/s · ETA 2 min 05 s · loss 0.6931`,
    );
    expect(progressLine({ ...progress, phase: 'validating', etaSeconds: Number.NaN })).toMatch(
      /^epoch 2\/5 valid \[.*ETA \? · loss/,
    );
  });
});

describe('epochLine', () => {
  const values = {
    'training/loss/all': 0.5,
    'training/correct/all': 0.75,
    'training/pr/f1_score': 0.6,
    'training/loss/pos': 9, // not shown
    'validating/loss/all': 0.25,
    'validating/pr/precision': 1,
    'validating/pr/recall': 0.125,
    'system/seconds': 3,
  };

  it('shows the chosen metrics of each phase, in a fixed order, to 4 decimals', () => {
    expect(epochLine(2, 5, values)).toBe(
      'epoch 2/5 done · training loss/all 0.5000 correct/all 0.7500 pr/f1_score 0.6000 · validating loss/all 0.2500 pr/precision 1.0000 pr/recall 0.1250',
    );
  });

  it('leaves a phase out when it has no values', () => {
    const training = Object.fromEntries(Object.entries(values).filter(([k]) => k.startsWith('training/')));
    const validating = Object.fromEntries(Object.entries(values).filter(([k]) => k.startsWith('validating/')));
    expect(epochLine(1, 3, training)).toBe(
      'epoch 1/3 done · training loss/all 0.5000 correct/all 0.7500 pr/f1_score 0.6000',
    );
    expect(epochLine(1, 3, validating)).toBe(
      'epoch 1/3 done · validating loss/all 0.2500 pr/precision 1.0000 pr/recall 0.1250',
    );
    expect(epochLine(1, 3, {})).toBe('epoch 1/3 done');
    expect(epochLine(1, 3, { 'training/loss/pos': 1 })).toBe('epoch 1/3 done');
  });

  it("shows the malignancy task's AUC and diameter baseline where a run has them", () => {
    expect(
      epochLine(1, 1, { 'validating/pr/f1_score': 0.5, 'validating/auc': 0.75, 'validating/auc_diameter': 0.625 }),
    ).toBe('epoch 1/1 done · validating pr/f1_score 0.5000 auc 0.7500 auc_diameter 0.6250');
  });
});
