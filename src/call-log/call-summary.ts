import type { CallRecord } from './call-record';

/** Why a call has no written summary although one was asked for. */
export type SummaryFailure = 'timeout' | 'error' | 'incomplete' | 'refused' | 'empty' | 'shutdown';

/**
 * A call's written summary as its record keeps it (`details.summary`), attached after the call
 * ended (src/summary): the model's three sentences, or why there are none. A call that was not
 * summarised (summaries off, nothing said, a fallback) has no `details.summary`.
 */
export type CallSummaryDetail =
  | {
      readonly status: 'ready';
      /** Three short sentences: who called, what about, what happens next. */
      readonly text: string;
      readonly model: string;
      /** ISO 8601: when it was made. */
      readonly at: string;
    }
  | { readonly status: 'failed'; readonly reason: SummaryFailure; readonly model: string; readonly at: string };

/** The record's summary detail, when it holds a well-formed one. */
export function summaryDetailOf(details: Readonly<Record<string, unknown>>): CallSummaryDetail | null {
  const raw = details.summary;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return null;
  const s = raw as Record<string, unknown>;
  if (s.status === 'ready' && typeof s.text === 'string' && s.text.trim() !== '') return raw as CallSummaryDetail;
  if (s.status === 'failed') return raw as CallSummaryDetail;
  return null;
}

/** The model's summary on the record, or null. */
export function modelSummaryOf(details: Readonly<Record<string, unknown>>): string | null {
  const detail = summaryDetailOf(details);
  return detail?.status === 'ready' ? detail.text : null;
}

const sentences = new Intl.Segmenter('en', { granularity: 'sentence' });
/** A break after a title (Mr. Smith) is no sentence end; other abbreviations (St.) often end one, and are left to ICU. */
const TITLE_END = /(?:^|\s)(?:Mr|Mrs|Ms|Mx|Dr|Prof)\.\s*$/;

/**
 * The "what" of a model summary (its second sentence: what the call was about, with the urgency),
 * for texts too short for all three; null when the text is not at least two sentences.
 */
export function summaryWhat(text: string): string | null {
  const joined: string[] = [];
  let carry = '';
  for (const { segment } of sentences.segment(text.replace(/\s+/g, ' ').trim())) {
    carry += segment;
    if (TITLE_END.test(carry)) continue;
    joined.push(carry.trim());
    carry = '';
  }
  if (carry.trim() !== '') joined.push(carry.trim());
  return joined.length >= 2 && joined[1] !== '' ? joined[1] : null;
}

const URGENCIES: ReadonlySet<string> = new Set(['emergency', 'urgent', 'routine']);

/** One line, made without a model: the job's urgency and problem, or how the call ended without one. */
export function oneLineSummary(record: Pick<CallRecord, 'status' | 'endReason' | 'details'>): string {
  const job = record.details.jobRequest;
  const { problem, urgency } = typeof job === 'object' && job !== null ? (job as { problem?: unknown; urgency?: unknown }) : {};
  return typeof problem === 'string' && problem !== ''
    ? `${typeof urgency === 'string' && URGENCIES.has(urgency) ? urgency : 'unspecified'} job: ${problem}`
    : `Call ${record.endReason ?? record.status}; no job request captured.`;
}

/**
 * A call's summary as the webhook, SMS and paging give it: the model's three sentences when they
 * were made, else the one-line summary.
 */
export function callSummaryText(record: Pick<CallRecord, 'status' | 'endReason' | 'details'>): string {
  return modelSummaryOf(record.details) ?? oneLineSummary(record);
}
