/**
 * The one place the lab's custom tfjs classes are registered for (de)serialization, so that
 * `model.save` / `tf.loadLayersModel` and optimizer configs round-trip. Importing this module
 * is its only effect (as tfjs's register_all_kernels); every module that builds or loads a
 * model imports it. Class names are prefixed where tfjs has a class of the same name
 * ('LunaDropout', not 'Dropout'), so tfjs's own layers stay loadable.
 */
import * as tf from '@tensorflow/tfjs';
import { BatchNorm3d } from './batch-norm-3d.ts';
import { Dropout, Dropout3d } from './dropout.ts';
import { TorchAdamW, TorchSgd } from './optimizers.ts';

tf.serialization.registerClass(BatchNorm3d);
tf.serialization.registerClass(Dropout);
tf.serialization.registerClass(Dropout3d);
tf.serialization.registerClass(TorchSgd);
tf.serialization.registerClass(TorchAdamW);
