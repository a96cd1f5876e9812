/** What a call hands to the CRM. Grows as the operator learns to capture jobs. */
export interface CallSummaryForCrm {
  readonly callSid: string;
  readonly from: string;
  readonly to: string;
  readonly direction: string;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly endReason: string;
}

/**
 * The CRM as the call sees it. Implementations must never throw into the call and never block
 * audio: they queue their work and report failures in their own logs.
 */
export abstract class CrmService {
  /** A call has started: look up or create the caller. */
  abstract callStarted(call: { callSid: string; from: string; to: string }): void;
  /** A call has ended: log it. */
  abstract callEnded(summary: CallSummaryForCrm): void;
}
