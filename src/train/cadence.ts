/**
 * When a run validates: at epoch 1 (an early read of the model), every `validationCadence`-th
 * epoch, and at the last, so a run always ends with validation metrics. The trainer and the
 * CLI's epoch lines both ask here.
 */
import type { LabConfig } from '../config/lab-config.ts';

export function isValidationEpoch(
  epoch: number,
  train: Pick<LabConfig['train'], 'epochs' | 'validationCadence'>,
): boolean {
  return epoch === 1 || epoch % train.validationCadence === 0 || epoch === train.epochs;
}
