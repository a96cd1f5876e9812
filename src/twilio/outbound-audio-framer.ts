import { FRAME_BYTES, MULAW_SILENCE } from '../common/mulaw';

/** Receives each frame as a view that is valid only during the call: encode or copy it there. */
export type FrameSink = (frame: Buffer) => void;

/**
 * Re-cuts the agent's audio deltas, whatever their size, into whole 20 ms frames so Twilio
 * plays them without stutter. The partial frame left over from one delta waits for the next;
 * `flush` pads it with silence at the end of an item. Frames are handed over as views, without
 * copying; the carry-over uses one fixed buffer. That is this queue's bound: less than one frame
 * is ever held here, every whole frame goes to the sink at once.
 */
export class OutboundAudioFramer {
  private readonly carry = Buffer.alloc(FRAME_BYTES);
  private carried = 0;

  /** Bytes held back, waiting to complete a frame. */
  get pendingBytes(): number {
    return this.carried;
  }

  /** Emits the whole frames this delta completes; returns how many. */
  push(bytes: Buffer, sink: FrameSink): number {
    let offset = 0;
    let frames = 0;
    if (this.carried > 0) {
      const take = Math.min(FRAME_BYTES - this.carried, bytes.length);
      bytes.copy(this.carry, this.carried, 0, take);
      this.carried += take;
      offset = take;
      if (this.carried < FRAME_BYTES) return 0;
      sink(this.carry);
      this.carried = 0;
      frames++;
    }
    for (; offset + FRAME_BYTES <= bytes.length; offset += FRAME_BYTES) {
      sink(bytes.subarray(offset, offset + FRAME_BYTES));
      frames++;
    }
    if (offset < bytes.length) {
      this.carried = bytes.copy(this.carry, 0, offset);
    }
    return frames;
  }

  /** Pads and emits the leftover partial frame, if any; returns how many frames were emitted (0 or 1). */
  flush(sink: FrameSink): number {
    if (this.carried === 0) return 0;
    this.carry.fill(MULAW_SILENCE, this.carried);
    this.carried = 0;
    sink(this.carry);
    return 1;
  }

  /** Drops the leftover: after a barge-in it belongs to audio the caller must not hear. */
  reset(): void {
    this.carried = 0;
  }
}
