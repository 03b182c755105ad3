import { describe, expect, it } from 'vitest';
import { openableLabUrl, parseArgs, parseTriple, parseInteger, parseChoice, UsageError, helpText } from './args.ts';

describe('parseArgs', () => {
  it('parses a command with positionals and options', () => {
    const a = parseArgs(['crop', 'scan.mhd', '--xyz', '1,2,3', '--json']);
    expect(a.command).toBe('crop');
    expect(a.positionals).toEqual(['scan.mhd']);
    expect(a.values).toMatchObject({ xyz: '1,2,3', json: true });
  });

  it('lists the commands for an unknown one', () => {
    expect(() => parseArgs(['trian'])).toThrow(
      /Unknown command 'trian'. Expecting one of: inspect, crop, synth, eval, mlflow, url, train, sweep, bench/,
    );
  });

  it('rejects unknown options, repeated single values and missing positionals', () => {
    expect(() => parseArgs(['inspect', 'x', '--jsn'])).toThrow(UsageError);
    expect(() => parseArgs(['synth', '--out', 'a', '--out', 'b'])).toThrow(/single value for option --out/);
    expect(() => parseArgs(['inspect'])).toThrow(/Missing PATH/);
    expect(() => parseArgs(['inspect', 'a', 'b'])).toThrow(/Unexpected argument 'b'/);
  });

  it('gives help for the program and for each command', () => {
    expect(parseArgs([]).command).toBe('help');
    expect(parseArgs(['synth', '--help'])).toMatchObject({ command: 'help', positionals: ['synth'] });
    expect(helpText('synth')).toMatch(/Examples:/);
  });
});

describe('negative numbers as option values', () => {
  it('takes "--xyz -57.9,-12.1,-60.9" and "--lr -1" as values, not as options', () => {
    expect(parseArgs(['crop', 'scan.mhd', '--xyz', '-57.9,-12.1,-60.9']).values.xyz).toBe('-57.9,-12.1,-60.9');
    expect(parseArgs(['train', '--lr', '-1', '--data', 'd']).values).toMatchObject({ lr: '-1', data: 'd' });
    expect(parseArgs(['train', '--lr', '-.5']).values.lr).toBe('-.5');
    expect(parseArgs(['train', '--lr', '-1e-3']).values.lr).toBe('-1e-3');
    expect(parseArgs(['crop', 'x', '--xyz=-1,2,3']).values.xyz).toBe('-1,2,3');
  });

  it('still refuses a missing value and an unknown option; leaves what follows "--" alone', () => {
    expect(() => parseArgs(['crop', 'x', '--xyz', '--json'])).toThrow(UsageError);
    expect(() => parseArgs(['inspect', 'x', '-5'])).toThrow(UsageError);
    expect(() => parseArgs(['synth', '--out', 'x', '--scans', '-y'])).toThrow(UsageError);
    expect(parseArgs(['inspect', '--', '-1.mhd']).positionals).toEqual(['-1.mhd']);
    // A boolean option takes no value: the number after it is not joined to it.
    expect(() => parseArgs(['inspect', 'x', '--json', '-1'])).toThrow(UsageError);
  });
});

describe('value parsing', () => {
  it('parses triples and names the option when they are bad', () => {
    expect(parseTriple('1.5,-2,3e1', 'xyz')).toEqual([1.5, -2, 30]);
    expect(() => parseTriple('1,2', 'xyz')).toThrow(/--xyz "1,2"/);
    expect(() => parseTriple('1,NaN,2', 'xyz')).toThrow(UsageError);
    expect(() => parseTriple('32,48,0', 'size', true)).toThrow(/positive integers/);
  });

  it('checks integer ranges and choices', () => {
    expect(parseInteger(undefined, 'scans', 4, 1, 10)).toBe(4);
    expect(parseInteger('7', 'scans', 4, 1, 10)).toBe(7);
    expect(() => parseInteger('0', 'scans', 4, 1, 10)).toThrow(/from 1 to 10/);
    expect(() => parseInteger('2.5', 'scans', 4, 1, 10)).toThrow(UsageError);
    expect(parseChoice('tiny', 'size', ['tiny', 'full'], 'full')).toBe('tiny');
    expect(() => parseChoice('huge', 'size', ['tiny', 'full'], 'full')).toThrow(/Expecting one of: tiny, full/);
  });
});

describe('openableLabUrl', () => {
  it("puts a headless run's hash on the npm start address, not the run's temporary port", () => {
    expect(openableLabUrl('http://127.0.0.1:38211/#v=2&model.blocks=2')).toBe(
      'http://127.0.0.1:4173/#v=2&model.blocks=2',
    );
    expect(openableLabUrl('nothing to open')).toBe('nothing to open');
  });
});
