import { summaryWhat } from '../call-log/call-summary';

/** What a page says about the emergency: the job request as saved so far, and the caller ID. */
export interface EmergencyFacts {
  /** The business the call was answered for; the default profile's company when not known. */
  readonly business?: string;
  readonly callerName?: string;
  /** E.164, or the digits as heard when unverified. */
  readonly callbackNumber?: string;
  readonly callbackNumberUnverified?: boolean;
  readonly serviceAddress?: string;
  readonly problem?: string;
  /** The number the call came from: the callback number when none was given. */
  readonly callerNumber: string;
}

/** Two SMS segments of plain text: long enough for the facts, short enough to read at 2 a.m. */
export const PAGE_MAX_CHARS = 320;

const squash = (s: string): string => s.replace(/\s+/g, ' ').trim();
/** A sentence of its own: squashed, its own closing stop dropped (one is added). */
const clause = (s: string | undefined): string => squash(s ?? '').replace(/[.!?;,\s]+$/, '');

function cut(s: string, max: number): string {
  if (s.length <= max) return s;
  return max <= 1 ? s.slice(0, Math.max(0, max)) : `${s.slice(0, max - 1).trimEnd()}…`;
}

/** Room the address and problem keep at least: with less, the link is left out instead. */
const MIN_FACTS_CHARS = 80;

/**
 * The page SMS: whose emergency, where to call back, the address, the problem (in the words of the
 * call's written summary once it is made: a page sent after the call), how to answer, and a link to
 * the call. Within PAGE_MAX_CHARS: the problem is shortened first, then the address; a link that
 * would leave the facts less than MIN_FACTS_CHARS is left out (it is never cut: a cut link is no
 * link).
 */
export function pageMessage(company: string, facts: EmergencyFacts, link: string | undefined, summary: string | null = null): string {
  const name = cut(squash(facts.callerName ?? '') || 'Caller (name not given)', 40);
  const callback = facts.callbackNumber ?? facts.callerNumber;
  const number = `call back ${callback}${facts.callbackNumberUnverified ? ' (unverified, caller ID ' + facts.callerNumber + ')' : ''}`;
  const head = `EMERGENCY ${cut(squash(company), 30)}: ${name}, ${number}.`;
  const tail = `Reply YES to take it, NO to pass it on.${link ? ` ${link}` : ''}`;
  // Around the address and problem: a space, '. ' and '. '.
  const room = PAGE_MAX_CHARS - head.length - tail.length - 5;
  if (link && room < MIN_FACTS_CHARS) return pageMessage(company, facts, undefined, summary);
  let address = clause(facts.serviceAddress) || 'Address not given yet';
  let problem = clause((summary && summaryWhat(summary)) ?? facts.problem) || 'Problem not described yet';
  if (address.length + problem.length > room) {
    // The problem gets what the address (up to half the room) leaves; the address what is left then.
    problem = cut(problem, room - Math.min(address.length, Math.floor(room / 2)));
    address = cut(address, room - problem.length);
  }
  return `${head} ${address}. ${problem}. ${tail}`.slice(0, PAGE_MAX_CHARS);
}
