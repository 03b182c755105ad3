/**
 * The run's MLflow params and tags under the seed project's names (`model/n_block`,
 * `optimizer/lr`, `nodule/ratio`, …), so lab runs sit beside the PyTorch runs in one MLflow
 * UI; every lab setting is logged as well under `lab/<key>` so nothing of a run is unsaid.
 */
import { flattenConfig, type LabConfig } from '../config/lab-config.ts';
import type { MlflowParam } from './mlflow-client.ts';

export function seedParams(c: LabConfig): MlflowParam[] {
  const p: Record<string, string | number | boolean> = {
    model: 'LunaModel',
    'model/n_block': c.model.blocks,
    'model/width': c.model.width,
    'model/block_norm': c.model.blockNorm,
    'model/dropout': c.model.dropout,
    'model/dropout_rate': c.model.dropout === 'none' ? 0 : c.model.dropoutRate,
    optimizer: c.optimizer.name === 'sgd' ? 'SGD' : 'AdamW',
    'optimizer/lr': c.optimizer.lr,
    'optimizer/weight_decay': c.optimizer.weightDecay,
    lr_scheduler: c.scheduler.name === 'step' ? 'StepLR' : 'none',
    'nodule/ratio': c.sampling.ratio,
    epochs: c.train.epochs,
    batch_size: c.train.batchSize,
    seed: c.train.seed,
    'augmentation/flip': c.augment.flip,
    'augmentation/offset': c.augment.offset,
    'augmentation/scale': c.augment.scale,
    'augmentation/rotate': c.augment.rotate,
    'augmentation/noise': c.augment.noise,
  };
  if (c.optimizer.name === 'sgd') p['optimizer/momentum'] = c.optimizer.momentum;
  else p['optimizer/betas'] = `(${c.optimizer.beta1}, ${c.optimizer.beta2})`;
  if (c.scheduler.name === 'step') {
    p['lr_scheduler/gamma'] = c.scheduler.gamma;
    p['lr_scheduler/step_size'] = c.scheduler.stepSize;
  }
  const out: MlflowParam[] = Object.entries(p).map(([key, value]) => ({ key, value: String(value) }));
  // MLflow refuses empty param values: say what empty means.
  for (const [key, value] of Object.entries(flattenConfig(c))) {
    out.push({ key: `lab/${key}`, value: value !== '' ? value : key === 'data.subsets' ? '(all)' : '(none)' });
  }
  return out;
}
