import { summaryWhat } from '../call-log/call-summary';
import type { JobRequest } from '../crm/crm.port';

/** Twilio's standard opt-out keywords: a number that sends one of these gets no more texts. */
export const OPT_OUT_KEYWORDS = ['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT'] as const;
/** Twilio's opt-in keywords: the number may be texted again. */
export const OPT_IN_KEYWORDS = ['START', 'YES', 'UNSTOP'] as const;
export const HELP_KEYWORDS = ['HELP', 'INFO'] as const;

export type SmsKeyword = { readonly kind: 'opt-out' | 'opt-in' | 'help'; readonly keyword: string };

/** The most a confirmation may be: two SMS segments. */
export const MAX_CONFIRMATION_LENGTH = 320;

/**
 * The keyword an inbound text is, as Twilio matches them: the whole message, trimmed, case
 * insensitive (a trailing full stop or exclamation mark allowed); null for anything else.
 */
export function parseKeyword(body: string): SmsKeyword | null {
  const word = body.trim().replace(/[.!]+$/, '').trim().toUpperCase();
  if ((OPT_OUT_KEYWORDS as readonly string[]).includes(word)) return { kind: 'opt-out', keyword: word };
  if ((OPT_IN_KEYWORDS as readonly string[]).includes(word)) return { kind: 'opt-in', keyword: word };
  if ((HELP_KEYWORDS as readonly string[]).includes(word)) return { kind: 'help', keyword: word };
  return null;
}

/** The reference a caller quotes: derived from the call SID (its last 6 characters), shown in the call record too. */
export function confirmationReference(callSid: string): string {
  return `R-${callSid.replace(/[^0-9a-zA-Z]/g, '').slice(-6).toUpperCase()}`;
}

const OPT_OUT_LINE = 'Reply STOP to opt out, HELP for help.';

function clip(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim().replace(/[.\s]+$/, '');
  return flat.length <= max ? flat : `${flat.slice(0, max - 1).trimEnd()}…`;
}

export interface ConfirmationFacts {
  readonly business: string;
  readonly reference: string;
  readonly job: JobRequest;
  /** ON_CALL_CALLBACK_MINUTES: what an emergency caller is promised. */
  readonly callbackMinutes: number;
  /** The call's written summary, once the text model has made it (its "what" sentence is used). */
  readonly summary?: string | null;
}

/**
 * The confirmation text (the one template): business, what was taken (the problem and the address,
 * shortened to fit; the summary's account of the problem once it is made), the reference, what
 * happens next, and how to opt out. At most 320 characters.
 */
export function confirmationBody(facts: ConfirmationFacts): string {
  const { business, reference, job } = facts;
  const next =
    job.urgency === 'emergency'
      ? `Our on-call plumber will call you back within ${facts.callbackMinutes} minutes.`
      : `We'll call you to confirm a time.`;
  const head = `${clip(business, 60)}: we have your request`;
  const tail = ` Ref ${reference}. ${next} ${OPT_OUT_LINE}`;
  const room = MAX_CONFIRMATION_LENGTH - head.length - tail.length - 2;
  const summarised = facts.summary ? summaryWhat(facts.summary) : null;
  const address = nonBlank(job.serviceAddress);
  if (summarised && room > 40) {
    const at = address ? ` for ${clip(address, Math.floor(room / 3))}` : '';
    return `${head}${at}. ${clip(summarised, room - at.length - 1)}.${tail}`.slice(0, MAX_CONFIRMATION_LENGTH);
  }
  const parts = [nonBlank(job.problem), address].filter((p): p is string => p !== null);
  let what = '';
  if (parts.length > 0 && room > 10) {
    const problem = parts.length === 2 ? clip(parts[0], Math.max(10, Math.floor(room * 0.6))) : clip(parts[0], room - 3);
    const at = parts.length === 2 ? clip(parts[1], Math.max(5, room - problem.length - 8)) : null;
    what = at ? ` (${problem}, at ${at})` : ` (${problem})`;
    if (what.length > room) what = ` (${clip(problem, room - 3)})`;
  }
  return `${head}${what}.${tail}`.slice(0, MAX_CONFIRMATION_LENGTH);
}

function nonBlank(text: string | undefined): string | null {
  return typeof text === 'string' && text.trim() !== '' ? text : null;
}

/** The answer to HELP: who is texting, how to reach them, how to stop. */
export function helpText(business: string, phone: string): string {
  return `${clip(business, 60)}: texts about your plumbing requests. Call us on ${phone}. Reply STOP to opt out, START to opt back in.`;
}
