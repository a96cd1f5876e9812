export type SilenceAction = 'ask' | 'goodbye';

/**
 * Watches for a caller who says nothing. Silence is counted only while neither side is talking:
 * from the end of the agent's audio as played at Twilio, or from the end of the caller's speech.
 * The first silence of `limitMs` asks whether the caller is still there; a second one, with no
 * speech in between, says goodbye. Caller speech starts the sequence over, even after the
 * goodbye. Pure and clock-free: the caller passes the time in.
 */
export class SilenceMonitor {
  private quietSince: number | null;
  private agentTalking = false;
  private callerTalking = false;
  private asked = false;
  private done = false;
  private holding = false;

  /** Counting starts at `now` (the call has begun and nobody has spoken yet). `limitMs` 0 disables. */
  constructor(
    private readonly limitMs: number,
    now: number,
  ) {
    this.quietSince = limitMs > 0 ? now : null;
  }

  /** The agent has audio playing or a response in progress. */
  agentBusy(): void {
    this.agentTalking = true;
    this.quietSince = null;
  }

  /** The agent's last audio has played and no response is in progress. */
  agentQuiet(now: number): void {
    this.agentTalking = false;
    this.resume(now);
  }

  /** The caller is on hold (a warm transfer is ringing): silence is expected and not counted; off, counting starts again at `now`. */
  hold(on: boolean, now: number): void {
    this.holding = on;
    if (on) this.quietSince = null;
    else this.resume(now);
  }

  callerStarted(): void {
    this.callerTalking = true;
    this.asked = false;
    this.done = false;
    this.quietSince = null;
  }

  callerStopped(now: number): void {
    this.callerTalking = false;
    this.resume(now);
  }

  /** What to do now, if anything. Each action is returned once; counting resumes after the agent has spoken. */
  check(now: number): SilenceAction | null {
    if (this.quietSince === null || now - this.quietSince < this.limitMs) return null;
    this.quietSince = null;
    if (!this.asked) {
      this.asked = true;
      return 'ask';
    }
    this.done = true;
    return 'goodbye';
  }

  private resume(now: number): void {
    if (this.limitMs > 0 && !this.done && !this.holding && !this.agentTalking && !this.callerTalking) this.quietSince = now;
  }
}
