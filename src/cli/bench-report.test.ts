import { describe, expect, it } from 'vitest';
import { mergeSections } from './bench-report.ts';

const FILE = [
  '# Luna Lab benchmarks',
  '',
  '- CPU: old',
  '',
  '## Ingest: one full-size scan',
  '',
  'old ingest',
  '',
  '## Scale: a subset0-sized zip — small-N run only',
  '',
  'old scale',
  '',
  '## CLI start-up',
  '',
  'kept',
  '',
].join('\n');

describe('mergeSections', () => {
  it('replaces the section of the same name, keeps the others in place, and names the machine', () => {
    const out = mergeSections(
      FILE,
      [{ title: 'Scale: a subset0-sized zip (89 scans)', markdown: 'new scale\n' }],
      '- CPU: new',
    );
    expect(out).toBe(
      [
        '# Luna Lab benchmarks',
        '',
        '- CPU: old',
        '',
        '## Ingest: one full-size scan',
        '',
        'old ingest',
        '',
        '## Scale: a subset0-sized zip (89 scans)',
        '',
        '- CPU: new',
        '',
        'new scale',
        '',
        '## CLI start-up',
        '',
        'kept',
        '',
      ].join('\n'),
    );
  });

  it('appends a section the file does not have yet, and replaces the last one up to the end', () => {
    const once = mergeSections(FILE, [{ title: 'Feed: crops', markdown: 'feed' }], 'm');
    expect(once.endsWith('## CLI start-up\n\nkept\n\n## Feed: crops\n\nm\n\nfeed\n')).toBe(true);
    const twice = mergeSections(once, [{ title: 'Feed: crops again', markdown: 'feed 2' }], 'm2');
    expect(twice.endsWith('kept\n\n## Feed: crops again\n\nm2\n\nfeed 2\n')).toBe(true);
    expect(twice.match(/## Feed/g)).toHaveLength(1);
  });
});
