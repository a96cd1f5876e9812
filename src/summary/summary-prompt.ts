import type { TranscriptTurn } from '../call-log/call-record';
import type { JobRequest } from '../crm/crm.port';
import type { SummaryRequest } from './call-summarizer';

/** The transcript sent is at most this long: the opening turns and the latest ones, the middle left out. */
export const SUMMARY_TRANSCRIPT_MAX_CHARS = 24_000;
/** A single turn longer than this is cut. */
export const SUMMARY_TURN_MAX_CHARS = 1_500;
/** Of the transcript's budget, the share kept for the opening turns (who called is said early). */
const OPENING_SHARE = 0.3;
/** The summary kept on the record is at most this long. */
export const SUMMARY_MAX_CHARS = 800;

/** How a call ended, in words the model can use (the record keeps the code). */
const END_REASONS: Readonly<Record<string, string>> = {
  twilio_stop: 'the call was hung up',
  twilio_closed: 'the line was closed',
  hangup: 'the agent said goodbye and ended the call',
  transferred: 'the agent transferred the caller to a person at the company',
  caller_silent: 'the caller stopped answering and the agent ended the call',
  shutdown: 'the service shut down and ended the call',
  ttl_expired: 'the line went dead',
  twilio_backpressure: 'a technical fault on the line cut the call short',
  realtime_connect_failed: 'a technical fault cut the call short',
  realtime_reopen_failed: 'a technical fault cut the call short',
  realtime_closed: 'a technical fault cut the call short',
  realtime_misconfigured: 'a technical fault cut the call short',
};

/**
 * The job request's fields the model is given. The callback number is left out: the summary must
 * not repeat phone numbers, and the job request carries it anyway.
 */
const JOB_FIELDS: ReadonlyArray<[keyof JobRequest, string]> = [
  ['callerName', 'caller name'],
  ['serviceAddress', 'service address'],
  ['problem', 'problem'],
  ['urgency', 'urgency'],
  ['preferredTime', 'preferred time'],
];

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

function turnLine(turn: TranscriptTurn): string {
  const who = turn.speaker === 'caller' ? 'Caller' : 'Agent';
  return `${who}: ${oneLine(turn.text, SUMMARY_TURN_MAX_CHARS)}${turn.interrupted ? ' (cut off by the caller)' : ''}`;
}

/** The turns as lines, within SUMMARY_TRANSCRIPT_MAX_CHARS: the opening ones and the latest ones, a marker between. */
export function transcriptLines(turns: readonly TranscriptTurn[]): string[] {
  const lines = turns.filter((t) => t.text.trim() !== '').map(turnLine);
  const size = (ls: readonly string[]) => ls.reduce((n, l) => n + l.length + 1, 0);
  if (size(lines) <= SUMMARY_TRANSCRIPT_MAX_CHARS) return lines;
  const head: string[] = [];
  let used = 0;
  for (const line of lines) {
    if (used + line.length + 1 > SUMMARY_TRANSCRIPT_MAX_CHARS * OPENING_SHARE) break;
    head.push(line);
    used += line.length + 1;
  }
  const tail: string[] = [];
  for (let i = lines.length - 1; i >= head.length; i--) {
    if (used + lines[i].length + 1 > SUMMARY_TRANSCRIPT_MAX_CHARS) break;
    tail.unshift(lines[i]);
    used += lines[i].length + 1;
  }
  const left = lines.length - head.length - tail.length;
  return [...head, `[… ${left} turn${left === 1 ? '' : 's'} left out …]`, ...tail];
}

/**
 * The model's input (its instructions are prompts/call_summary_prompt.txt): the call's facts, the
 * job request and the transcript, as plain text. Built only from the call's content: no phone
 * number of the call, no Call SID, no credential.
 */
export function buildSummaryInput(request: SummaryRequest): string {
  const lines = [
    `Call: ${request.direction === 'inbound' ? 'an inbound call to' : 'an outbound call from'} ${oneLine(request.companyName, 100)}, handled by its AI phone agent.`,
    `How it ended: ${END_REASONS[request.endReason] ?? request.endReason.replace(/_/g, ' ')}${request.status === 'failed' ? ' (the call failed)' : ''}.`,
  ];
  const job = request.jobRequest;
  const jobLines = JOB_FIELDS.flatMap(([key, label]) => {
    const value = job?.[key];
    return typeof value === 'string' && value.trim() !== '' ? [`- ${label}: ${oneLine(value, 300)}`] : [];
  });
  lines.push('', ...(jobLines.length > 0 ? ['Job request saved by the agent:', ...jobLines] : ['No job request was saved.']));
  lines.push('', 'Transcript (oldest first):', ...transcriptLines(request.transcript));
  return lines.join('\n');
}

/** What the model wrote, as the record keeps it: one line, bounded; empty when it wrote nothing. */
export function normaliseSummary(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat.length <= SUMMARY_MAX_CHARS) return flat;
  // Cut at the last sentence end that fits, else at the bound.
  const cut = flat.slice(0, SUMMARY_MAX_CHARS);
  const end = Math.max(cut.lastIndexOf('. '), cut.lastIndexOf('! '), cut.lastIndexOf('? '));
  return end > SUMMARY_MAX_CHARS / 2 ? cut.slice(0, end + 1) : `${cut.slice(0, SUMMARY_MAX_CHARS - 1)}…`;
}
