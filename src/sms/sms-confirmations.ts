import { Injectable, type OnApplicationBootstrap, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import type { Logger } from 'pino';
import { CallDetailSources } from '../call-log/call-detail-sources';
import type { CallRecord } from '../call-log/call-record';
import { modelSummaryOf, summaryDetailOf } from '../call-log/call-summary';
import { EndedCallHooks, type EndedCallHook } from '../call-log/ended-call-hooks';
import { Clock } from '../common/clock';
import { Scheduler, type ScheduledTask } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import type { JobRequest } from '../crm/crm.port';
import type { SqlExecutor } from '../database/sql-client';
import { AppLogger } from '../logging/app-logger';
import { OnCallSms, SmsError } from '../on-call/on-call-sms';
import { CallSummaries } from '../summary/call-summaries';
import { confirmationBody, confirmationReference } from './confirmation-message';
import { SmsConfirmationStore, type NewConfirmation } from './confirmation-store';
import { SmsOptOuts } from './sms-opt-outs';

/** Twilio's error for a message to a number that replied STOP. */
export const TWILIO_OPTED_OUT = 21610;
/** Sends that find Twilio unreachable before the confirmation counts as failed. */
export const CONFIRMATION_ATTEMPTS = 3;
/** How often pending confirmations are looked for (left by a restart, an outage, an unreachable Twilio). */
export const SWEEP_MS = 30_000;

/** A record written this long after its call ended (a spool file replayed late) gets no text: it would come out of the blue. */
export const MAX_CONFIRMATION_DELAY_MS = 24 * 60 * 60 * 1000;

const MOBILE_TYPES = new Set(['MOBILE', 'FIXED_LINE_OR_MOBILE']);

/** The number as E.164 when it is valid and may take texts (mobile, or a region that does not tell), else null. */
export function textableNumber(raw: string | undefined, region: string): string | null {
  if (!raw) return null;
  const parsed = parsePhoneNumberFromString(raw, region as CountryCode);
  if (!parsed?.isValid()) return null;
  const type = parsed.getType();
  return type !== undefined && MOBILE_TYPES.has(type) ? parsed.number : null;
}

function jobRequestOf(record: CallRecord): JobRequest | null {
  const job = record.details.jobRequest;
  return job && typeof job === 'object' ? job : null;
}

/** Where a confirmation for this call goes: the callback number given, else the caller's own number. */
export function confirmationNumber(record: CallRecord, job: JobRequest, region: string): string | null {
  const callback = job.callbackNumberUnverified ? null : textableNumber(job.callbackNumber, region);
  return callback ?? textableNumber(record.direction === 'outbound' ? record.to : record.from, region);
}

/**
 * SMS_CONFIRMATIONS: a text to the caller when a call ends with a saved job request. The text is
 * put in an outbox row in the same transaction as the call's ended record (an EndedCallHook), so a
 * database outage or a restart loses nothing; it is sent from there right after the commit, or by
 * the sweep of whichever instance can send texts. A row is claimed before its text goes (at most
 * one text per call), and the opt-out list is checked right before each send.
 *
 * The text tells the problem in the call's written summary's words when there is one: while the
 * summary is being made, the row is held (as the call.ended webhook is) until the summary's
 * deadline; the record's next write, with the summary made or failed, gives the row its final text
 * and releases it. A summary that never comes (the instance died) leaves the facts' text to go at
 * the end of the hold.
 */
@Injectable()
export class SmsConfirmations implements EndedCallHook, OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  private readonly log: Logger;
  private readonly enabled: boolean;
  private readonly region: string;
  private readonly company: string;
  private readonly callbackMinutes: number;
  private sweep: ScheduledTask | null = null;
  private draining: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(
    private readonly hooks: EndedCallHooks,
    private readonly details: CallDetailSources,
    private readonly store: SmsConfirmationStore,
    private readonly optOuts: SmsOptOuts,
    private readonly sms: OnCallSms,
    private readonly clock: Clock,
    private readonly scheduler: Scheduler,
    config: AppConfig,
    logger: AppLogger,
    private readonly summaries: CallSummaries,
  ) {
    this.log = logger.child({ component: 'sms-confirmations' });
    this.enabled = config.sms.confirmations;
    this.region = config.tools.defaultPhoneRegion;
    this.company = config.operator.companyName;
    this.callbackMinutes = config.onCall.callbackMinutes;
  }

  onModuleInit(): void {
    this.details.register('smsConfirmation', (callSids) => this.store.forCalls(callSids));
    if (this.enabled) this.hooks.add(this);
  }

  onApplicationBootstrap(): void {
    if (!this.enabled || this.sms.unavailableReason) return;
    this.sweep = this.scheduler.every(SWEEP_MS, () => this.wake());
    this.wake();
  }

  onModuleDestroy(): void {
    this.stopped = true;
    this.sweep?.cancel();
  }

  /** What to write for this ended record: nothing without a job request. */
  confirmationFor(record: CallRecord): NewConfirmation | null {
    const job = jobRequestOf(record);
    if (!job) return null;
    const at = new Date(this.clock.epochMs()).toISOString();
    const reference = confirmationReference(record.callSid);
    const base = { callSid: record.callSid, reference, at, notBefore: null };
    const endedAt = record.endedAt === null ? NaN : Date.parse(record.endedAt);
    if (endedAt < this.clock.epochMs() - MAX_CONFIRMATION_DELAY_MS) return { ...base, to: null, body: null, status: 'skipped', reason: 'too-late' };
    const unavailable = this.sms.unavailableReason;
    if (unavailable) return { ...base, to: null, body: null, status: 'skipped', reason: 'sms-not-configured' };
    const to = confirmationNumber(record, job, this.region);
    if (!to) return { ...base, to: null, body: null, status: 'skipped', reason: 'no-mobile-number' };
    const body = confirmationBody({ business: this.company, reference, job, callbackMinutes: this.callbackMinutes, summary: modelSummaryOf(record.details) });
    const holdUntil = this.summaries.holdUntil(record);
    return { ...base, to, body, status: 'pending', reason: null, notBefore: holdUntil === null ? null : new Date(holdUntil).toISOString() };
  }

  async written(tx: SqlExecutor, record: CallRecord): Promise<void> {
    const confirmation = this.confirmationFor(record);
    if (!confirmation) return;
    const added = await this.store.add(tx, confirmation);
    // Written before with its summary on the way: now that it is here (or failed), out it goes.
    if (!added && confirmation.body !== null && summaryDetailOf(record.details) !== null) await this.store.release(tx, record.callSid, confirmation.body);
  }

  committed(record: CallRecord): void {
    if (jobRequestOf(record)) this.wake();
  }

  /** Sends what is pending, in the background; a wake while sending runs another round after it. */
  wake(): void {
    if (this.stopped || this.sms.unavailableReason) return;
    if (this.draining) {
      this.again = true;
      return;
    }
    this.draining = this.drain()
      .catch((err: unknown) => this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'SMS confirmations not sent yet: the database cannot be reached'))
      .finally(() => {
        this.draining = null;
        if (this.again && !this.stopped) {
          this.again = false;
          this.wake();
        }
      });
  }

  /** Resolves when the round in progress (if any) is over: for tests and shutdown. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    for (const callSid of await this.store.pending(20, this.now())) {
      if (this.stopped) return;
      await this.sendOne(callSid);
    }
  }

  private now(): string {
    return new Date(this.clock.epochMs()).toISOString();
  }

  private async sendOne(callSid: string): Promise<void> {
    const claimed = await this.store.claim(callSid, this.now());
    if (!claimed) return;
    const log = this.log.child({ callSid });
    let optedOut: boolean;
    try {
      optedOut = await this.optOuts.has(claimed.to);
    } catch (err) {
      // Not sent yet: hand it back for the next round (if this fails too, it stays claimed and unsent).
      await this.store.settle(callSid, 'pending', this.now());
      throw err;
    }
    if (optedOut) {
      await this.store.settle(callSid, 'skipped', this.now(), { reason: 'opted-out' });
      log.info('SMS confirmation skipped: the number opted out');
      return;
    }
    let messageSid: string;
    try {
      messageSid = await this.sms.send(claimed.to, claimed.body);
    } catch (err) {
      if (!(err instanceof SmsError)) throw err;
      if (err.code === TWILIO_OPTED_OUT) {
        await this.optOuts.add(claimed.to, `twilio-${TWILIO_OPTED_OUT}`, this.now());
        await this.store.settle(callSid, 'skipped', this.now(), { reason: 'opted-out' });
        log.info('SMS confirmation skipped: Twilio says the number opted out (21610); recorded');
        return;
      }
      if (err.reason === 'unreachable' && claimed.attempts < CONFIRMATION_ATTEMPTS) {
        await this.store.settle(callSid, 'pending', this.now());
        log.warn({ attempt: claimed.attempts, err: err.message }, 'SMS confirmation not sent: Twilio unreachable; tried again later');
        return;
      }
      await this.store.settle(callSid, 'failed', this.now(), { reason: err.message });
      log.warn({ reason: err.reason, err: err.message }, 'SMS confirmation failed');
      return;
    }
    await this.store.settle(callSid, 'sent', this.now(), { messageSid });
    log.info({ messageSid }, 'SMS confirmation sent');
  }
}
