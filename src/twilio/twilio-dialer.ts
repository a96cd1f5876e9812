import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { Logger } from 'pino';
import { Clock } from '../common/clock';
import { Pacer } from '../common/pacer';
import { Scheduler } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import { AppLogger } from '../logging/app-logger';
import { createTwilioClient, describeTwilioFailure, type TwilioClient } from './twilio-client';

/** Where the calls Twilio places report back, under PUBLIC_BASE_URL. */
export const OUTBOUND_WEBHOOK_PATHS = { voice: '/twilio/voice', status: '/twilio/status', amd: '/twilio/amd' } as const;

/**
 * Query parameters naming the outbound request and attempt on every URL given to Twilio for a call.
 * Twilio signs the whole URL, query included, so the webhooks can trust what they read back.
 */
export const OUTBOUND_REQUEST_PARAM = 'outboundRequest';
export const OUTBOUND_ATTEMPT_PARAM = 'attempt';

/** The call progress events Twilio posts to the status callback. */
export const STATUS_CALLBACK_EVENTS = ['initiated', 'ringing', 'answered', 'completed'] as const;

export interface DialRequest {
  /** E.164. */
  readonly to: string;
  /** E.164 caller ID; OUTBOUND_CALLER_ID when left out. */
  readonly from?: string;
  /** The outbound request this call attempts, and which attempt it is (1, 2, …). */
  readonly requestId: string;
  readonly attempt: number;
}

export interface DialResult {
  /** The new call's SID (CA…). */
  readonly callSid: string;
  /** Twilio's status of the call as created, normally `queued`. */
  readonly status: string;
}

/**
 * A dial that did not place a call. `not_configured`: the service lacks what dialling needs (no
 * request was made); `rejected`: Twilio answered with an error (`status`, `code` are Twilio's);
 * `unreachable`: no answer from Twilio (network, timeout): the call may or may not have been created.
 */
export class TwilioDialError extends Error {
  constructor(
    message: string,
    readonly reason: 'not_configured' | 'rejected' | 'unreachable',
    readonly status?: number,
    readonly code?: number,
  ) {
    super(message);
    this.name = 'TwilioDialError';
  }
}

/** A call as Twilio has it now. */
export interface TwilioCallRecord {
  readonly callSid: string;
  /** Twilio's CallStatus: queued, ringing, in-progress, or a final one (completed, busy, no-answer, failed, canceled). */
  readonly status: string;
  /** When the call ended (ISO 8601); null while it has not, or when it was never answered. */
  readonly endedAt: string | null;
  /** How long the call lasted (Twilio's duration); null for one never answered or not ended. */
  readonly durationSeconds: number | null;
  /** What answering-machine detection found (human, machine_end_beep, fax…); null when it found nothing. */
  readonly answeredBy: string | null;
}

/** A call lookup Twilio did not answer with the call or a 404 (reasons as TwilioDialError's). */
export class TwilioLookupError extends Error {
  constructor(
    message: string,
    readonly reason: 'not_configured' | 'rejected' | 'unreachable',
    readonly status?: number,
    readonly code?: number,
  ) {
    super(message);
    this.name = 'TwilioLookupError';
  }
}

/**
 * Places outbound calls through Twilio's REST API (Calls.json create): the call fetches its TwiML
 * from the voice webhook, reports progress to /twilio/status, and runs answering-machine detection
 * in the background (DetectMessageEnd, reported to /twilio/amd). Dials are paced to
 * OUTBOUND_DIALS_PER_SECOND on this instance, in the order dial() was called. fetchCall() reads a
 * call's status back, for an attempt whose final status callback never arrived.
 */
@Injectable()
export class TwilioDialer implements OnModuleDestroy {
  private readonly client: TwilioClient | null;
  private readonly pacer: Pacer;
  private readonly logger: Logger;
  private readonly publicBaseUrl: string | undefined;
  private readonly callerId: string | undefined;
  private readonly ringSeconds: number;
  private readonly maxCallSeconds: number;

  constructor(config: AppConfig, clock: Clock, scheduler: Scheduler, appLogger: AppLogger) {
    this.logger = appLogger.child({ component: 'twilio-dialer' });
    this.client = createTwilioClient(config);
    this.pacer = new Pacer(config.outbound.dialsPerSecond, clock, scheduler);
    this.publicBaseUrl = config.calls.publicBaseUrl;
    this.callerId = config.outbound.callerId;
    this.ringSeconds = config.outbound.ringSeconds;
    this.maxCallSeconds = config.outbound.maxCallSeconds;
  }

  /** Why dialling is impossible with this configuration, or null when it can dial. */
  get unavailableReason(): string | null {
    const missing = [
      this.client ? null : 'TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN',
      this.publicBaseUrl ? null : 'PUBLIC_BASE_URL (the address Twilio calls back)',
      this.callerId ? null : 'OUTBOUND_CALLER_ID (the number calls come from)',
    ].filter((m): m is string => m !== null);
    return missing.length ? `outbound calls need ${missing.join(', ')}` : null;
  }

  /**
   * Starts a call to `to`, once a paced slot is free. Resolves when Twilio has created it (normally
   * `queued`); its progress arrives later at the status and AMD callbacks. Rejects with TwilioDialError.
   */
  async dial(request: DialRequest): Promise<DialResult> {
    const from = request.from ?? this.callerId;
    const { requestId, attempt } = request;
    if (!this.client || !this.publicBaseUrl || !from) {
      const reason = this.client && this.publicBaseUrl ? 'outbound calls need OUTBOUND_CALLER_ID (the number calls come from)' : this.unavailableReason;
      throw new TwilioDialError(`Cannot dial for outbound request ${requestId}: ${reason}`, 'not_configured');
    }
    if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError(`attempt must be a whole number from 1, not ${attempt}`);
    const url = (path: string) => outboundWebhookUrl(this.publicBaseUrl!, path, requestId, attempt);
    await this.pacer.slot();
    this.logger.info({ requestId, attempt, to: request.to }, 'dialling');
    try {
      const call = await this.client.calls.create({
        to: request.to,
        from,
        url: url(OUTBOUND_WEBHOOK_PATHS.voice),
        method: 'POST',
        statusCallback: url(OUTBOUND_WEBHOOK_PATHS.status),
        statusCallbackMethod: 'POST',
        statusCallbackEvent: [...STATUS_CALLBACK_EVENTS],
        machineDetection: 'DetectMessageEnd',
        asyncAmd: 'true',
        asyncAmdStatusCallback: url(OUTBOUND_WEBHOOK_PATHS.amd),
        asyncAmdStatusCallbackMethod: 'POST',
        timeout: this.ringSeconds,
        // A bound on every call: an attempt past it without a final status is overdue (OutboundReconciler).
        timeLimit: this.maxCallSeconds,
      });
      this.logger.info({ requestId, attempt, callSid: call.sid, status: call.status }, 'dialled');
      return { callSid: call.sid, status: call.status };
    } catch (error) {
      // Only the derived fields: the raw error (an axios error) carries the Authorization header.
      const failure = describeTwilioFailure(`Twilio refused or failed to create the call for outbound request ${requestId} attempt ${attempt}`, error);
      this.logger.warn({ requestId, attempt, status: failure.status, code: failure.code, err: failure.message }, 'dial failed');
      throw new TwilioDialError(failure.message, failure.status === undefined ? 'unreachable' : 'rejected', failure.status, failure.code);
    }
  }

  /**
   * Twilio's record of a call (Calls/{Sid}.json fetch): its status now and, once it has ended, when
   * and how long it lasted. Null when Twilio has no such call (404). Rejects with
   * TwilioLookupError for anything else. Not paced: Twilio's calls-per-second limit is on creating calls.
   */
  async fetchCall(callSid: string): Promise<TwilioCallRecord | null> {
    if (!this.client) throw new TwilioLookupError(`Cannot look up call ${callSid}: ${this.unavailableReason}`, 'not_configured');
    try {
      const call = await this.client.calls(callSid).fetch();
      const duration = call.duration === null || call.duration === undefined || call.duration === '' ? null : Number(call.duration);
      return {
        callSid: call.sid,
        status: call.status,
        endedAt: validDate(call.endTime)?.toISOString() ?? null,
        durationSeconds: duration !== null && Number.isInteger(duration) && duration >= 0 ? duration : null,
        answeredBy: call.answeredBy || null,
      };
    } catch (error) {
      const failure = describeTwilioFailure(`Twilio did not give call ${callSid}`, error);
      if (failure.status === 404) return null;
      throw new TwilioLookupError(failure.message, failure.status === undefined ? 'unreachable' : 'rejected', failure.status, failure.code);
    }
  }

  onModuleDestroy(): void {
    this.pacer.stop();
  }
}

/** `${base}${path}?outboundRequest=…&attempt=…`, the URL Twilio requests (and signs) for this attempt. */
export function outboundWebhookUrl(publicBaseUrl: string, path: string, requestId: string, attempt: number): string {
  const query = new URLSearchParams({ [OUTBOUND_REQUEST_PARAM]: requestId, [OUTBOUND_ATTEMPT_PARAM]: String(attempt) });
  return `${publicBaseUrl.replace(/\/+$/, '')}${path}?${query.toString()}`;
}

/** twilio-node parses RFC 2822 dates and leaves what it cannot parse (null, an empty string) as it was. */
function validDate(value: unknown): Date | null {
  return value instanceof Date && !Number.isNaN(value.getTime()) ? value : null;
}
