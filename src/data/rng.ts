/**
 * The lab's only source of randomness: a small seeded generator (sfc32, seeded by hashing the
 * seed with cyrb128) that gives the same sequence in Node and in every browser, and whose
 * state is four plain numbers that a checkpoint can store and restore.
 *
 * Every random choice in the lab (splits, balancing, augmentation, synthetic data) comes from
 * one stream per purpose: `createRng(seed).fork('augment')` depends only on the seed and the
 * purpose, never on how much another stream has been used, so adding a draw in one place does
 * not shift the numbers anywhere else. Never Math.random.
 *
 * Integer steps (`next`, `int`, `pick`, `shuffle`) are exact 32-bit arithmetic, identical on
 * every engine. `normal` uses Math.log/cos; V8 (Node and Chromium) implements them with the
 * same fdlibm port, so they agree bit for bit there.
 */

/** Serializable generator state: plain numbers, safe for JSON and structured clone. */
export interface RngState {
  /** Hash of the seed: what `fork` derives child streams from. */
  readonly key: readonly [number, number, number, number];
  /** sfc32's four 32-bit words. */
  readonly s: readonly [number, number, number, number];
}

export interface Rng {
  /** Uniform in [0, 1), 32 bits of resolution. */
  next(): number;
  /** Uniform integer in [lo, hiExclusive). */
  int(lo: number, hiExclusive: number): number;
  /** Uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** Gaussian sample (Box-Muller). */
  normal(mean?: number, sd?: number): number;
  /** true with probability p. */
  chance(p: number): boolean;
  /** A uniformly chosen element; throws on an empty array. */
  pick<T>(items: readonly T[]): T;
  /** Fisher-Yates shuffle in place; returns the same array. */
  shuffle<T>(items: T[]): T[];
  /** An independent stream for `purpose`, a function of this stream's seed and `purpose` only. */
  fork(purpose: string): Rng;
  /** Snapshot of the current position (for checkpoints). */
  state(): RngState;
  /** Jump back to a snapshot taken with `state()` (from any generator). */
  restore(state: RngState): void;
}

const TWO_POW_32 = 4294967296;

/** cyrb128: a fast 128-bit string hash (public domain, bryc). Four uint32 words. */
function cyrb128(str: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < str.length; i++) {
    const k = str.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

/**
 * Numbers and strings hash into separate domains (a type tag in front), so `createRng(1)` and
 * `createRng('1')` are different streams; numbers go through their shortest decimal form,
 * so 1 and 1.0 are the same seed.
 */
function seedKey(seed: number | string): [number, number, number, number] {
  if (typeof seed === 'number') {
    if (!Number.isFinite(seed)) throw new RangeError(`rng seed must be finite, got ${seed}`);
    return cyrb128(`n:${seed}`);
  }
  return cyrb128(`s:${seed}`);
}

class Sfc32 implements Rng {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;
  private key: [number, number, number, number];

  constructor(key: [number, number, number, number]) {
    this.key = key;
    [this.a, this.b, this.c, this.d] = key;
    // Warm up so that similar keys diverge before the first output.
    for (let i = 0; i < 15; i++) this.u32();
  }

  private u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  next(): number {
    return this.u32() / TWO_POW_32;
  }

  int(lo: number, hiExclusive: number): number {
    if (!Number.isInteger(lo) || !Number.isInteger(hiExclusive) || hiExclusive <= lo) {
      throw new RangeError(`rng.int needs integers lo < hi, got [${lo}, ${hiExclusive})`);
    }
    const span = hiExclusive - lo;
    if (span > TWO_POW_32) throw new RangeError(`rng.int range too large: ${span}`);
    // Multiply-shift; the bias (span / 2^32) is far below anything the lab could notice.
    return lo + Math.floor(this.next() * span);
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  normal(mean = 0, sd = 1): number {
    // One Box-Muller pair per call, the spare discarded: the state stays four words.
    const u1 = 1 - this.next(); // (0, 1]: log never sees 0
    const u2 = this.next();
    return mean + sd * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('rng.pick from an empty array');
    return items[this.int(0, items.length)];
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i + 1);
      const t = items[i];
      items[i] = items[j];
      items[j] = t;
    }
    return items;
  }

  fork(purpose: string): Rng {
    return new Sfc32(cyrb128(`f:${this.key.join('.')}:${purpose}`));
  }

  state(): RngState {
    return {
      key: [this.key[0], this.key[1], this.key[2], this.key[3]],
      s: [this.a >>> 0, this.b >>> 0, this.c >>> 0, this.d >>> 0],
    };
  }

  restore(state: RngState): void {
    const words = [...state.key, ...state.s];
    if (words.length !== 8 || !words.every((w) => Number.isInteger(w) && w >= 0 && w < TWO_POW_32)) {
      throw new RangeError('rng.restore: state must hold 4 key and 4 state words, each a uint32');
    }
    this.key = [state.key[0], state.key[1], state.key[2], state.key[3]];
    [this.a, this.b, this.c, this.d] = [state.s[0] | 0, state.s[1] | 0, state.s[2] | 0, state.s[3] | 0];
  }
}

export function createRng(seed: number | string): Rng {
  return new Sfc32(seedKey(seed));
}

/** A generator positioned exactly at a saved state. */
export function rngFromState(state: RngState): Rng {
  const rng = new Sfc32([0, 0, 0, 0]);
  rng.restore(state);
  return rng;
}
