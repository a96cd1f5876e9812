import type { TranscriptTurn } from '../call-log/call-record';
import type { JobRequest } from '../crm/crm.port';

/** Turns carried over to a new session: enough to pick up the thread, little enough to stay cheap. */
export const SUMMARY_MAX_TURNS = 12;
export const SUMMARY_MAX_TURN_CHARS = 300;
export const SUMMARY_MAX_CHARS = 4_000;

/** The job request's text fields. */
type JobText = { [K in keyof JobRequest]-?: NonNullable<JobRequest[K]> extends string ? K : never }[keyof JobRequest];

const JOB_FIELDS: ReadonlyArray<[JobText, string]> = [
  ['callerName', 'caller name'],
  ['callbackNumber', 'callback number'],
  ['serviceAddress', 'service address'],
  ['problem', 'problem'],
  ['urgency', 'urgency'],
  ['preferredTime', 'preferred time'],
];

function clip(text: string, max: number): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length <= max ? oneLine : `${oneLine.slice(0, max - 1)}…`;
}

/**
 * What a fresh Realtime session needs to continue a call it did not hear: a note that the call is
 * already under way, the last turns of the transcript and the job request saved so far.
 * Appended to the operator instructions of the new session; bounded in length.
 */
export function buildConversationSummary(turns: readonly TranscriptTurn[], jobRequest: JobRequest | undefined): string {
  const opening =
    'This call is already in progress and continues on a new connection. Do not greet the caller again or start over; carry on from where the conversation left off.';
  const turnLines = turns
    .slice(-SUMMARY_MAX_TURNS)
    .map((turn) => `${turn.speaker === 'caller' ? 'Caller' : 'You'}: ${clip(turn.text, SUMMARY_MAX_TURN_CHARS)}${turn.interrupted ? ' (interrupted by the caller)' : ''}`);
  const jobLines: string[] = [];
  for (const [key, label] of JOB_FIELDS) {
    const value = jobRequest?.[key];
    if (!value) continue;
    const unverified = key === 'callbackNumber' && jobRequest?.callbackNumberUnverified ? ' (not a valid number: confirm it)' : '';
    jobLines.push(`- ${label}: ${clip(value, SUMMARY_MAX_TURN_CHARS)}${unverified}`);
  }
  const compose = (): string =>
    [
      opening,
      ...(turnLines.length > 0 ? ['The conversation so far (most recent last):', ...turnLines] : []),
      ...(jobLines.length > 0 ? ['Job request already saved with save_job_request:', ...jobLines] : []),
    ].join('\n');
  // Over the bound, the oldest turns go first: the latest exchange matters most.
  let text = compose();
  while (text.length > SUMMARY_MAX_CHARS && turnLines.length > 0) {
    turnLines.shift();
    text = compose();
  }
  return text.slice(0, SUMMARY_MAX_CHARS);
}
