import { Injectable } from '@nestjs/common';
import { isValidPhoneNumber } from 'libphonenumber-js';
import type { Logger } from 'pino';
import { CallLogRepository } from '../call-log/call-record';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app-config';
import { AppLogger } from '../logging/app-logger';
import { DoNotCallList } from './do-not-call';
import { OutboundDialer } from './outbound-dialer';
import { newOutboundRequestId, OutboundRequests } from './outbound-request';

/** How an inbound call ended, as the callback rule needs it. */
export interface EndedInboundCall {
  readonly callSid: string;
  readonly from: string;
  readonly direction: 'inbound' | 'outbound';
  /** The record's end reason (twilio_stop, caller_silent, hangup, transferred…). */
  readonly endReason: string;
  readonly jobRequestSaved: boolean;
  readonly companyName: string;
}

/** A caller the agent meant to keep, or a line that failed, never one the agent or a person ended on purpose. */
const CALLBACK_REASONS: ReadonlySet<string> = new Set([
  'twilio_stop',
  'twilio_closed',
  'caller_silent',
  'shutdown',
  'ttl_expired',
  'twilio_backpressure',
  'realtime_connect_failed',
  'realtime_reopen_failed',
  'realtime_closed',
  'realtime_misconfigured',
]);

/** A number that called lately with a job request saved already has its job. */
const JOB_LOOKBACK_MS = 30 * 24 * 60 * 60 * 1000;

/** Whether this ended call asks for a callback at all (before the database is asked). */
export function wantsCallback(call: EndedInboundCall): boolean {
  return call.direction === 'inbound' && !call.jobRequestSaved && CALLBACK_REASONS.has(call.endReason) && isValidPhoneNumber(call.from);
}

/**
 * OUTBOUND_AUTO_CALLBACK: an inbound call that ended before a job request was saved (the caller
 * hung up, dropped, went silent, or the line failed) gets one callback request, unless the number
 * already has a job on record, an open request, or is on the do-not-call list. Consent is the
 * call itself (callbackOf); one request per call (its idempotency key).
 */
@Injectable()
export class AutomaticCallbacks {
  private readonly log: Logger;

  constructor(
    private readonly requests: OutboundRequests,
    private readonly dnc: DoNotCallList,
    private readonly calls: CallLogRepository,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly dialer: OutboundDialer,
    logger: AppLogger,
  ) {
    this.log = logger.child({ component: 'outbound' });
  }

  /** Never throws, never awaited by the call: what fails is logged. */
  callEnded(call: EndedInboundCall): void {
    if (!this.config.outbound.autoCallback || !wantsCallback(call)) return;
    this.request(call).catch((err: unknown) => this.log.warn({ callSid: call.callSid, err: err instanceof Error ? err.message : String(err) }, 'automatic callback not requested'));
  }

  /** Resolves to the request id, or null when none is due. */
  async request(call: EndedInboundCall): Promise<string | null> {
    const now = this.clock.epochMs();
    if (await this.dnc.has(call.from)) return null;
    if (await this.requests.hasOpenRequest(call.from)) return null;
    if (await this.calls.hasJobRequestFrom(call.from, new Date(now - JOB_LOOKBACK_MS).toISOString())) return null;
    const { request, created } = await this.requests.create(
      {
        id: newOutboundRequestId(),
        to: call.from,
        purpose: `returning your call to ${call.companyName}`,
        consent: null,
        callbackOf: call.callSid,
        timezone: null,
        notBefore: null,
        metadata: { automatic: true, endReason: call.endReason },
        idempotencyKey: `callback:${call.callSid}`,
      },
      new Date(now).toISOString(),
      new Date(now).toISOString(),
    );
    if (!created) return null;
    await this.dialer.enqueue(request);
    this.log.info({ callSid: call.callSid, outboundRequest: request.id }, 'automatic callback requested');
    return request.id;
  }
}
