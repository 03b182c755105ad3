/**
 * When a run validates: at epoch 1 (an early figure), every `cadence`th epoch, and the last
 * (the run's result). The one rule, for the trainer that validates and the CLI that waits for
 * the validation metrics of an epoch. Pure.
 */
export function isValidationEpoch(epoch: number, epochs: number, cadence: number): boolean {
  return epoch === 1 || epoch % cadence === 0 || epoch === epochs;
}
