/** HeadlessTrainer without a browser: what it reads of the flags `train` and `sweep` share. */
import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { parseArgs, UsageError } from './args.ts';
import { HeadlessTrainer } from './train.ts';

const io = { out: () => {}, err: () => {} };

describe('HeadlessTrainer.fromArgs', () => {
  it('reads the config, device, cache and data of the shared flags', async () => {
    const runs = await HeadlessTrainer.fromArgs(
      parseArgs(['sweep', '--grid', 'g.json', '--data', 'd', '--epochs', '3', '--device', 'cpu', '--cache', 'prof']),
      io,
    );
    expect(runs.config.train.epochs).toBe(3);
    expect(runs.device).toBe('cpu');
    expect(runs.profileDir).toBe(resolve('prof'));
    expect(HeadlessTrainer.EXIT.ok).toBe(0);
  });

  it('refuses a missing --data or a bad --device, and a run before the session is open', async () => {
    await expect(HeadlessTrainer.fromArgs(parseArgs(['sweep', '--grid', 'g.json']), io)).rejects.toThrow(UsageError);
    await expect(HeadlessTrainer.fromArgs(parseArgs(['sweep', '--data', 'd', '--device', 'tpu']), io)).rejects.toThrow(
      /Expecting one of/,
    );
    const runs = await HeadlessTrainer.fromArgs(parseArgs(['sweep', '--data', 'd']), io);
    await expect(runs.run({ config: runs.config, out: 'o', name: 'n', tags: [] })).rejects.toThrow(
      /open\(\) the session first/,
    );
  });
});
