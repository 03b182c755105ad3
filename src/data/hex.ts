/** Bytes as lower-case hex: digests, run ids and model ids all print the same way. */

export function toHex(bytes: ArrayBuffer | Uint8Array): string {
  return Array.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes), (b) =>
    b.toString(16).padStart(2, '0'),
  ).join('');
}

/** `n` random bytes (WebCrypto) as hex: ids, never anything a run's results depend on. */
export function randomHex(n: number): string {
  const a = new Uint8Array(n);
  crypto.getRandomValues(a);
  return toHex(a);
}
