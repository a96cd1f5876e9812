/** μ-law caller frames that say which they are, so a test can check order and loss at the far end. */

export const FRAME_BYTES = 160;

/** `count` 20 ms frames stamped with their index (from `first`) in the first two bytes. */
export function callerFrames(count: number, first = 0): Buffer[] {
  return Array.from({ length: count }, (_, k) => {
    const frame = Buffer.alloc(FRAME_BYTES, 0x7f);
    frame.writeUInt16BE(first + k, 0);
    return frame;
  });
}

/** The stamps of the whole frames in `audio`, in order. */
export function frameIds(audio: Buffer): number[] {
  const ids: number[] = [];
  for (let o = 0; o + FRAME_BYTES <= audio.length; o += FRAME_BYTES) ids.push(audio.readUInt16BE(o));
  return ids;
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, k) => from + k);
}
