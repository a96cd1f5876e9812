/** The calls placed for outbound requests: one attempt per dial, and what Twilio reports of it. */

/** Twilio's CallStatus values, as the status callback reports them. */
export type TwilioCallStatus = 'queued' | 'initiated' | 'ringing' | 'in-progress' | 'completed' | 'busy' | 'no-answer' | 'failed' | 'canceled';
export const TWILIO_CALL_STATUSES: readonly TwilioCallStatus[] = ['queued', 'initiated', 'ringing', 'in-progress', 'completed', 'busy', 'no-answer', 'failed', 'canceled'];
/** A call in one of these has ended. */
export const FINAL_CALL_STATUSES: ReadonlySet<string> = new Set(['completed', 'busy', 'no-answer', 'failed', 'canceled']);
/** Our status of an attempt between started() and dialed(): Twilio has not answered the create yet. */
export const DIALING = 'dialing';

/**
 * Where a status stands in a call's life; a report moves an attempt only forward. The final ones
 * share the last rank: the first final status reported is the attempt's.
 */
export function statusRank(status: string): number {
  switch (status) {
    case DIALING:
      return 0;
    case 'queued':
      return 1;
    case 'initiated':
      return 2;
    case 'ringing':
      return 3;
    case 'in-progress':
      return 4;
    default:
      return FINAL_CALL_STATUSES.has(status) ? 5 : -1;
  }
}

/** AnsweredBy values of asynchronous AMD (Twilio's documentation; DetectMessageEnd gives the machine_end_* ones). */
export const ANSWERED_BY_VALUES = ['human', 'machine_start', 'machine_end_beep', 'machine_end_silence', 'machine_end_other', 'fax', 'unknown'] as const;
export type AnsweredBy = (typeof ANSWERED_BY_VALUES)[number];

/**
 * What an ended attempt came to, for deciding a retry: `voicemail` when an answering machine took
 * the message, `machine` when one answered and no message was left, `fax` when a fax machine
 * answered; a canceled call (cancelled before it was answered) counts as `failed`.
 */
export type AttemptOutcome = 'completed' | 'no-answer' | 'busy' | 'failed' | 'voicemail' | 'machine' | 'fax';

/** What is done with a call an answering machine or fax took (decided when AMD answers). */
export type MachineAction = 'message' | 'hangup';

/**
 * What to do with a call AMD found `answeredBy`, with OUTBOUND_VOICEMAIL `mode`: after a greeting
 * (machine_end_*) leave the message or hang up; at a machine_start (no wait for the beep was
 * asked, so a message would be cut into the greeting) and at a fax, hang up; a human, or an
 * answer AMD could not tell (often a person who has not spoken yet), the agent goes on talking to.
 */
export function machineAction(answeredBy: string, mode: MachineAction): MachineAction | null {
  if (answeredBy.startsWith('machine_end_')) return mode;
  if (answeredBy === 'machine_start' || answeredBy === 'fax') return 'hangup';
  return null;
}

/** What was done with the machine that answered, as the attempt records it (detail). */
export interface MachineHandling {
  readonly machineAction?: MachineAction;
  /** Set when Twilio refused the action (the call had ended already). */
  readonly machineActionError?: string;
}

/** The outcome of an attempt with this status, AMD answer and machine handling; null while the call has not ended. */
export function attemptOutcome(status: string, answeredBy: string | null, handling: MachineHandling = {}): AttemptOutcome | null {
  if (!FINAL_CALL_STATUSES.has(status)) return null;
  if (answeredBy === 'fax') return 'fax';
  if (answeredBy !== null && answeredBy.startsWith('machine_')) {
    return handling.machineAction === 'message' && handling.machineActionError === undefined ? 'voicemail' : 'machine';
  }
  if (status === 'completed' || status === 'no-answer' || status === 'busy') return status;
  return 'failed';
}

/** Names an attempt: the outbound request, and which of its attempts (1, 2, …). */
export interface AttemptRef {
  readonly requestId: string;
  readonly attempt: number;
}

export interface StatusReport {
  readonly callSid: string;
  readonly status: TwilioCallStatus;
  /** When it happened (ISO 8601): Twilio's Timestamp, else when it was received. */
  readonly at: string;
  /** Twilio's SequenceNumber: callbacks of one call count up from 0; a lower one than seen is stale. */
  readonly sequence?: number;
  /** CallDuration, on a final status. */
  readonly durationSeconds?: number;
  /** The attempt the callback URL names: finds it when the status arrives before dialed() recorded the SID. */
  readonly link?: AttemptRef;
}

/** An attempt after a report, and whether the report changed it. */
export interface AttemptState extends AttemptRef {
  readonly callSid: string;
  readonly status: string;
  readonly answeredBy: string | null;
  readonly endedAt: string | null;
  /** False when the report was stale or repeated (the attempt is as it was). */
  readonly applied: boolean;
  readonly outcome: AttemptOutcome | null;
  /** The outcome was set, or changed, by this report: AttemptOutcomes is to hear of it. */
  readonly outcomeChanged: boolean;
}

/** The attempts of outbound requests, in the SQL database (table outbound_attempts). */
export abstract class OutboundAttempts {
  /** Records an attempt about to be dialled, status `dialing`; false when it was recorded already. */
  abstract started(requestId: string, attempt: number, to: string, startedAt: string): Promise<boolean>;
  /** Records the call Twilio created for the attempt, with its status as created (normally `queued`). */
  abstract dialed(requestId: string, attempt: number, callSid: string, status?: string): Promise<void>;
  /** Ends an attempt whose dial failed (no call was created): status `failed`, the reason in detail. */
  abstract dialFailed(requestId: string, attempt: number, reason: string, at: string): Promise<AttemptState | undefined>;
  /**
   * Applies a status callback, only forward: a status earlier in a call's life than the one
   * recorded, or with a lower SequenceNumber, or a second final status, changes nothing. A final
   * status sets ended_at. Undefined when no attempt has this call (nor the link, unclaimed).
   */
  abstract statusReported(report: StatusReport): Promise<AttemptState | undefined>;
  /**
   * Records what answered (asynchronous AMD), and the action about to be taken on a machine; the
   * first answer stands. Undefined when no attempt has this call.
   */
  abstract answeredBy(callSid: string, value: string, at: string, link?: AttemptRef, action?: MachineAction): Promise<AttemptState | undefined>;
  /** Records that the machine action recorded with the answer could not be taken (Twilio refused it). */
  abstract machineActionFailed(callSid: string, reason: string): Promise<AttemptState | undefined>;
  /** Start times (epoch ms, oldest first) of the attempts at `to` since `since`, any request. */
  abstract recentAttempts(to: string, since: string): Promise<number[]>;
}

/**
 * Hears what each ended attempt came to (the dialer, which ends the request or schedules its retry). Called once when an attempt's outcome is known, and again only if it changes:
 * `completed`, then `machine` when the AMD answer arrives after the hang-up. It must not throw for
 * a repeat; the attempt row holds the outcome too (detail.outcome).
 */
export abstract class AttemptOutcomes {
  abstract attemptEnded(requestId: string, attempt: number, outcome: AttemptOutcome): Promise<void>;
}
