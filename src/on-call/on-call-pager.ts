import { Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { Logger } from 'pino';
import { CallLogRepository } from '../call-log/call-record';
import { modelSummaryOf } from '../call-log/call-summary';
import { Clock } from '../common/clock';
import { Scheduler, type ScheduledTask } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import { JobQueue, type Job } from '../jobs/job-queue';
import { AppLogger } from '../logging/app-logger';
import { OnCallSms, SmsError } from './on-call-sms';
import { pageMessage } from './page-message';
import { decide, type EscalationState } from './paging-policy';
import { PagingStore, type Escalation, type PageDelivery } from './paging-store';

/** The queue of "what next for this emergency" jobs. */
export const PAGE_QUEUE = 'on-call-page';

export interface PageJob {
  readonly callSid: string;
  /** The step the job was sent for: with the call, its singleton key. What it does is decided when it runs. */
  readonly step: number;
}

/**
 * Runs of a page job that find Twilio unreachable before the page counts as failed and the next
 * person is paged (the queue retries a failed run after 10 s, then with growing delays).
 */
export const SEND_ATTEMPTS = 3;
const WORK_RETRY_MS = 30_000;
/**
 * How often the emergencies still paging are checked for a next step that is due but has no job
 * to do it (its job failed past the queue's retries, say through a long database outage).
 */
export const SWEEP_MS = 60_000;
/** A page claimed this long ago and still not known to be sent lost its job: it counts as failed. */
export const STUCK_SENDING_MS = 5 * 60_000;
/** An emergency still paging this long after it was raised (every job lost meanwhile) is given up, not paged out of the blue. */
export const MAX_PAGING_AGE_MS = 24 * 60 * 60_000;
/** Where Twilio reports the delivery of a page (with PUBLIC_BASE_URL). */
export const PAGE_STATUS_PATH = '/twilio/sms/status';

const iso = (ms: number): string => new Date(ms).toISOString();

/** The policy's view of what is recorded. */
export function escalationState(e: Escalation): EscalationState {
  return {
    people: e.people,
    status: e.status,
    pages: e.pages.map((p) => ({ step: p.step, status: p.status, sentAt: p.sentAt === null ? null : Date.parse(p.sentAt), answer: p.answer })),
  };
}

/**
 * Works emergencies on the durable queue, one job per step: each job asks the PagingPolicy what is
 * next from what is recorded and the clock, and does it (pages the next person, waits, gives up).
 * After a page goes, the job for the next step is queued due when the ack timeout runs out; an
 * answer (YES) found then ends it. Jobs survive restarts and are shared by the instances; the
 * singleton key (call and step) keeps one queued per step, and the page row's key keeps one SMS
 * per step whoever runs it. A page Twilio refuses, or its person declines, moves on at once.
 */
@Injectable()
export class OnCallPager implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log: Logger;
  private readonly ackTimeoutMs: number;
  private readonly linkBase: string | undefined;
  private readonly company: string;
  private retry: ScheduledTask | null = null;
  private sweeper: ScheduledTask | null = null;
  private stopped = false;

  constructor(
    private readonly store: PagingStore,
    private readonly queue: JobQueue,
    private readonly sms: OnCallSms,
    private readonly clock: Clock,
    private readonly scheduler: Scheduler,
    config: AppConfig,
    logger: AppLogger,
    private readonly records: CallLogRepository,
  ) {
    this.log = logger.child({ component: 'on-call' });
    this.ackTimeoutMs = config.onCall.ackTimeoutMs;
    this.linkBase = config.calls.publicBaseUrl;
    this.company = config.operator.companyName;
  }

  /** Works the queue where pages can be sent; without Twilio credentials or SMS_FROM_NUMBER jobs wait for an instance that can. */
  onApplicationBootstrap(): void {
    const unavailable = this.sms.unavailableReason;
    if (unavailable) {
      this.log.info({ why: unavailable }, 'emergency pages are not sent by this instance');
      return;
    }
    this.work();
    this.sweeper = this.scheduler.every(SWEEP_MS, () => {
      this.sweep().catch((err: unknown) => this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'emergencies not swept: the database cannot be reached'));
    });
  }

  onModuleDestroy(): void {
    this.stopped = true;
    this.retry?.cancel();
    this.sweeper?.cancel();
  }

  /**
   * Queues the step due now of every emergency still paging that has one (a job that does it is
   * queued once per step; a second finds it done), and gives up a page whose sending job was lost.
   */
  async sweep(): Promise<void> {
    const now = this.clock.epochMs();
    for (const escalation of await this.store.paging(100)) {
      if (this.stopped) return;
      const { callSid } = escalation;
      if (Date.parse(escalation.startedAt) < now - MAX_PAGING_AGE_MS) {
        if (await this.store.giveUp(callSid, iso(now))) this.log.error({ callSid }, 'emergency not taken: still paging a day after it was raised; given up');
        continue;
      }
      const action = decide(escalationState(escalation), now, this.ackTimeoutMs);
      if (action.kind === 'page') await this.schedule(callSid, action.step, null);
      else if (action.kind === 'give-up') await this.schedule(callSid, escalation.people.length, null);
      else if (action.kind === 'sending') {
        const page = escalation.pages.find((p) => p.step === action.step);
        if (!page || Date.parse(page.claimedAt) > now - STUCK_SENDING_MS) continue;
        await this.store.failed(callSid, action.step, 'not known to be sent: its job was lost');
        this.log.warn({ callSid, step: action.step, person: page.personId }, 'on-call page lost while being sent: paging the next person');
        await this.schedule(callSid, action.step + 1, null);
      }
    }
  }

  /**
   * Twilio's final delivery report of a message: a page that did not reach its person (phone off,
   * number unreachable) moves on to the next person at once, not when the ack timeout runs out.
   */
  async delivery(messageSid: string, delivery: PageDelivery, errorCode: number | null): Promise<void> {
    const page = await this.store.delivered(messageSid, delivery, errorCode, iso(this.clock.epochMs()));
    if (!page) return;
    const facts = { callSid: page.callSid, step: page.step, messageSid, delivery, errorCode };
    if (!page.failed) {
      this.log.info(facts, 'on-call page delivery reported');
      return;
    }
    this.log.warn(facts, 'on-call page not delivered: paging the next person');
    await this.schedule(page.callSid, page.step + 1, null);
  }

  /** Starts paging for an emergency already recorded: its first step, due now. Rejects when the queue cannot take it. */
  async start(callSid: string): Promise<void> {
    await this.schedule(callSid, 0, null);
  }

  /** The next step now, not when the ack timeout runs out (a page was declined). */
  async moveOn(callSid: string, step: number): Promise<void> {
    await this.schedule(callSid, step, null);
  }

  /** A job came due: do what the policy says is next. */
  async due(job: Job<PageJob>): Promise<void> {
    const { callSid } = job.data;
    const log = this.log.child({ callSid });
    const escalation = await this.store.get(callSid);
    if (!escalation) {
      log.warn({ step: job.data.step }, 'page job for an emergency not on record: dropped');
      return;
    }
    const now = this.clock.epochMs();
    const action = decide(escalationState(escalation), now, this.ackTimeoutMs);
    switch (action.kind) {
      case 'done':
        return;
      case 'wait':
        await this.schedule(callSid, action.step, action.until);
        return;
      case 'give-up':
        if (await this.store.giveUp(callSid, iso(now))) {
          log.error({ paged: escalation.pages.map((p) => p.personId) }, 'emergency not taken: nobody on call answered the pages');
        }
        return;
      case 'sending': {
        // Claimed by an earlier run of this very job, which failed or died: send it again (two texts beat none).
        const page = escalation.pages.find((p) => p.step === action.step);
        if (page?.claimedBy === job.id) await this.send(escalation, action.step, job, log);
        return;
      }
      case 'page':
        if (!(await this.store.claim(callSid, action.step, escalation.people[action.step], job.id, iso(now)))) return;
        await this.send(escalation, action.step, job, log);
    }
  }

  private async send(escalation: Escalation, step: number, job: Job<PageJob>, log: Logger): Promise<void> {
    const { callSid } = escalation;
    const person = escalation.people[step];
    // A run that lost its lease must not text someone another worker may text too.
    if (job.signal.aborted) throw new Error('the job lease ran out before the page was sent');
    // The call's page in the console, readable on the phone the page reaches.
    const link = this.linkBase ? `${this.linkBase}/console/#/calls/${callSid}` : undefined;
    const body = pageMessage(escalation.facts.business ?? this.company, escalation.facts, link, await this.summaryOf(callSid, log));
    let messageSid: string;
    try {
      messageSid = await this.sms.send(person.mobile, body, this.linkBase ? `${this.linkBase}${PAGE_STATUS_PATH}` : undefined);
    } catch (err) {
      if (!(err instanceof SmsError)) throw err;
      if (err.reason === 'unreachable' && job.retryCount < SEND_ATTEMPTS - 1) {
        log.warn({ step, person: person.id, attempt: job.retryCount + 1, err: err.message }, 'on-call page not sent: Twilio unreachable; the job is retried');
        throw err;
      }
      await this.store.failed(callSid, step, err.message);
      log.warn({ step, person: person.id, reason: err.reason, err: err.message }, 'on-call page failed: paging the next person');
      await this.schedule(callSid, step + 1, null);
      return;
    }
    const sentAt = this.clock.epochMs();
    await this.store.sent(callSid, step, messageSid, iso(sentAt));
    log.info({ step, person: person.id, messageSid, of: escalation.people.length }, 'on-call page sent');
    await this.schedule(callSid, step + 1, sentAt + this.ackTimeoutMs);
  }

  /** The call's written summary when one is on its record (the call has ended); never in the way of the page. */
  private async summaryOf(callSid: string, log: Logger): Promise<string | null> {
    try {
      const record = await this.records.get(callSid);
      return record ? modelSummaryOf(record.details) : null;
    } catch (err) {
      log.warn({ err: err instanceof Error ? err.message : String(err) }, 'call record not read for its summary: the page goes with the facts');
      return null;
    }
  }

  /**
   * Queues the job for `step`, due at `at` (null: now). One queued per call and step and due time
   * kind: a job due now (a decline, a failed page) is not held back by the one queued for the ack
   * timeout; whichever runs second finds the step done.
   */
  private async schedule(callSid: string, step: number, at: number | null): Promise<void> {
    const due = at !== null && at > this.clock.epochMs();
    const key = due ? `${callSid}:${step}` : `${callSid}:${step}:now`;
    await this.queue.send<PageJob>(PAGE_QUEUE, { callSid, step }, { startAfter: due ? new Date(at) : undefined, singletonKey: key });
    if (due) this.log.info({ callSid, step, at: iso(at) }, 'next on-call step scheduled');
  }

  /** Starts working the queue; while the database cannot be reached, tries again in the background. */
  private work(): void {
    this.queue.work<PageJob>(PAGE_QUEUE, (job) => this.due(job)).then(
      () => this.log.info('emergency pages are sent by this instance'),
      (err: unknown) => {
        if (this.stopped) return;
        this.log.warn({ err: err instanceof Error ? err.message : String(err), retryMs: WORK_RETRY_MS }, 'page queue not worked yet: the database cannot be reached');
        this.retry = this.scheduler.after(WORK_RETRY_MS, () => this.work());
      },
    );
  }
}
