import type { TranscriptTurn } from '../call-log/call-record';

/** The job the operator captured (save_job_request), normalised. */
export interface JobRequest {
  readonly callerName?: string;
  /** E.164; as heard (digits) when callbackNumberUnverified. */
  readonly callbackNumber?: string;
  /**
   * Set when the callback number did not validate even after the caller repeated it: saved as
   * heard so the lead is not lost, for a person to check before calling back.
   */
  readonly callbackNumberUnverified?: true;
  readonly serviceAddress?: string;
  readonly problem?: string;
  readonly urgency?: 'emergency' | 'urgent' | 'routine';
  readonly preferredTime?: string;
}

/** What a finished call hands to the CRM. */
export interface CallSummaryForCrm {
  readonly callSid: string;
  readonly from: string;
  readonly to: string;
  readonly direction: 'inbound' | 'outbound';
  /** Epoch ms. */
  readonly startedAt: number;
  readonly endedAt: number;
  readonly durationMs: number;
  /** completed | failed | ... as in the call log. */
  readonly status: string;
  readonly endReason: string;
  readonly transcript: readonly TranscriptTurn[];
  readonly jobRequest: JobRequest | undefined;
  /** A short plain-text summary for the CRM's call note. */
  readonly summary: string;
  /** Absolute URL of the recording (only when PUBLIC_BASE_URL is set). */
  readonly recordingUrl: string | undefined;
}

/**
 * The CRM as the call sees it. Implementations never throw into the call and never block audio:
 * they queue their work, retry it, and report failures in their own logs. Whether a job request
 * reached the CRM is written to the call record's `crm` state by the implementation.
 */
export abstract class CrmService {
  /** A call has started: look up or create the caller. */
  abstract callStarted(call: { callSid: string; from: string; to: string }): void;
  /** The operator saved (or corrected) the job request: update the caller's record. */
  abstract jobRequested(call: { callSid: string; from: string }, job: JobRequest): void;
  /** A call has ended: log it. */
  abstract callEnded(summary: CallSummaryForCrm): void;
}
