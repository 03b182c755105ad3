import { join, resolve } from 'node:path';

/** Where global setup writes e2e data (ignored by git; LUNA_E2E_DATA moves it). */
export const E2E_DATA = resolve(process.env.LUNA_E2E_DATA ?? join('.cache', 'e2e-data'));
export const SYNTH_GOOD = join(E2E_DATA, 'synth-good');
export const SYNTH_BROKEN = join(E2E_DATA, 'synth-broken');
/** Small scans for training tests: enough nodules for a meaningful validation F1. */
export const SYNTH_TRAIN = join(E2E_DATA, 'synth-train');
/** Tiny scans for the headless CLI tests (train, resume, sweep). */
export const SYNTH_CLI = join(E2E_DATA, 'synth-cli');
/** A folder with tables but no scans. */
export const NO_SCANS = join(E2E_DATA, 'no-scans');
/** The real CT samples beside the checkout; never copied into the project. */
export const CT_SAMPLES = resolve('..', 'shared', 'ct-samples');
/** The e2e MLflow server's database and artifacts (fresh for each test run). */
export const MLFLOW_DIR = join(E2E_DATA, 'mlflow');
