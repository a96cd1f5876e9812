/** An outbound call the business asked for, and what became of it. */

import { randomBytes } from 'node:crypto';

/**
 * A new request's id: `ob_` and 24 hex digits. Not a UUID: a UUID's digit groups can read as a
 * phone number, and the log scrubber would mask the id out of every log line that names it.
 */
export function newOutboundRequestId(): string {
  return `ob_${randomBytes(12).toString('hex')}`;
}

export type OutboundStatus = 'queued' | 'dialing' | 'completed' | 'exhausted' | 'cancelled' | 'refused';
export const OUTBOUND_STATUSES: readonly OutboundStatus[] = ['queued', 'dialing', 'completed', 'exhausted', 'cancelled', 'refused'];
/** A request in one of these is finished: nothing more is dialled for it. */
export const FINISHED_STATUSES: ReadonlySet<OutboundStatus> = new Set(['completed', 'exhausted', 'cancelled', 'refused']);

/** How the callee agreed to be called (e.g. a web form, a signed job sheet), and when. */
export interface Consent {
  readonly source: string;
  /** ISO 8601. */
  readonly obtainedAt: string;
}

export interface OutboundAttempt {
  readonly attempt: number;
  readonly callSid: string | null;
  /** Twilio's call status as last reported (queued, initiated, ringing, in-progress, completed, busy, no-answer, failed, canceled), or ours before the dial. */
  readonly status: string;
  /** What answered: human, machine_end_beep, machine_end_silence, fax, unknown… (asynchronous AMD). */
  readonly answeredBy: string | null;
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly detail: Readonly<Record<string, unknown>>;
}

export interface OutboundRequest {
  readonly id: string;
  /** E.164. */
  readonly to: string;
  /** What the agent is calling about, in a sentence it can say. */
  readonly purpose: string;
  readonly consent: Consent | null;
  /** The inbound call being returned (its CallSid): the callee called the business. */
  readonly callbackOf: string | null;
  /** IANA time zone of the callee, when the business knows it. */
  readonly timezone: string | null;
  /** Not dialled before this instant (ISO 8601). */
  readonly notBefore: string | null;
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly idempotencyKey: string | null;
  readonly status: OutboundStatus;
  /** Why it is refused, exhausted or cancelled; what the last attempt came to. */
  readonly statusReason: string | null;
  readonly nextAttemptAt: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly attempts: readonly OutboundAttempt[];
}

export type NewOutboundRequest = Omit<OutboundRequest, 'status' | 'statusReason' | 'nextAttemptAt' | 'createdAt' | 'updatedAt' | 'attempts'>;

export interface OutboundListQuery {
  readonly status?: OutboundStatus;
  readonly to?: string;
  readonly limit: number;
  readonly offset: number;
}

/** At most `max` attempts at one number may have started after `since` (ISO 8601, to the millisecond). */
export interface AttemptCap {
  readonly max: number;
  readonly since: string;
}

/** Where outbound requests and their attempts live (the SQL database). */
export abstract class OutboundRequests {
  /**
   * Stores a new request, queued to be dialled at `nextAttemptAt`; or, when one with the same
   * idempotency key (or, without a key, the same to and purpose created since `dedupeSince`) exists,
   * returns that one with `created: false`.
   */
  abstract create(request: NewOutboundRequest, nextAttemptAt: string, dedupeSince: string): Promise<{ request: OutboundRequest; created: boolean }>;
  abstract get(id: string): Promise<OutboundRequest | undefined>;
  /** Newest first, without attempts. */
  abstract list(query: OutboundListQuery): Promise<{ items: OutboundRequest[]; total: number }>;
  /** Cancels a request not finished yet; the request as it is now, or undefined when unknown. */
  abstract cancel(id: string): Promise<OutboundRequest | undefined>;
  /** Whether `to` has an open request (not finished). */
  abstract hasOpenRequest(to: string): Promise<boolean>;
  /**
   * Takes a queued request for a dial, on one worker of the fleet only: it becomes `dialing` and
   * its next attempt is recorded (status `dialing`, started now). The attempt's number, or null
   * when the request was not queued (cancelled, or taken by another worker).
   *
   * With `cap`, only while fewer than `cap.max` attempts at the request's number (any request's)
   * started after `cap.since`, counted together with the claim under a lock on the number: claims
   * at one number on any instance take turns, so that workers that each saw room under the cap
   * cannot pass it together. `capped` when there is no room; the request stays queued.
   */
  abstract claim(id: string, cap?: AttemptCap): Promise<number | null | 'capped'>;
  /** Back to `queued`, to be dialled at `at` (ISO 8601), with why. Only an open request. */
  abstract requeue(id: string, at: string, reason: string): Promise<boolean>;
  /** Ends an open request: completed, exhausted or refused, with why. */
  abstract finish(id: string, status: 'completed' | 'exhausted' | 'refused', reason: string): Promise<boolean>;
}
