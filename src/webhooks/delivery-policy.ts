/**
 * What a webhook delivery attempt came to, and what happens next: pure decisions, with every
 * input (the time, the jitter) passed in.
 */

/** How one delivery (one event to one URL) is retried. */
export interface RetryPolicy {
  /** Attempts in all; after the last failed one the delivery is failed. */
  readonly maxAttempts: number;
  /** No attempt is made later than this after the event was made. */
  readonly maxAgeMs: number;
  /** Wait after the first failed attempt; doubled after each further one. */
  readonly baseDelayMs: number;
  /** The longest wait between two attempts (a receiver's Retry-After included). */
  readonly maxDelayMs: number;
}

/** What one HTTP attempt came to. */
export type AttemptResult =
  /** The receiver answered; retryAfterMs from its Retry-After header, when it sent one. */
  | { readonly kind: 'response'; readonly status: number; readonly retryAfterMs?: number | null }
  /** No answer: refused, reset, DNS, TLS, or no answer within the timeout. */
  | { readonly kind: 'error'; readonly error: string };

export type DeliveryDecision =
  | { readonly action: 'delivered' }
  | { readonly action: 'retry'; readonly at: number }
  | { readonly action: 'fail'; readonly reason: string };

/** How far the jitter moves a wait either way: ±20 %, so that a receiver back from an outage is not hit by every retry at once. */
export const JITTER = 0.2;

/**
 * The wait after `failedAttempts` failed attempts (1 or more): baseDelayMs doubled each time,
 * moved by the jitter (`random` in [0, 1): 0.5 is none), and capped at maxDelayMs.
 */
export function backoffDelay(failedAttempts: number, policy: RetryPolicy, random: number): number {
  if (!Number.isInteger(failedAttempts) || failedAttempts < 1) throw new RangeError(`failedAttempts must be a whole number above 0, not ${failedAttempts}`);
  // 2^n overflows to Infinity long after the cap; min() keeps it finite.
  const doubled = Math.min(policy.baseDelayMs * 2 ** (failedAttempts - 1), policy.maxDelayMs);
  const jittered = doubled * (1 - JITTER + 2 * JITTER * clamp01(random));
  return Math.round(Math.min(jittered, policy.maxDelayMs));
}

/** Only a 2xx answer delivers: a redirect is not followed, and counts as a failed attempt. */
export function isDelivered(result: AttemptResult): boolean {
  return result.kind === 'response' && result.status >= 200 && result.status <= 299;
}

/**
 * After attempt number `attempts` (1 for the first) at `now`, of an event made at `eventCreatedAt`:
 * delivered on a 2xx; failed for good on 410 Gone (the receiver says the endpoint is no more), after
 * the last attempt, or when the next one would come after the event's maximum age; else retried
 * after the backoff, or after the receiver's Retry-After if that is longer (up to maxDelayMs).
 */
export function decide(
  result: AttemptResult,
  attempt: { readonly attempts: number; readonly eventCreatedAt: number; readonly now: number; readonly random: number },
  policy: RetryPolicy,
): DeliveryDecision {
  if (isDelivered(result)) return { action: 'delivered' };
  if (result.kind === 'response' && result.status === 410) return { action: 'fail', reason: 'the receiver answered 410 Gone' };
  if (attempt.attempts >= policy.maxAttempts) return { action: 'fail', reason: `no 2xx after ${attempt.attempts} attempts` };
  const retryAfter = result.kind === 'response' && result.retryAfterMs ? Math.min(result.retryAfterMs, policy.maxDelayMs) : 0;
  const at = attempt.now + Math.max(backoffDelay(attempt.attempts, policy, attempt.random), retryAfter);
  if (at > attempt.eventCreatedAt + policy.maxAgeMs) return { action: 'fail', reason: `no 2xx within ${formatHours(policy.maxAgeMs)} of the event` };
  return { action: 'retry', at };
}

/** Retry-After as milliseconds from `now`: delay-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(header: string | null | undefined, now: number): number | null {
  if (!header) return null;
  const value = header.trim();
  if (/^\d{1,10}$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  if (Number.isNaN(at) || !/[a-z]/i.test(value)) return null;
  return Math.max(0, at - now);
}

/** What the delivery shows as its last error: the status, or why there was none. */
export function describeResult(result: AttemptResult): string | null {
  if (isDelivered(result)) return null;
  return result.kind === 'response' ? `HTTP ${result.status}` : result.error;
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(Math.max(x, 0), 1) : 0.5;
}

function formatHours(ms: number): string {
  const hours = ms / 3_600_000;
  return `${Number.isInteger(hours) ? hours : hours.toFixed(2)} h`;
}
