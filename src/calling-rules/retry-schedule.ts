import type { CallingPlan, CallingWindow } from './calling-window';
import { DAY_MS, MINUTE, instantAt, localDateKey } from './local-time';

export interface RetryConfig {
  /** Local times of day a retry may be placed at, minutes after midnight (default 10:00, 14:00, 18:00). */
  readonly slotMinutes: readonly number[];
  /** Retries end this long after the request was created (default 5 days). */
  readonly horizonMs: number;
}

/** How an attempt ended. Only the unanswered ones are tried again. */
export type AttemptOutcome = 'completed' | 'no-answer' | 'busy' | 'failed';

export const RETRYABLE_OUTCOMES: ReadonlySet<AttemptOutcome> = new Set<AttemptOutcome>(['no-answer', 'busy', 'failed']);

export type RetryDecision =
  | { readonly kind: 'retry'; readonly at: number }
  /** No slot is left before the horizon: the request is exhausted. */
  | { readonly kind: 'exhausted' };

/**
 * When to try a callee again after an attempt that was not answered: at the next configured local
 * slot that is strictly after the attempt, inside the calling window (dial lead included) and no
 * later than the request's creation plus the horizon. Pure; times are epoch ms.
 *
 * Slots are read on the callee's clock in each of the plan's zones (for an area code spanning two
 * zones, 10:00 Central and 10:00 Eastern are both slots) and must be allowed in all of them. A slot
 * that a spring-forward day skips (02:30 in New York) is taken as far past the gap (03:30 EDT), as
 * Temporal's "compatible" disambiguation does; one that a fall-back day repeats is taken at its
 * first occurrence. Either is still subject to the window.
 */
export class RetrySchedule {
  constructor(
    private readonly window: CallingWindow,
    private readonly config: RetryConfig,
  ) {
    if (config.slotMinutes.length === 0) throw new Error('no retry slots configured');
  }

  /** The retry after an attempt that ended unanswered at `attemptAt`, for a request created at `createdAt`. */
  next(attemptAt: number, createdAt: number, plan: CallingPlan): RetryDecision {
    const deadline = createdAt + this.config.horizonMs;
    if (attemptAt >= deadline) return { kind: 'exhausted' };
    const slots = new Set<number>();
    for (const zone of plan.timeZones) {
      const lastDay = localDateKey(zone, deadline);
      for (let day = localDateKey(zone, attemptAt); day <= lastDay; day += DAY_MS) {
        for (const minute of this.config.slotMinutes) slots.add(instantAt(zone, day + minute * MINUTE));
      }
    }
    const at = [...slots]
      .filter((t) => t > attemptAt && t <= deadline)
      .sort((a, b) => a - b)
      .find((t) => this.window.isAllowed(t, plan));
    return at === undefined ? { kind: 'exhausted' } : { kind: 'retry', at };
  }

  /** The retries a request would get if no attempt were ever answered, from its first attempt on. */
  all(firstAttemptAt: number, createdAt: number, plan: CallingPlan): number[] {
    const out: number[] = [];
    for (let d = this.next(firstAttemptAt, createdAt, plan); d.kind === 'retry'; d = this.next(d.at, createdAt, plan)) out.push(d.at);
    return out;
  }
}
