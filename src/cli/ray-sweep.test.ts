import { describe, expect, it } from 'vitest';
import { runCli } from './run-cli.test-helper.ts';
import { bestTrial, parseTrialResources, type TrialResult } from './ray-sweep.ts';
import { parseTags } from './train.ts';

describe('parseTrialResources', () => {
  it('reads NAME=AMOUNT pairs; cpu and gpu are Ray’s CPU and GPU', () => {
    expect(parseTrialResources('cpu=1,gpu=0.25')).toEqual({ CPU: 1, GPU: 0.25 });
    expect(parseTrialResources('CPU=2, accelerator_type:H100=0.5')).toEqual({ CPU: 2, 'accelerator_type:H100': 0.5 });
    expect(parseTrialResources(undefined)).toEqual({ CPU: 1, GPU: 0 });
  });
  it('names a bad pair', () => {
    expect(() => parseTrialResources('cpu=1,gpu')).toThrow(
      '--trial-resources "cpu=1,gpu": "gpu" is not NAME=AMOUNT (for example cpu=1,gpu=0.25)',
    );
    expect(() => parseTrialResources('cpu=-1')).toThrow(/"cpu=-1" is not NAME=AMOUNT/);
    expect(() => parseTrialResources(',')).toThrow(/no resources named/);
  });
});

describe('bestTrial', () => {
  const t = (trial: string, status: TrialResult['status'], v: number | null): TrialResult => ({
    trial,
    point: {},
    status,
    error: null,
    runId: trial,
    out: null,
    epochs: 2,
    metrics: { m: v },
    history: [],
  });
  const trials = [
    t('a', 'finished', 0.5),
    t('b', 'stopped', 0.9),
    t('c', 'finished', 0.7),
    t('d', 'error', 0.95),
    t('e', 'finished', null),
  ];
  it('ranks finished trials by the metric, max or min', () => {
    expect(bestTrial(trials, 'm', 'max')?.trial).toBe('c');
    expect(bestTrial(trials, 'm', 'min')?.trial).toBe('a');
    expect(bestTrial([t('b', 'stopped', 1)], 'm', 'max')).toBeNull();
  });
});

describe('parseTags', () => {
  it('reads key=value;key=value', () => {
    expect(parseTags('mlflow.parentRunId=abc; luna.sweep=lr=0.1 x')).toEqual([
      { key: 'mlflow.parentRunId', value: 'abc' },
      { key: 'luna.sweep', value: 'lr=0.1 x' },
    ]);
    expect(parseTags(undefined)).toEqual([]);
    expect(() => parseTags('oops')).toThrow(
      '--tags "oops": expected KEY=VALUE, for example --tags mlflow.parentRunId=0123abcd',
    );
  });
});

describe('luna-lab sweep flags', () => {
  const run = async (argv: string[]) => {
    const { code, err } = await runCli(...argv);
    return { code, err };
  };
  it('refuses an unknown engine and Ray flags without --engine ray', async () => {
    expect(await run(['sweep', '--engine', 'slurm', '--grid', 'g.json', '--data', '.'])).toEqual({
      code: 2,
      err: "luna-lab: Invalid --engine 'slurm'. Expecting one of: local, ray",
    });
    expect(await run(['sweep', '--max-concurrent', '4', '--grid', 'g.json', '--data', '.'])).toEqual({
      code: 2,
      err: 'luna-lab: --max-concurrent needs --engine ray',
    });
  });
  it('checks --engine ray flags before starting anything', async () => {
    expect((await run(['sweep', '--engine', 'ray', '--data', '.'])).err).toMatch(/^luna-lab: Missing --grid FILE/);
    expect((await run(['sweep', '--engine', 'ray', '--resume', '/nonexistent/sweep'])).err).toBe(
      'luna-lab: --resume /nonexistent/sweep: no /nonexistent/sweep/ray-sweep.json (not the --out of a sweep on Ray)',
    );
  });
  it('--deliver takes a profile folder alone', async () => {
    expect((await run(['sweep', '--deliver', '/tmp'])).err).toBe('luna-lab: --deliver needs --engine ray');
    expect((await run(['sweep', '--engine', 'ray', '--deliver', '/tmp', '--grid', 'g.json'])).err).toBe(
      "luna-lab: --deliver sends a profile's tracking backlog only: drop --grid",
    );
    expect((await run(['sweep', '--engine', 'ray', '--deliver', '/nonexistent/slot-0'])).err).toBe(
      'luna-lab: --deliver /nonexistent/slot-0: no such profile folder',
    );
  });
});
