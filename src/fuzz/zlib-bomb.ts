/**
 * A zlib "bomb" written directly, without compressing anything: one fixed-Huffman deflate
 * block of a zero literal followed by <length 258, distance 1> matches, i.e. `size` zero bytes
 * in about size / 159 compressed bytes, with a correct Adler-32 trailer. Building a 512 MiB
 * bomb takes milliseconds and no memory beyond the ~3.4 MB stream. Pure.
 */

class BitWriter {
  private readonly bytes: Uint8Array;
  private at = 0;
  private bit = 0;
  constructor(capacity: number) {
    this.bytes = new Uint8Array(capacity);
  }
  /** `n` bits of `value`, least significant first (deflate's order for header fields). */
  bits(value: number, n: number): void {
    for (let i = 0; i < n; i++) this.put((value >>> i) & 1);
  }
  /** A Huffman code of `n` bits, most significant first (deflate's order for codes). */
  code(value: number, n: number): void {
    for (let i = n - 1; i >= 0; i--) this.put((value >>> i) & 1);
  }
  private put(b: number): void {
    if (b) this.bytes[this.at] |= 1 << this.bit;
    if (++this.bit === 8) {
      this.bit = 0;
      this.at++;
    }
  }
  /** The bytes written so far, the last one padded with zero bits. */
  finish(): Uint8Array {
    return this.bytes.slice(0, this.at + (this.bit > 0 ? 1 : 0));
  }
}

/** Adler-32 of `n` zero bytes: a stays 1, b gains 1 per byte. */
function adlerOfZeros(n: number): number {
  return ((n % 65521) * 65536 + 1) >>> 0;
}

/** A valid zlib stream that inflates to `size` zero bytes (size ≥ 1). */
export function zlibBomb(size: number): Uint8Array {
  const matches = Math.floor((size - 1) / 258);
  const tail = size - 1 - matches * 258; // 0..257 literals after the matches
  const w = new BitWriter(Math.ceil(((matches + 1) * 13 + tail * 8 + 32) / 8) + 16);
  w.bits(1, 1); // BFINAL
  w.bits(1, 2); // BTYPE 01: fixed Huffman codes
  w.code(0x30, 8); // literal 0 (codes 0-143 are 0x30 + value, 8 bits)
  for (let i = 0; i < matches; i++) {
    w.code(0xc5, 8); // length code 285 = 258: codes 280-287 are 0xc0 + (code - 280), 8 bits
    w.code(0, 5); // distance code 0 = distance 1, 5 bits
  }
  for (let i = 0; i < tail; i++) w.code(0x30, 8);
  w.code(0, 7); // end of block (256): 7 zero bits
  const deflate = w.finish();
  const out = new Uint8Array(2 + deflate.length + 4);
  out[0] = 0x78; // CM 8, 32 KiB window
  out[1] = 0x01; // FCHECK so that 0x7801 % 31 === 0, no dictionary, fastest
  out.set(deflate, 2);
  const adler = adlerOfZeros(size);
  out[out.length - 4] = adler >>> 24;
  out[out.length - 3] = (adler >>> 16) & 0xff;
  out[out.length - 2] = (adler >>> 8) & 0xff;
  out[out.length - 1] = adler & 0xff;
  return out;
}
