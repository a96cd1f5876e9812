import type { Clock } from '../common/clock';

/**
 * The call's timeline: milliseconds since the media stream started, on Twilio's media clock.
 * Caller frames carry their own timestamps; anything else (agent audio sent, turns starting) is
 * placed at the newest caller timestamp plus the time elapsed since that frame arrived. Never
 * goes backwards, so jitter in frame arrival cannot reorder events.
 */
export class CallTimeline {
  private anchorMs = 0;
  private anchorAt: number;
  private last = 0;

  constructor(private readonly clock: Clock) {
    this.anchorAt = clock.now();
  }

  /** A caller frame stamped `timestampMs` has just arrived. */
  media(timestampMs: number): void {
    if (timestampMs < this.anchorMs) return;
    this.anchorMs = timestampMs;
    this.anchorAt = this.clock.now();
  }

  now(): number {
    const t = this.anchorMs + (this.clock.now() - this.anchorAt);
    if (t > this.last) this.last = t;
    return this.last;
  }
}
