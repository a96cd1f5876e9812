/** Where the timings go (CallMetrics), in seconds. */
export interface TimingSink {
  firstAudio(seconds: number): void;
  responseLatency(seconds: number): void;
}

/**
 * How long one call's caller waits for the agent's voice: from the stream's start to the first
 * agent audio sent to Twilio, and from the end of each caller turn (`speech_stopped`) to the first
 * audio sent of a response created after it. Audio of an older response, greetings and prompts
 * that answer no turn are not replies; new caller speech abandons the wait. Pure: the call passes
 * the times in (monotonic ms).
 */
export class ResponseTiming {
  private firstPending = true;
  /** When the caller's last turn ended, while its reply has not been heard. */
  private turnEndedAt: number | null = null;
  /** The latest response created since that turn ended: its audio is the reply. */
  private replyId: string | null = null;

  constructor(
    private readonly startedAt: number,
    private readonly sink: TimingSink,
  ) {}

  /** Whether the next agent audio sent is timed: until then an audio delta costs no clock read. */
  get waiting(): boolean {
    return this.firstPending || this.replyId !== null;
  }

  callerStarted(): void {
    this.turnEndedAt = null;
    this.replyId = null;
  }

  callerStopped(at: number): void {
    this.turnEndedAt = at;
    this.replyId = null;
  }

  responseCreated(responseId: string): void {
    if (this.turnEndedAt !== null) this.replyId = responseId;
  }

  /** Agent audio of `responseId` was sent to Twilio at `at`. */
  agentAudioSent(responseId: string, at: number): void {
    if (this.firstPending) {
      this.firstPending = false;
      this.sink.firstAudio((at - this.startedAt) / 1000);
    }
    if (this.turnEndedAt !== null && responseId === this.replyId) {
      this.sink.responseLatency((at - this.turnEndedAt) / 1000);
      this.turnEndedAt = null;
      this.replyId = null;
    }
  }
}
