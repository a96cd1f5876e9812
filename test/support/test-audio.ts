/**
 * Deterministic audio bytes (xorshift32) that differ per seed and are never 0xff, mu-law silence,
 * so misplaced, reordered or duplicated audio shows, and so does audio where silence belongs.
 */
export function testAudio(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x % 0xff;
  }
  return out;
}
