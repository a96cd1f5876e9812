/**
 * Why a call ended, as it ended:
 * - Twilio ended the stream: `twilio_stop` (the stop frame) or `twilio_closed` (the socket went).
 * - We ended it on purpose: `caller_silent`, `shutdown`.
 * - Something failed: the rest. Twilio then runs the fallback TwiML after </Connect>.
 */
export type EndReason =
  | 'twilio_stop'
  | 'twilio_closed'
  | 'caller_silent'
  | 'shutdown'
  | 'ttl_expired'
  | 'twilio_backpressure'
  | 'realtime_connect_failed'
  | 'realtime_reopen_failed'
  | 'realtime_closed'
  | 'realtime_misconfigured';

/** A call the service ends on purpose (a goodbye, then the hang-up). */
export type Departure = 'caller_silent' | 'shutdown';

/** Why the call left the agent on purpose: the tools' hang-up and transfer, or a departure. */
export type Outcome = 'hangup' | 'transferred' | Departure;

/** Whether the call ended as it should have; a failure closes the stream with 1011. */
export const NORMAL_END: Readonly<Record<EndReason, boolean>> = {
  twilio_stop: true,
  twilio_closed: true,
  caller_silent: true,
  shutdown: true,
  ttl_expired: false,
  twilio_backpressure: false,
  realtime_connect_failed: false,
  realtime_reopen_failed: false,
  realtime_closed: false,
  realtime_misconfigured: false,
};

/** What the call record says: the outcome of a call that ended normally, else how it ended. */
export function recordedEndReason(reason: EndReason, outcome: Outcome | null): EndReason | Outcome {
  return NORMAL_END[reason] && outcome !== null ? outcome : reason;
}
