/**
 * A headless run whose stdout is a pipe or a CI log is never silent for more than 10 s: the
 * Reporter (train.ts) on a simulated clock, its once-a-second timer driven by hand.
 */
import { describe, expect, it } from 'vitest';
import { Reporter } from './train.ts';
import { Heartbeat, QUIET_LIMIT_MS } from './progress.ts';

function piped(json: boolean) {
  let now = 0;
  let tick: () => void = () => {};
  const lines: { at: number; text: string }[] = [];
  const reporter = new Reporter(
    { out: (text) => lines.push({ at: now, text }), err: (text) => lines.push({ at: now, text: `stderr ${text}` }) },
    json,
    false, // not a terminal
    () => now,
    (f) => {
      tick = f;
      return () => (tick = () => {});
    },
  );
  /** Advance the clock to `to`, the timer firing each second, calling `each` every `step` ms. */
  const until = (to: number, step = 1000, each?: (t: number) => void) => {
    for (let t = now + step; t <= to; t += step) {
      now = t;
      each?.(t);
      if (t % 1000 === 0) tick();
    }
  };
  return { reporter, lines, until };
}

const step = (done: number, total = 100) =>
  `epoch 1/2 train [--] ${done}/${total} · 4.00 samples/s · ETA 10 s · loss 0.6931`;

describe('Reporter without a terminal', () => {
  it('prints a line at least every 10 s: the phase while starting, then spaced-out progress, then the stalled step', () => {
    const { reporter, lines, until } = piped(false);
    reporter.status('starting Chromium and the lab page');
    until(25_000);
    reporter.line('WebGPU adapter: SwiftShader');
    reporter.status('training: waiting for the first step');
    // Steps every 500 ms for 30 s: three progress lines, not sixty.
    let done = 0;
    until(55_000, 500, () => reporter.progress(step(++done)));
    reporter.progress(step(100), true); // a phase's last step is always shown
    // Then one step that takes 40 s.
    until(95_000);
    reporter.close();
    until(200_000); // closed: nothing more

    const texts = lines.map((l) => l.text);
    expect(texts[0]).toBe('starting Chromium and the lab page · no news for 10 s');
    expect(texts[1]).toBe('starting Chromium and the lab page · no news for 20 s');
    const progress = texts.filter((t) => t.startsWith('epoch 1/2 train') && !t.includes('no news'));
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress.length).toBeLessThanOrEqual(5);
    expect(texts).toContain(step(100));
    expect(texts.at(-1)).toBe(`${step(100)} · no news for 40 s`);
    // Never more than 10 s between lines while the run lasts (from 0 to 95 s).
    const times = [0, ...lines.map((l) => l.at), 95_000];
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(QUIET_LIMIT_MS);
    expect(lines.every((l) => !l.text.includes('\r'))).toBe(true); // plain lines, nothing rewritten
  });

  it('with --json, status events fill the quiet time between progress events', () => {
    const { reporter, lines, until } = piped(true);
    reporter.status('ingesting /data/luna16');
    until(21_000);
    reporter.event('progress', { done: 1, total: 2 });
    until(32_000);
    const events = lines.map((l) => JSON.parse(l.text) as { event: string; text?: string; quietSeconds?: number });
    expect(events.map((e) => e.event)).toEqual(['status', 'status', 'progress', 'status']);
    expect(events[1]).toEqual({ event: 'status', text: 'ingesting /data/luna16', quietSeconds: 20 });
    reporter.close();
  });
});

describe('Heartbeat', () => {
  it('asks for a line only after the quiet time, or when forced', () => {
    const h = new Heartbeat(0, 'starting', 10_000);
    expect(h.tick(9_999)).toBeNull();
    expect(h.tick(10_000)).toBe('starting · no news for 10 s');
    expect(h.news('epoch 1/1 train', 10_500)).toBe(true); // quiet since 0: print it
    h.printed(10_500);
    expect(h.news('epoch 1/1 train 2', 11_000)).toBe(false);
    expect(h.news('epoch 1/1 train 3', 11_500, true)).toBe(true);
    expect(h.tick(20_500)).toBe('epoch 1/1 train 3'); // quiet 10 s, news 9 s old: no stall note
    expect(h.quietSeconds(20_500)).toBe(9);
  });
});
