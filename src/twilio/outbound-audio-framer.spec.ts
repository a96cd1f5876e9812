import fc from 'fast-check';
import { testAudio as bytes } from '../../test/support/test-audio';
import { BYTES_PER_MS, FRAME_BYTES, FRAME_MS } from '../common/mulaw';
import { OutboundAudioFramer } from './outbound-audio-framer';

function collector(): { frames: Buffer[]; sink: (frame: Buffer) => void } {
  const frames: Buffer[] = [];
  // Frames are views valid during the call only: keep a copy.
  return { frames, sink: (frame: Buffer) => frames.push(Buffer.from(frame)) };
}

describe('OutboundAudioFramer', () => {
  it('uses 20 ms mu-law frames of 160 bytes', () => {
    expect(FRAME_BYTES).toBe(160);
    expect(BYTES_PER_MS).toBe(8);
    expect(FRAME_MS).toBe(20);
  });

  it('starts with nothing pending', () => {
    expect(new OutboundAudioFramer().pendingBytes).toBe(0);
  });

  it('re-cuts odd-sized deltas into exact 160-byte frames, in order, nothing lost or duplicated', () => {
    const sizes = [333, 1, 159, 160, 161, 0, 7, 320];
    // cumulative: 333, 334, 493, 653, 814, 814, 821, 1141
    const expectedFrames = [2, 0, 1, 1, 1, 0, 0, 2];
    const expectedPending = [13, 14, 13, 13, 14, 14, 21, 21];
    const deltas = sizes.map((n, i) => bytes(n, 1000 + i));
    const framer = new OutboundAudioFramer();
    const { frames, sink } = collector();

    deltas.forEach((delta, i) => {
      const before = frames.length;
      const returned = framer.push(delta, sink);
      expect(returned).toBe(expectedFrames[i]);
      expect(frames.length - before).toBe(expectedFrames[i]);
      expect(framer.pendingBytes).toBe(expectedPending[i]);
    });

    for (const frame of frames) expect(frame.length).toBe(FRAME_BYTES);
    const input = Buffer.concat(deltas);
    expect(input.length).toBe(1141);
    expect(frames).toHaveLength(7);
    expect(Buffer.concat(frames).equals(input.subarray(0, 7 * FRAME_BYTES))).toBe(true);

    // The leftover 21 bytes go out padded with mu-law silence.
    expect(framer.flush(sink)).toBe(1);
    expect(frames).toHaveLength(8);
    const last = frames[7];
    expect(last.length).toBe(FRAME_BYTES);
    expect(last.subarray(0, 21).equals(input.subarray(7 * FRAME_BYTES))).toBe(true);
    expect(last.subarray(21).equals(Buffer.alloc(FRAME_BYTES - 21, 0xff))).toBe(true);
    expect(framer.pendingBytes).toBe(0);

    const padded = Buffer.concat([input, Buffer.alloc(8 * FRAME_BYTES - input.length, 0xff)]);
    expect(Buffer.concat(frames).equals(padded)).toBe(true);
  });

  it('keeps every byte in order across many pseudo-random delta sizes', () => {
    const framer = new OutboundAudioFramer();
    const { frames, sink } = collector();
    const deltas: Buffer[] = [];
    let seed = 7;
    let total = 0;
    let returnedTotal = 0;
    for (let i = 0; i < 300; i++) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      const size = seed % 521; // 0..520, includes 0, tiny and multi-frame deltas
      const delta = bytes(size, i + 1);
      deltas.push(delta);
      total += size;
      returnedTotal += framer.push(delta, sink);
      expect(framer.pendingBytes).toBe(total % FRAME_BYTES);
      expect(frames.length).toBe(Math.floor(total / FRAME_BYTES));
    }
    expect(returnedTotal).toBe(frames.length);
    const input = Buffer.concat(deltas);
    const whole = Math.floor(input.length / FRAME_BYTES) * FRAME_BYTES;
    expect(Buffer.concat(frames).equals(input.subarray(0, whole))).toBe(true);
  });

  it('emits an exact 160-byte delta unchanged, with nothing left over', () => {
    const framer = new OutboundAudioFramer();
    const { frames, sink } = collector();
    const delta = bytes(160, 42);
    expect(framer.push(delta, sink)).toBe(1);
    expect(frames).toHaveLength(1);
    expect(frames[0].equals(delta)).toBe(true);
    expect(framer.pendingBytes).toBe(0);
  });

  it('holds back a delta shorter than a frame and completes it with the next one', () => {
    const framer = new OutboundAudioFramer();
    const { frames, sink } = collector();
    const a = bytes(100, 1);
    const b = bytes(60, 2);
    expect(framer.push(a, sink)).toBe(0);
    expect(frames).toHaveLength(0);
    expect(framer.pendingBytes).toBe(100);
    expect(framer.push(b, sink)).toBe(1);
    expect(framer.pendingBytes).toBe(0);
    expect(frames[0].equals(Buffer.concat([a, b]))).toBe(true);
  });

  it('hands each frame over intact, even from the reused carry-over buffer', () => {
    const framer = new OutboundAudioFramer();
    // What a sink sees during the call, encoded right away as the bridge does.
    const emitted: string[] = [];
    const a = bytes(150, 3);
    const b = bytes(175, 4); // completes a frame from the carry, one direct frame, 5 bytes carried again
    const c = bytes(150, 5); // overwrites the rest of the carry buffer
    framer.push(a, (f) => emitted.push(f.toString('base64')));
    framer.push(b, (f) => emitted.push(f.toString('base64')));
    framer.push(c, (f) => emitted.push(f.toString('base64')));
    const all = Buffer.concat([a, b, c]);
    expect(emitted).toHaveLength(2);
    expect(Buffer.from(emitted[0], 'base64').equals(all.subarray(0, 160))).toBe(true);
    expect(Buffer.from(emitted[1], 'base64').equals(all.subarray(160, 320))).toBe(true);
    expect(framer.pendingBytes).toBe(all.length - 320);
  });

  it('ignores an empty delta', () => {
    const framer = new OutboundAudioFramer();
    const { frames, sink } = collector();
    expect(framer.push(Buffer.alloc(0), sink)).toBe(0);
    expect(framer.pendingBytes).toBe(0);
    framer.push(bytes(5, 9), sink);
    expect(framer.push(Buffer.alloc(0), sink)).toBe(0);
    expect(framer.pendingBytes).toBe(5);
    expect(frames).toHaveLength(0);
  });

  describe('flush', () => {
    it('returns 0 and emits nothing when nothing is pending', () => {
      const framer = new OutboundAudioFramer();
      const sink = jest.fn();
      expect(framer.flush(sink)).toBe(0);
      expect(sink).not.toHaveBeenCalled();
    });

    it('returns 0 and emits nothing after whole frames only', () => {
      const framer = new OutboundAudioFramer();
      const { frames, sink } = collector();
      framer.push(bytes(320, 8), sink);
      expect(frames).toHaveLength(2);
      const flushSink = jest.fn();
      expect(framer.flush(flushSink)).toBe(0);
      expect(flushSink).not.toHaveBeenCalled();
    });

    it('pads a single leftover byte with 0xFF to a full frame and returns 1', () => {
      const framer = new OutboundAudioFramer();
      const { frames, sink } = collector();
      framer.push(Buffer.from([0x12]), sink);
      expect(framer.pendingBytes).toBe(1);
      expect(framer.flush(sink)).toBe(1);
      expect(frames).toHaveLength(1);
      const expected = Buffer.alloc(FRAME_BYTES, 0xff);
      expected[0] = 0x12;
      expect(frames[0].equals(expected)).toBe(true);
      expect(framer.pendingBytes).toBe(0);
    });

    it('pads 159 leftover bytes with a single 0xFF', () => {
      const framer = new OutboundAudioFramer();
      const { frames, sink } = collector();
      const a = bytes(159, 11);
      framer.push(a, sink);
      expect(framer.flush(sink)).toBe(1);
      expect(frames[0].equals(Buffer.concat([a, Buffer.from([0xff])]))).toBe(true);
    });

    it('is a no-op when called twice', () => {
      const framer = new OutboundAudioFramer();
      const { frames, sink } = collector();
      framer.push(bytes(10, 12), sink);
      expect(framer.flush(sink)).toBe(1);
      expect(framer.flush(sink)).toBe(0);
      expect(frames).toHaveLength(1);
    });

    it('leaves no stale bytes or padding behind for the next item', () => {
      const framer = new OutboundAudioFramer();
      const { frames, sink } = collector();
      framer.push(bytes(10, 13), sink);
      framer.flush(sink);
      const next = bytes(170, 14);
      expect(framer.push(next, sink)).toBe(1);
      expect(frames[1].equals(next.subarray(0, 160))).toBe(true);
      expect(framer.pendingBytes).toBe(10);
      expect(framer.flush(sink)).toBe(1);
      expect(frames[2].equals(Buffer.concat([next.subarray(160), Buffer.alloc(150, 0xff)]))).toBe(true);
    });
  });

  describe('reset', () => {
    it('drops the leftover so it is never sent', () => {
      const framer = new OutboundAudioFramer();
      const { frames, sink } = collector();
      framer.push(bytes(100, 20), sink);
      expect(framer.pendingBytes).toBe(100);
      framer.reset();
      expect(framer.pendingBytes).toBe(0);
      expect(framer.flush(sink)).toBe(0);
      expect(frames).toHaveLength(0);
    });

    it('starts the next frame with the new audio only', () => {
      const framer = new OutboundAudioFramer();
      const { frames, sink } = collector();
      framer.push(bytes(250, 21), sink); // one frame out, 90 carried
      expect(frames).toHaveLength(1);
      framer.reset();
      const fresh = bytes(200, 22);
      expect(framer.push(fresh, sink)).toBe(1);
      expect(frames[1].equals(fresh.subarray(0, 160))).toBe(true);
      expect(framer.pendingBytes).toBe(40);
      expect(framer.flush(sink)).toBe(1);
      expect(frames[2].equals(Buffer.concat([fresh.subarray(160), Buffer.alloc(120, 0xff)]))).toBe(true);
    });

    it('is harmless when nothing is pending', () => {
      const framer = new OutboundAudioFramer();
      const { frames, sink } = collector();
      framer.reset();
      expect(framer.pendingBytes).toBe(0);
      const a = bytes(160, 23);
      expect(framer.push(a, sink)).toBe(1);
      expect(frames[0].equals(a)).toBe(true);
    });
  });

  it('never holds more than a partial frame, whatever the deltas, flushes and resets: every other byte is sent at once', () => {
    const step = fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: 0, max: 2000 }).map((n) => ({ push: n })) },
      { weight: 1, arbitrary: fc.constant({ flush: true }) },
      { weight: 1, arbitrary: fc.constant({ reset: true }) },
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 100 }), (steps) => {
        const framer = new OutboundAudioFramer();
        let sent = 0;
        const sink = (frame: Buffer) => void (sent += frame.length);
        for (const s of steps) {
          const before = framer.pendingBytes;
          if ('push' in s) {
            const sentBefore = sent;
            framer.push(Buffer.alloc(s.push, 1), sink);
            // Whole frames leave at once; only the remainder stays.
            expect(framer.pendingBytes).toBe((before + s.push) % FRAME_BYTES);
            expect(sent - sentBefore).toBe(before + s.push - framer.pendingBytes);
          } else if ('flush' in s) {
            framer.flush(sink);
          } else {
            framer.reset();
          }
          expect(framer.pendingBytes).toBeLessThan(FRAME_BYTES);
        }
      }),
      { numRuns: 300 },
    );
  });
});
