import type { Clock } from '../common/clock';

/**
 * What to do with the next agent audio message for Twilio: send it; drop it (over the bound); drop
 * it and say so (the first drop of an episode); end the call (over the bound for the stall timeout).
 */
export const SendVerdict = { Send: 0, Drop: 1, FirstDrop: 2, Stalled: 3 } as const;
export type SendVerdict = (typeof SendVerdict)[keyof typeof SendVerdict];

/**
 * Guards one call's Twilio socket against a peer that stops reading (a stalled connection, a
 * frozen proxy). Agent audio arrives in bursts faster than real time, but a healthy Twilio reads
 * it as fast as it comes, so bytes pile up in the socket only when the peer stops reading: then
 * agent audio is dropped while over the bound, and a stall that lasts ends the call. Memory per
 * call stays near the bound.
 */
export class SendBackpressure {
  /** Episodes of the socket being over the bound. */
  episodes = 0;
  /** Agent audio dropped, in milliseconds. */
  droppedAudioMs = 0;
  private overSince: number | null = null;

  constructor(
    private readonly maxBytes: number,
    private readonly stallTimeoutMs: number,
    private readonly clock: Clock,
  ) {}

  /**
   * `buffered`: the socket's bufferedAmount; `audioMs`: the audio about to be sent. Runs per
   * message: the usual case is one comparison.
   */
  check(buffered: number, audioMs: number): SendVerdict {
    if (buffered <= this.maxBytes && this.overSince === null) return SendVerdict.Send;
    const now = this.clock.now();
    if (buffered <= this.maxBytes) {
      this.overSince = null;
      return SendVerdict.Send;
    }
    this.droppedAudioMs += audioMs;
    if (this.overSince === null) {
      this.overSince = now;
      this.episodes++;
      return SendVerdict.FirstDrop;
    }
    return now - this.overSince >= this.stallTimeoutMs ? SendVerdict.Stalled : SendVerdict.Drop;
  }
}
