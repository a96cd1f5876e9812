import { createHash } from 'node:crypto';
import type { CallRecord } from '../call-log/call-record';
import { callOutcome, type CallOutcome } from '../call-log/call-outcome';
import { callSummaryText } from '../call-log/call-summary';
import type { JobRequest } from '../crm/crm.port';

/** The one event type so far: a call has ended (or never reached the agent: the fallback). */
export const CALL_ENDED = 'call.ended';

/** The event's `data`: the call record's summary. No transcript, audio, tool arguments or credentials. */
export interface CallEndedData {
  readonly callSid: string;
  readonly direction: 'inbound' | 'outbound';
  readonly from: string;
  readonly to: string;
  /** The business profile that answered. */
  readonly profile: string | null;
  readonly status: 'completed' | 'failed' | 'fallback';
  readonly endReason: string | null;
  readonly outcome: CallOutcome;
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly durationMs: number | null;
  /** Estimated, in US dollars. */
  readonly costUsd: number;
  /**
   * The call's written summary: three short sentences by the text model (who called, what about,
   * what happens next) when one was made (src/summary), else one line: the job's urgency and
   * problem, or how the call ended without one.
   */
  readonly summary: string;
  readonly jobRequest: JobRequest | null;
  /** The outbound request an outbound call was placed for. */
  readonly outboundRequestId: string | null;
  /** Turns in the transcript, which GET /api/calls/:callSid serves. */
  readonly transcriptTurns: number;
  /** A signed link that plays the recording until it expires (RECORDING_LINK_TTL_DAYS); null without one. */
  readonly recordingUrl: string | null;
}

/** The JSON body, as the Standard Webhooks spec suggests: type, timestamp (when it happened), data. */
export interface WebhookPayload<T> {
  readonly type: string;
  readonly timestamp: string;
  readonly data: T;
}

/** An event as the outbox keeps it: its body is sent, and signed, exactly as made. */
export interface NewWebhookEvent {
  readonly id: string;
  readonly type: string;
  readonly callSid: string | null;
  readonly body: string;
  /** Epoch ms: when it was made. Retries stop a maximum age after this. */
  readonly createdAt: number;
  /**
   * Epoch ms: its first attempt is not made before this (held for the call's written summary, which
   * WebhookOutbox.release brings in earlier). Unset: at once.
   */
  readonly notBefore?: number;
}

/**
 * The id of a call's call.ended event: derived from the Call SID, so that writing the ended record
 * again (a retried write, a spool file replayed) makes the same event, which the outbox keeps once.
 * Receivers deduplicate on it (the webhook-id header).
 */
export function callEndedEventId(callSid: string): string {
  return `evt_${createHash('sha256').update(`${CALL_ENDED}:${callSid}`).digest('hex').slice(0, 32)}`;
}

/** The event for an ended record; `recordingUrl` is the signed link to its recording, if one can be made. */
export function buildCallEndedEvent(
  record: CallRecord,
  options: { readonly recordingUrl: string | null; readonly now: number; readonly notBefore?: number },
): NewWebhookEvent {
  if (record.status === 'in-progress') throw new Error('a call still in progress has not ended');
  const jobRequest = jobRequestOf(record.details);
  const outbound = record.details.outboundRequest;
  const data: CallEndedData = {
    callSid: record.callSid,
    direction: record.direction,
    from: record.from,
    to: record.to,
    profile: record.profile,
    status: record.status,
    endReason: record.endReason,
    outcome: callOutcome(record),
    startedAt: record.startedAt,
    endedAt: record.endedAt,
    durationMs: record.durationMs,
    costUsd: record.costUsd,
    summary: callSummaryText(record),
    jobRequest,
    outboundRequestId: typeof outbound === 'string' ? outbound : null,
    transcriptTurns: record.transcript.length,
    recordingUrl: record.recording ? options.recordingUrl : null,
  };
  const payload: WebhookPayload<CallEndedData> = {
    type: CALL_ENDED,
    timestamp: record.endedAt ?? new Date(options.now).toISOString(),
    data,
  };
  const event: NewWebhookEvent = { id: callEndedEventId(record.callSid), type: CALL_ENDED, callSid: record.callSid, body: JSON.stringify(payload), createdAt: options.now };
  return options.notBefore !== undefined && options.notBefore > options.now ? { ...event, notBefore: options.notBefore } : event;
}

const JOB_TEXT_FIELDS = ['callerName', 'callbackNumber', 'serviceAddress', 'problem', 'preferredTime'] as const;
const URGENCIES: ReadonlySet<string> = new Set(['emergency', 'urgent', 'routine']);

/** The saved job request, its known fields only: the details are free-form, the event is not. */
function jobRequestOf(details: Readonly<Record<string, unknown>>): JobRequest | null {
  const raw = details.jobRequest;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return null;
  const job = raw as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const field of JOB_TEXT_FIELDS) if (typeof job[field] === 'string') out[field] = job[field];
  if (job.callbackNumberUnverified === true) out.callbackNumberUnverified = true;
  if (typeof job.urgency === 'string' && URGENCIES.has(job.urgency)) out.urgency = job.urgency;
  return out;
}
