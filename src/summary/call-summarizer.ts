import type { TranscriptTurn } from '../call-log/call-record';
import type { SummaryFailure } from '../call-log/call-summary';
import type { JobRequest } from '../crm/crm.port';

/** What a call's written summary is made from. No phone number of the call and no credential is in it. */
export interface SummaryRequest {
  readonly direction: 'inbound' | 'outbound';
  /** The business that answered (the call's profile). */
  readonly companyName: string;
  readonly transcript: readonly TranscriptTurn[];
  readonly jobRequest: JobRequest | undefined;
  readonly status: 'completed' | 'failed';
  /** As recorded: twilio_stop, hangup, transferred, caller_silent… */
  readonly endReason: string;
}

/**
 * Why a summary was not made, with what may be logged about it: never the call's content or the
 * model's words, only codes (an HTTP status, the API's error code).
 */
export class SummaryFailed extends Error {
  constructor(
    readonly reason: SummaryFailure,
    readonly facts: Readonly<Record<string, string | number | null>> = {},
  ) {
    super(`summary not made: ${reason}`);
    this.name = 'SummaryFailed';
  }
}

/**
 * The port to the text model that writes a call's summary: three short sentences, who called,
 * what about, what happens next. One attempt per call, never retried: a summary not made falls back
 * to the one-line summary.
 */
export abstract class CallSummarizer {
  /** The model that writes the summaries; null when summaries are off. */
  abstract readonly model: string | null;
  /**
   * The summary, trimmed to one line. Rejects with SummaryFailed when the model gave none (any other
   * error counts as `error`); stops, rejecting, when `signal` aborts.
   */
  abstract summarize(request: SummaryRequest, signal: AbortSignal): Promise<string>;
}

/** Summaries off: SUMMARY_ENABLED=false, or no OPENAI_API_KEY. Nothing is asked of any model. */
export class DisabledCallSummarizer extends CallSummarizer {
  readonly model = null;

  summarize(): Promise<string> {
    return Promise.reject(new Error('call summaries are off'));
  }
}
