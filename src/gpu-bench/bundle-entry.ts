/**
 * The device bundle's entry (pack.ts bundles it into gpu-bench.mjs): the GPU bench, without the packer.
 */
import { runAsProcess } from './main.ts';

runAsProcess();
