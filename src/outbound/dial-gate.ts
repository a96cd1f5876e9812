import type { CallingPlan, CallingWindow } from '../calling-rules/calling-window';
import type { OutboundStatus } from './outbound-request';

/** Attempts per number in any rolling 24 hours, whichever instance dialled. */
export const MAX_ATTEMPTS_PER_DAY = 3;
const DAY_MS = 24 * 60 * 60 * 1000;

/** What the gate knows right before a dial, all read fresh from the database. */
export interface DialFacts {
  readonly now: number;
  readonly status: OutboundStatus;
  readonly createdAt: number;
  readonly notBefore: number | null;
  readonly onDoNotCallList: boolean;
  /** Start times of this number's attempts in the last 24 hours, any request. */
  readonly recentAttempts: readonly number[];
  readonly plan: CallingPlan;
}

export type DialDecision =
  | { readonly action: 'dial' }
  /** Not now: try again at `at` (which passes every rule known now). */
  | { readonly action: 'defer'; readonly at: number; readonly reason: 'not_before' | 'daily_attempt_cap' | 'calling_window' }
  /** Never: the request is finished with this status. */
  | { readonly action: 'finish'; readonly status: 'refused' | 'exhausted'; readonly reason: string }
  /** Nothing to do: the request is no longer queued (cancelled, finished, or being dialled). */
  | { readonly action: 'drop' };

/**
 * Whether an outbound request may be dialled now, decided right before each dial (not only when
 * the request was made): still queued, not on the do-not-call list, not before its notBefore, at
 * most MAX_ATTEMPTS_PER_DAY attempts at the number in any 24 hours, inside the callee's calling
 * window with the call able to start in it, and within the retry horizon. Pure.
 */
export class DialGate {
  constructor(
    private readonly window: CallingWindow,
    private readonly horizonMs: number,
  ) {}

  decide(f: DialFacts): DialDecision {
    if (f.status !== 'queued') return { action: 'drop' };
    if (f.onDoNotCallList) return { action: 'finish', status: 'refused', reason: 'do_not_call' };
    const deadline = f.createdAt + this.horizonMs;
    // The earliest instant each rule allows; the window is applied last, as it only moves later.
    let at = f.now;
    let reason: 'not_before' | 'daily_attempt_cap' | 'calling_window' | null = null;
    if (f.notBefore !== null && f.notBefore > at) {
      at = f.notBefore;
      reason = 'not_before';
    }
    const capFreeAt = this.capFreeAt(f.recentAttempts);
    if (capFreeAt > at) {
      at = capFreeAt;
      reason = 'daily_attempt_cap';
    }
    if (!this.window.isAllowed(at, f.plan)) {
      const next = this.window.nextAllowedAt(at, f.plan);
      if (next === null) return { action: 'finish', status: 'exhausted', reason: 'no calling window ahead' };
      at = next;
      reason = 'calling_window';
    }
    if (at > deadline) return { action: 'finish', status: 'exhausted', reason: `no allowed time before the retry horizon (${reason ?? 'calling_window'})` };
    return reason === null ? { action: 'dial' } : { action: 'defer', at, reason };
  }

  /** When one more attempt fits under the cap: the oldest of the last MAX attempts turns 24 h old. */
  private capFreeAt(recent: readonly number[]): number {
    if (recent.length < MAX_ATTEMPTS_PER_DAY) return Number.NEGATIVE_INFINITY;
    const newestFirst = [...recent].sort((a, b) => b - a);
    return newestFirst[MAX_ATTEMPTS_PER_DAY - 1] + DAY_MS;
  }
}
