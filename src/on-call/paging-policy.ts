import type { OnCallPerson } from './rota';

/**
 * What paging does next for one emergency, decided from what is recorded and the time alone.
 * The escalation list is fixed when the emergency is raised (the rota at that moment); step k
 * pages list[k]. Pure, so that every edge can be tested without a queue or a clock.
 */

export type PageStatus = 'sending' | 'sent' | 'failed';
export type PageAnswer = 'accepted' | 'declined';
export type EscalationStatus = 'paging' | 'acknowledged' | 'unacknowledged';

export interface PageState {
  readonly step: number;
  /** `sending`: claimed by a worker, the SMS not (yet) known to have gone; `failed`: Twilio refused it, or never answered. */
  readonly status: PageStatus;
  /** Epoch ms the SMS went, when it did. */
  readonly sentAt: number | null;
  readonly answer: PageAnswer | null;
}

export interface EscalationState {
  /** In escalation order, as on call when the emergency was raised. */
  readonly people: readonly OnCallPerson[];
  readonly status: EscalationStatus;
  readonly pages: readonly PageState[];
}

export type PagingAction =
  /** Someone took it, or paging gave up already: nothing more to do. */
  | { readonly kind: 'done' }
  /** Page people[step] now. */
  | { readonly kind: 'page'; readonly step: number }
  /** Page `step` is claimed and not yet sent: the worker holding it finishes it (or its job comes back). */
  | { readonly kind: 'sending'; readonly step: number }
  /** The last page is out and its time to answer runs until `until`; then `step` is next (a step past the list: giving up). */
  | { readonly kind: 'wait'; readonly step: number; readonly until: number }
  /** Everyone on the list was paged (or could not be) and nobody took it. */
  | { readonly kind: 'give-up' };

/**
 * - Acknowledged (any page accepted), or already given up: done.
 * - No page yet: page step 0 (an empty list gives up at once).
 * - The latest page still being sent: leave it to its worker.
 * - The latest page refused by Twilio, or declined by its person: the next step at once.
 * - The latest page sent and unanswered: the next step once `ackTimeoutMs` has passed since it went.
 * - The next step past the end of the list: give up.
 */
export function decide(state: EscalationState, now: number, ackTimeoutMs: number): PagingAction {
  if (state.status !== 'paging' || state.pages.some((p) => p.answer === 'accepted')) return { kind: 'done' };
  const last = state.pages.reduce<PageState | null>((latest, p) => (latest === null || p.step > latest.step ? p : latest), null);
  if (last === null) return state.people.length > 0 ? { kind: 'page', step: 0 } : { kind: 'give-up' };
  if (last.status === 'sending') return { kind: 'sending', step: last.step };
  const next = last.step + 1;
  const movesOn = last.status === 'failed' || last.answer === 'declined';
  const until = movesOn ? now : (last.sentAt ?? now) + ackTimeoutMs;
  if (now < until) return { kind: 'wait', step: next, until };
  return next < state.people.length ? { kind: 'page', step: next } : { kind: 'give-up' };
}
