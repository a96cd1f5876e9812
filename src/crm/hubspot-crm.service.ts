import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { Logger } from 'pino';
import type { CallLogRepository } from '../call-log/call-record';
import type { Clock } from '../common/clock';
import type { Scheduler } from '../common/scheduler';
import type { CallMetrics } from '../metrics/call-metrics';
import { CrmService, type CallSummaryForCrm, type JobRequest } from './crm.port';
import { CrmWorkQueue, JobError, type Random, type WorkQueueOptions } from './crm-work-queue';

export interface HubspotCrmOptions {
  /** Per HTTP request; a hung HubSpot must not hold a call's lane forever. */
  readonly requestTimeoutMs: number;
  readonly queue: Partial<WorkQueueOptions>;
  /** Attempts to write the crm state while the call record is not there yet. */
  readonly markAttempts: number;
  readonly markDelayMs: number;
  /** Calls whose contact id is remembered at once; the oldest is forgotten beyond this. */
  readonly maxTrackedCalls: number;
  /** hs_call_body is a rich-text property; the transcript is cut to keep it under HubSpot's limit. */
  readonly maxBodyChars: number;
  /** Jitter of the queue's retry backoff. */
  readonly random: Random;
}

const DEFAULT_OPTIONS: HubspotCrmOptions = {
  requestTimeoutMs: 10_000,
  queue: {},
  markAttempts: 5,
  markDelayMs: 500,
  maxTrackedCalls: 2000,
  maxBodyChars: 60_000,
  random: Math.random,
};

/** HubSpot-defined association type: call → contact. */
export const CALL_TO_CONTACT_ASSOCIATION = 194;

/** "Mary Ann Smith" → Mary Ann / Smith: the surname is the last word. */
export function splitName(name: string): { firstname: string; lastname?: string } {
  const trimmed = name.trim().replace(/\s+/g, ' ');
  const at = trimmed.lastIndexOf(' ');
  return at < 0 ? { firstname: trimmed } : { firstname: trimmed.slice(0, at), lastname: trimmed.slice(at + 1) };
}

/** Retry-After as seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** The callback number as the note and the call body show it, flagged when it could not be verified. */
function callbackLabel(job: JobRequest): string {
  return job.callbackNumberUnverified ? 'Callback number (unverified)' : 'Callback number';
}

/**
 * The contact properties a job request sets. Only what the job states: a correction must not
 * blank fields it does not mention. `phone` stays the caller ID (see HubspotCrmService).
 */
export function jobProperties(job: JobRequest, callerId: string): Record<string, string> {
  const properties: Record<string, string> = {};
  if (job.callerName?.trim()) {
    const { firstname, lastname } = splitName(job.callerName);
    properties.firstname = firstname;
    if (lastname !== undefined) properties.lastname = lastname;
  }
  if (job.callbackNumber && job.callbackNumber !== callerId) properties.mobilephone = job.callbackNumber;
  if (job.serviceAddress) properties.address = job.serviceAddress;
  const note = [
    job.callbackNumber ? `${callbackLabel(job)}: ${job.callbackNumber}` : undefined,
    job.problem ? `Problem: ${job.problem}` : undefined,
    job.urgency ? `Urgency: ${job.urgency}` : undefined,
    job.preferredTime ? `Preferred time: ${job.preferredTime}` : undefined,
  ].filter((line): line is string => line !== undefined);
  if (note.length > 0) properties.message = note.join('\n');
  return properties;
}

/** HubSpot ids are numeric strings; anything else means the response is not what we expect. */
function idOf(record: { id?: unknown } | undefined, what: string): string {
  const id = record?.id;
  if (typeof id === 'string' || typeof id === 'number') return String(id);
  throw new JobError(`${what} returned no id`, false);
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const CALL_STATUS: Record<string, string> = {
  completed: 'COMPLETED',
  fallback: 'COMPLETED',
  failed: 'FAILED',
  'in-progress': 'IN_PROGRESS',
  busy: 'BUSY',
  'no-answer': 'NO_ANSWER',
  canceled: 'CANCELED',
};

interface TrackedCall {
  contactId?: string;
  /** This call has put a callback number in `mobilephone`. */
  wroteMobile?: boolean;
}

/**
 * HubSpot over its REST API with fetch rather than @hubspot/api-client: the client has no
 * per-request timeout or abort signal, retries internally (sleeping inside the call, which
 * would fight our queue's backoff and breaker), and surfaces Retry-After only through its
 * exception type. The endpoints and payloads are the same the client sends.
 *
 * The `message` contact property (a default property, "Message") carries the problem,
 * urgency and preferred time, since HubSpot has no standard field for them.
 *
 * The contact's `phone` is the caller ID and is never overwritten: it is what the next call from
 * that line is looked up by. A callback number that differs goes to `mobilephone`, HubSpot's
 * default "Mobile Phone Number" property: it exists in every portal (a custom property would
 * need setting up first, and a PATCH naming a missing one fails whole, losing the name and
 * address with it), it is phone-typed (click-to-call), and a number given for a callback is most
 * often a mobile. The note in `message` names it as the callback number either way.
 */
@Injectable()
export class HubspotCrmService extends CrmService implements OnModuleDestroy {
  private readonly options: HubspotCrmOptions;
  private readonly queue: CrmWorkQueue;
  private readonly calls = new Map<string, TrackedCall>();
  private readonly baseUrl: string;

  constructor(
    private readonly settings: { readonly accessToken: string; readonly baseUrl: string },
    private readonly logger: Logger,
    private readonly repository: CallLogRepository,
    private readonly clock: Clock,
    private readonly scheduler: Scheduler,
    metrics: CallMetrics,
    options: Partial<HubspotCrmOptions> = {},
  ) {
    super();
    this.options = { ...DEFAULT_OPTIONS, ...options };
    this.baseUrl = settings.baseUrl.replace(/\/+$/, '');
    this.queue = new CrmWorkQueue(logger, this.options.queue, clock, scheduler, metrics, this.options.random);
  }


  /** For tests and shutdown: resolves once all queued CRM work has settled. */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  onModuleDestroy(): void {
    this.queue.close();
  }

  callStarted(call: { callSid: string; from: string; to: string }): void {
    this.guard('callStarted', () => {
      this.track(call.callSid);
      this.queue.enqueue({
        key: call.callSid,
        name: 'contact lookup',
        run: async () => {
          await this.ensureContact(call.callSid, call.from);
        },
      });
    });
  }

  jobRequested(call: { callSid: string; from: string }, job: JobRequest): void {
    this.guard('jobRequested', () => {
      this.track(call.callSid);
      let contactId: string | undefined;
      this.queue.enqueue({
        key: call.callSid,
        name: 'job request',
        run: async () => {
          contactId = await this.ensureContact(call.callSid, call.from);
          const properties = jobProperties(job, call.from);
          // Corrected back to the caller ID: the number this call put there earlier was wrong.
          if (job.callbackNumber === call.from && this.calls.get(call.callSid)?.wroteMobile) properties.mobilephone = '';
          await this.request('PATCH', `/crm/v3/objects/contacts/${encodeURIComponent(contactId)}`, { properties });
          const tracked = this.calls.get(call.callSid);
          if (tracked && properties.mobilephone !== undefined) tracked.wroteMobile = properties.mobilephone !== '';
          await this.mark(call.callSid, { jobRequest: { status: 'synced', contactId, at: this.stamp() } });
        },
        onFailure: (error) =>
          this.mark(call.callSid, { jobRequest: { status: 'failed', error: error.message, at: this.stamp() } }),
      });
    });
  }

  callEnded(summary: CallSummaryForCrm): void {
    this.guard('callEnded', () => {
      this.track(summary.callSid);
      this.queue.enqueue({
        key: summary.callSid,
        name: 'call engagement',
        run: async () => {
          const contactId = await this.ensureContact(summary.callSid, summary.direction === 'inbound' ? summary.from : summary.to);
          const created = (await this.request('POST', '/crm/v3/objects/calls', {
            properties: this.callProperties(summary),
            associations: [
              {
                to: { id: contactId },
                types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: CALL_TO_CONTACT_ASSOCIATION }],
              },
            ],
          })) as { id?: unknown };
          const engagementId = idOf(created, 'HubSpot call create');
          await this.mark(summary.callSid, { callLogged: { status: 'synced', engagementId, at: this.stamp() } });
        },
        onFailure: (error) =>
          this.mark(summary.callSid, { callLogged: { status: 'failed', error: error.message, at: this.stamp() } }),
        // The call's last job: its contact id is no longer needed.
        onSettled: () => this.calls.delete(summary.callSid),
      });
    });
  }

  /** The CRM must never break a call: whatever goes wrong here is only logged. */
  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.logger.error({ err: error instanceof Error ? error.message : String(error) }, `CRM ${what} could not be queued`);
    }
  }

  private track(callSid: string): void {
    if (this.calls.has(callSid)) return;
    this.calls.set(callSid, {});
    // Maps iterate in insertion order: the first key is the oldest call.
    while (this.calls.size > this.options.maxTrackedCalls) {
      const oldest = this.calls.keys().next().value;
      if (oldest === undefined) break;
      this.calls.delete(oldest);
    }
  }

  private async ensureContact(callSid: string, phone: string): Promise<string> {
    const tracked = this.calls.get(callSid);
    if (tracked?.contactId) return tracked.contactId;
    const found = (await this.request('POST', '/crm/v3/objects/contacts/search', {
      filterGroups: [{ filters: [{ propertyName: 'phone', operator: 'EQ', value: phone }] }],
      properties: ['phone', 'firstname', 'lastname'],
      limit: 1,
    })) as { results?: Array<{ id?: unknown }> };
    const hit = found.results?.[0];
    let contactId = hit ? idOf(hit, 'HubSpot contact search') : undefined;
    if (contactId === undefined) {
      const created = (await this.request('POST', '/crm/v3/objects/contacts', { properties: { phone } })) as { id?: unknown };
      contactId = idOf(created, 'HubSpot contact create');
      this.logger.info({ callSid, contactId, phone }, 'CRM contact created');
    } else {
      this.logger.debug({ callSid, contactId, phone }, 'CRM contact found');
    }
    // Re-read: the call may have been forgotten (bounded map) while the request ran.
    const current = this.calls.get(callSid);
    if (current) current.contactId = contactId;
    return contactId;
  }

  private callProperties(summary: CallSummaryForCrm): Record<string, string> {
    const properties: Record<string, string> = {
      hs_timestamp: new Date(summary.startedAt).toISOString(),
      hs_call_title: `${summary.direction === 'inbound' ? 'Inbound' : 'Outbound'} call (${summary.endReason})`,
      hs_call_body: this.callBody(summary),
      hs_call_duration: String(Math.max(0, Math.round(summary.durationMs))),
      hs_call_direction: summary.direction === 'inbound' ? 'INBOUND' : 'OUTBOUND',
      hs_call_status: CALL_STATUS[summary.status] ?? 'COMPLETED',
      hs_call_from_number: summary.from,
      hs_call_to_number: summary.to,
    };
    if (summary.recordingUrl) properties.hs_call_recording_url = summary.recordingUrl;
    return properties;
  }

  /** Simple HTML: the job request, the summary, then as much of the transcript as fits. */
  private callBody(summary: CallSummaryForCrm): string {
    const parts: string[] = [];
    const job = summary.jobRequest;
    if (job) {
      const rows = [
        ['Name', job.callerName],
        [callbackLabel(job), job.callbackNumber],
        ['Address', job.serviceAddress],
        ['Problem', job.problem],
        ['Urgency', job.urgency],
        ['Preferred time', job.preferredTime],
      ].filter((row): row is [string, string] => row[1] !== undefined && row[1] !== '');
      parts.push(`<p><b>Job request</b><br>${rows.map(([k, v]) => `${k}: ${escapeHtml(v)}`).join('<br>')}</p>`);
    }
    if (summary.summary) parts.push(`<p><b>Summary</b><br>${escapeHtml(summary.summary)}</p>`);
    const head = parts.join('');
    const turns = summary.transcript.map((t) => `${t.speaker === 'caller' ? 'Caller' : 'Operator'}: ${escapeHtml(t.text)}`);
    if (turns.length === 0) return head.slice(0, this.options.maxBodyChars);
    const marker = '<br>[transcript cut]';
    let transcript = `<p><b>Transcript</b><br>${turns.join('<br>')}</p>`;
    const room = this.options.maxBodyChars - head.length;
    if (transcript.length > room) transcript = transcript.slice(0, Math.max(0, room - marker.length)) + marker;
    return (head + transcript).slice(0, this.options.maxBodyChars);
  }

  /** Wall-clock time for the crm state on the call record. */
  private stamp(): string {
    return new Date(this.clock.epochMs()).toISOString();
  }

  /** Writes the call record's crm state, waiting a little when the record is not written yet. */
  private async mark(callSid: string, patch: Record<string, unknown>): Promise<void> {
    for (let attempt = 1; attempt <= this.options.markAttempts; attempt++) {
      try {
        if (await this.repository.mergeCrm(callSid, patch)) return;
      } catch (error) {
        this.logger.warn({ callSid, attempt, err: error instanceof Error ? error.message : String(error) }, 'CRM state write failed');
      }
      if (attempt < this.options.markAttempts) {
        await new Promise<void>((resolve) => this.scheduler.after(this.options.markDelayMs, resolve));
      }
    }
    this.logger.error({ callSid, keys: Object.keys(patch) }, 'CRM state could not be written to the call record');
  }

  private async request(method: 'POST' | 'PATCH', path: string, body: unknown): Promise<unknown> {
    // Paths carry ids only, never phone numbers, so they are safe to log.
    const what = `HubSpot ${method} ${path}`;
    let response: Response;
    try {
      response = await fetch(this.baseUrl + path, {
        method,
        headers: {
          authorization: `Bearer ${this.settings.accessToken}`,
          'content-type': 'application/json',
          accept: 'application/json',
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.requestTimeoutMs),
      });
    } catch (error) {
      // By name, not instanceof: fetch's DOMException may come from another realm.
      const timedOut = (error as { name?: unknown } | null)?.name === 'TimeoutError';
      const reason = timedOut ? `timed out after ${this.options.requestTimeoutMs} ms` : 'network error';
      throw new JobError(`${what} ${reason}`, true);
    }
    const text = await response.text().catch(() => '');
    if (!response.ok) {
      // Only HubSpot's error category: its message may echo property values (names, numbers).
      let category = '';
      try {
        const parsed = JSON.parse(text) as { category?: unknown };
        if (typeof parsed.category === 'string') category = ` ${parsed.category}`;
      } catch {
        // Not JSON: the status says enough.
      }
      const status = response.status;
      const retryable = status === 429 || status >= 500;
      const retryAfterMs = retryable ? parseRetryAfter(response.headers.get('retry-after'), this.clock.epochMs()) : undefined;
      throw new JobError(`${what} → ${status}${category}`, retryable, retryAfterMs);
    }
    try {
      return text ? (JSON.parse(text) as unknown) : {};
    } catch {
      throw new JobError(`${what} returned a body that is not JSON`, false);
    }
  }
}
