import { Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { Logger } from 'pino';
import { Clock } from '../common/clock';
import { Scheduler, type ScheduledTask } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import { AppLogger } from '../logging/app-logger';
import { TwilioDialer, TwilioLookupError, type TwilioCallRecord } from '../twilio/twilio-dialer';
import { AttemptProgress } from './attempt-progress';
import { ANSWERED_BY_VALUES, FINAL_CALL_STATUSES, OutboundAttempts, TWILIO_CALL_STATUSES, type AnsweredBy, type TwilioCallStatus } from './outbound-attempts';
import { OverdueAttempts, type OverdueAttempt } from './overdue-attempts';

/** How often each instance looks for overdue attempts (overdue is at least 10 minutes past the longest call). */
export const RECONCILE_PERIOD_MS = 60_000;
/** Attempts looked up per pass: a backlog (after an outage) is worked off pass by pass. */
export const RECONCILE_BATCH = 20;
/**
 * An attempt picked by a pass is passed over, by every instance, for this long: a little under a
 * period, so that the next pass here takes it again (timers fire late, never early) when its lookup
 * failed or its call was live, and the fleet looks it up about once a period, not once per instance.
 */
const RECHECK_AFTER_MS = RECONCILE_PERIOD_MS - 5_000;

/** What Twilio's record of an overdue call means for its attempt. */
export type LookupVerdict =
  | {
      readonly kind: 'ended';
      readonly status: TwilioCallStatus;
      readonly endedAt: string | null;
      readonly durationSeconds: number | null;
      /** What AMD found, when it is a value this service knows: its callback may have been lost too. */
      readonly answeredBy: AnsweredBy | null;
    }
  /** Queued, ringing or in progress at Twilio: the final callback may yet come. */
  | { readonly kind: 'live'; readonly status: string }
  /** Twilio has no such call (404). */
  | { readonly kind: 'gone' }
  /** A status this service does not know. */
  | { readonly kind: 'unknown'; readonly status: string };

/** Twilio's record of an overdue call (null: Twilio has none) as what to do with its attempt. */
export function lookupVerdict(record: TwilioCallRecord | null): LookupVerdict {
  if (record === null) return { kind: 'gone' };
  if (!(TWILIO_CALL_STATUSES as readonly string[]).includes(record.status)) return { kind: 'unknown', status: record.status };
  if (!FINAL_CALL_STATUSES.has(record.status)) return { kind: 'live', status: record.status };
  const answeredBy = (ANSWERED_BY_VALUES as readonly string[]).includes(record.answeredBy ?? '') ? (record.answeredBy as AnsweredBy) : null;
  return { kind: 'ended', status: record.status as TwilioCallStatus, endedAt: record.endedAt, durationSeconds: record.durationSeconds, answeredBy };
}

/** What a pass did with one overdue attempt: `failed` when Twilio could not be asked or gave a status not known here (tried again next pass). */
export interface Reconciled {
  readonly requestId: string;
  readonly attempt: number;
  readonly result: 'ended' | 'live' | 'gone' | 'failed';
}

/**
 * Ends the outbound attempts whose final status callback never reached us (the service was down,
 * the callback was lost or failed), which would otherwise keep their request `dialing` for ever.
 * Every minute, the attempts with a call and no final status that started longer ago than any call
 * lasts (AppConfig outbound.overdueAfterMs) are looked up at Twilio, a few at a time: an ended call
 * is applied as its status callback would have been (AttemptProgress); a call Twilio does not have
 * ends the attempt as failed, so the request is retried; a live call is left to its callback; a
 * lookup that fails is tried again on the next pass. An attempt is picked by one instance of the
 * fleet per period (OverdueAttempts); should two ever apply the same status, the second changes
 * nothing (attempts move forward only, under a row lock). A request still `dialing` a period after
 * its latest attempt ended (the dialer failed to take the outcome) is given that outcome again.
 * Runs only where calls can be placed.
 */
@Injectable()
export class OutboundReconciler implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log: Logger;
  private readonly overdueAfterMs: number;
  private timer: ScheduledTask | null = null;
  private pass: Promise<Reconciled[]> | null = null;
  private stopped = false;

  constructor(
    private readonly overdue: OverdueAttempts,
    private readonly attempts: OutboundAttempts,
    private readonly progress: AttemptProgress,
    private readonly dialer: TwilioDialer,
    private readonly clock: Clock,
    private readonly scheduler: Scheduler,
    config: AppConfig,
    logger: AppLogger,
  ) {
    this.log = logger.child({ component: 'outbound-reconciler' });
    this.overdueAfterMs = config.outbound.overdueAfterMs;
  }

  onApplicationBootstrap(): void {
    // The dialer logs why once; an instance that cannot place calls cannot look them up either.
    if (this.dialer.unavailableReason) return;
    this.timer = this.scheduler.every(RECONCILE_PERIOD_MS, () => void this.reconcile());
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.pass;
  }

  /** One pass (what the timer runs); a call while one runs joins it. Never rejects: a failed pass is logged. */
  reconcile(): Promise<Reconciled[]> {
    this.pass ??= this.runPass().finally(() => {
      this.pass = null;
    });
    return this.pass;
  }

  private async runPass(): Promise<Reconciled[]> {
    const done: Reconciled[] = [];
    try {
      const now = this.clock.epochMs();
      const iso = (ms: number) => new Date(ms).toISOString();
      const due = await this.overdue.claim(iso(now - this.overdueAfterMs), iso(now - RECHECK_AFTER_MS), iso(now), RECONCILE_BATCH);
      for (const attempt of due) {
        if (this.stopped) break;
        const result = await this.settle(attempt);
        done.push({ requestId: attempt.requestId, attempt: attempt.attempt, result: result === 'unreachable' ? 'failed' : result });
        // The others of the batch come back on the next pass; no point waiting on each here.
        if (result === 'unreachable') break;
      }
      // An outcome the dialer failed to take (a database error midway) is given to it again.
      for (const left of await this.overdue.unsettled(iso(now - RECONCILE_PERIOD_MS), RECONCILE_BATCH)) {
        if (this.stopped) break;
        await this.progress.outcomeNotTaken(left.requestId, left.attempt, left.outcome);
      }
    } catch (err) {
      this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'overdue outbound attempts pass failed; trying again next time');
    }
    return done;
  }

  private async settle(overdue: OverdueAttempt): Promise<Reconciled['result'] | 'unreachable'> {
    const { requestId, attempt, callSid } = overdue;
    const fields = { outboundRequest: requestId, attempt, callSid, startedAt: overdue.startedAt, lastStatus: overdue.status };
    let record: TwilioCallRecord | null;
    try {
      record = await this.dialer.fetchCall(callSid);
    } catch (error) {
      if (!(error instanceof TwilioLookupError)) throw error;
      this.log.warn({ ...fields, reason: error.reason, status: error.status, code: error.code, err: error.message }, 'overdue outbound call not looked up; trying again next time');
      return error.reason === 'unreachable' ? 'unreachable' : 'failed';
    }
    const verdict = lookupVerdict(record);
    const now = new Date(this.clock.epochMs()).toISOString();
    switch (verdict.kind) {
      case 'live':
        this.log.info({ ...fields, twilioStatus: verdict.status }, 'overdue outbound call still live at Twilio: left to its callback');
        return 'live';
      case 'unknown':
        this.log.warn({ ...fields, twilioStatus: verdict.status }, 'overdue outbound call has a status this service does not know; trying again next time');
        return 'failed';
      case 'gone': {
        this.log.warn(fields, 'overdue outbound call unknown to Twilio: attempt ended as failed');
        const state = await this.attempts.dialFailed(requestId, attempt, `Twilio has no call ${callSid} (404 when looked up, its final status never arrived)`, now);
        if (state) await this.progress.outcomeKnown(state);
        return 'gone';
      }
      case 'ended': {
        this.log.info({ ...fields, twilioStatus: verdict.status, answeredBy: verdict.answeredBy }, 'overdue outbound call ended at Twilio: applying its final status');
        // The call has ended: what answered is recorded (first answer stands), nothing is done with it.
        if (verdict.answeredBy) await this.attempts.answeredBy(callSid, verdict.answeredBy, verdict.endedAt ?? now);
        await this.progress.statusReported(
          { callSid, status: verdict.status, at: verdict.endedAt ?? now, durationSeconds: verdict.durationSeconds ?? undefined },
          'lookup',
        );
        return 'ended';
      }
    }
  }
}
