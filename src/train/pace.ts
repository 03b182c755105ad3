/**
 * A run's pace: samples per second in the current phase and the time left, from the steps as
 * they end. The rate restarts with each phase (or each epoch of training when validation was
 * skipped); the estimate counts validation in every remaining epoch, an upper bound when the
 * cadence skips some.
 */
import type { StepInfo } from '../model/nodule-classifier.ts';

const defaultNow = () => (globalThis.performance ?? Date).now();

export interface Pace {
  /** Samples due in this phase of this epoch. */
  total: number;
  samplesPerSecond: number;
  etaSeconds: number;
}

export class RunPace {
  private trainTotal = 0;
  private phaseTotal = 0;
  private phaseStart = 0;
  private lastPhase = '';

  constructor(
    private readonly epochs: number,
    /** Validation samples per validated epoch. */
    private readonly validationTotal: number,
    private readonly now: () => number = defaultNow,
  ) {}

  /** A training epoch of `trainTotal` samples begins. */
  startEpoch(trainTotal: number): void {
    this.trainTotal = trainTotal;
  }

  step(s: Pick<StepInfo, 'epoch' | 'phase' | 'samples' | 'stepSeconds'>): Pace {
    if (`${s.epoch}:${s.phase}` !== this.lastPhase) {
      this.lastPhase = `${s.epoch}:${s.phase}`;
      this.phaseStart = this.now() - s.stepSeconds * 1000;
      this.phaseTotal = s.phase === 'training' ? this.trainTotal : this.validationTotal;
    }
    const elapsed = (this.now() - this.phaseStart) / 1000;
    const rate = s.samples / Math.max(elapsed, 1e-9);
    const remainingEpochs = this.epochs - s.epoch;
    const perEpoch = this.trainTotal + this.validationTotal;
    const left =
      this.phaseTotal - s.samples + (s.phase === 'training' ? this.validationTotal : 0) + remainingEpochs * perEpoch;
    return { total: this.phaseTotal, samplesPerSecond: rate, etaSeconds: left / Math.max(rate, 1e-9) };
  }
}
