import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import type { Logger } from 'pino';
import { CalleeLocator } from '../calling-rules/callee-location';
import { CallingWindow, type CallingPlan } from '../calling-rules/calling-window';
import { RetrySchedule } from '../calling-rules/retry-schedule';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app-config';
import { JobQueue, type Job } from '../jobs/job-queue';
import { AppLogger } from '../logging/app-logger';
import { TwilioDialer, TwilioDialError } from '../twilio/twilio-dialer';
import { DialGate, MAX_ATTEMPTS_PER_DAY } from './dial-gate';
import { DoNotCallList } from './do-not-call';
import { AttemptOutcomes, OutboundAttempts, type AttemptOutcome } from './outbound-attempts';
import { OutboundRequests, type OutboundRequest } from './outbound-request';

/** The queue of "try to dial request X now" jobs. */
export const DIAL_QUEUE = 'outbound-dial';
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Outcomes that end a request: the callee was reached, or a message left, or the number is a fax
 * line no retry will change. The others (no-answer, busy, failed, a machine with no message left)
 * are retried at the next slot.
 */
const FINAL_OUTCOMES: Partial<Record<AttemptOutcome, { status: 'completed' | 'exhausted'; reason: string }>> = {
  completed: { status: 'completed', reason: 'answered' },
  voicemail: { status: 'completed', reason: 'voicemail message left' },
  fax: { status: 'exhausted', reason: 'a fax machine answered' },
};

interface DialJob {
  readonly requestId: string;
}

/**
 * Works the outbound requests: each due request is a job on the durable queue (at most one queued
 * per request). Right before each dial the DialGate decides from fresh facts (the request, the
 * do-not-call list, the number's attempts in the last 24 hours across instances, the callee's
 * calling window); the request is claimed by one worker of the fleet, its attempt recorded, and
 * the call placed through Twilio. What the attempt comes to (the status and AMD callbacks) ends the
 * request or schedules its retry at the next slot. Works only where calls can be placed
 * (OUTBOUND_CALLER_ID and Twilio credentials); requests made elsewhere wait in the queue.
 */
@Injectable()
export class OutboundDialer extends AttemptOutcomes implements OnApplicationBootstrap {
  private readonly window: CallingWindow;
  private readonly retries: RetrySchedule;
  private readonly gate: DialGate;
  private readonly log: Logger;

  constructor(
    private readonly requests: OutboundRequests,
    private readonly attempts: OutboundAttempts,
    private readonly dnc: DoNotCallList,
    private readonly locator: CalleeLocator,
    private readonly queue: JobQueue,
    private readonly dialer: TwilioDialer,
    private readonly clock: Clock,
    config: AppConfig,
    logger: AppLogger,
  ) {
    super();
    this.window = new CallingWindow(config.callingRules.window);
    this.retries = new RetrySchedule(this.window, config.callingRules.retry);
    this.gate = new DialGate(this.window, config.callingRules.retry.horizonMs);
    this.log = logger.child({ component: 'outbound' });
  }

  async onApplicationBootstrap(): Promise<void> {
    const unavailable = this.dialer.unavailableReason;
    if (unavailable) {
      this.log.info({ why: unavailable }, 'outbound calls are not dialled by this instance');
      return;
    }
    await this.queue.work<DialJob>(DIAL_QUEUE, (job) => this.due(job));
  }

  /** Puts the request on the queue, due at its next attempt (at most one queued job per request). */
  async enqueue(request: Pick<OutboundRequest, 'id' | 'nextAttemptAt'>): Promise<void> {
    const startAfter = request.nextAttemptAt ? new Date(request.nextAttemptAt) : undefined;
    await this.queue.send<DialJob>(DIAL_QUEUE, { requestId: request.id }, { startAfter, singletonKey: request.id });
  }

  /** The request's job is due: dial it, defer it, or end it. */
  async due(job: Job<DialJob>): Promise<void> {
    const request = await this.requests.get(job.data.requestId);
    if (request?.status === 'dialing' && job.retryCount > 0) {
      await this.recover(request);
      return;
    }
    if (!request || request.status !== 'queued') return;
    const now = this.clock.epochMs();
    const plan = await this.plan(request);
    const decision = this.gate.decide({
      now,
      status: request.status,
      createdAt: Date.parse(request.createdAt),
      notBefore: request.notBefore ? Date.parse(request.notBefore) : null,
      onDoNotCallList: await this.dnc.has(request.to),
      recentAttempts: await this.attempts.recentAttempts(request.to, new Date(now - DAY_MS).toISOString()),
      plan,
    });
    switch (decision.action) {
      case 'drop':
        return;
      case 'finish':
        await this.requests.finish(request.id, decision.status, decision.reason);
        this.log.info({ outboundRequest: request.id, status: decision.status, reason: decision.reason }, 'outbound request ended before a dial');
        return;
      case 'defer':
        await this.schedule(request.id, decision.at, decision.reason);
        return;
      case 'dial':
        // A run that has lost its lease must not place a call another worker may place too.
        if (job.signal.aborted) throw new Error('the job lease ran out before the dial');
        if ((await this.dial(request, now)) === 'capped') {
          // Another worker dialled the number after the gate looked, and the cap has no room left: decide again on the new facts.
          this.log.info({ outboundRequest: request.id }, 'outbound dial capped by a dial at the same number elsewhere: deciding again');
          await this.due(job);
        }
    }
  }

  /** Hears what an attempt came to (status and AMD callbacks), and ends the request or schedules its retry. */
  async attemptEnded(requestId: string, attempt: number, outcome: AttemptOutcome): Promise<void> {
    const request = await this.requests.get(requestId);
    // Only the latest attempt of a request still dialling decides; a repeat (AMD after the hang-up) finds it ended.
    if (!request || request.status !== 'dialing' || request.attempts.at(-1)?.attempt !== attempt) return;
    const final = FINAL_OUTCOMES[outcome];
    if (final) {
      await this.requests.finish(requestId, final.status, final.reason);
      this.log.info({ outboundRequest: requestId, attempt, outcome, status: final.status }, 'outbound request ended');
      return;
    }
    const startedAt = Date.parse(request.attempts.at(-1)!.startedAt);
    const next = this.retries.next(Math.max(startedAt, this.clock.epochMs()), Date.parse(request.createdAt), await this.plan(request));
    if (next.kind === 'exhausted') {
      await this.requests.finish(requestId, 'exhausted', `${outcome} on attempt ${attempt}; no retry slot left`);
      this.log.info({ outboundRequest: requestId, attempt, outcome }, 'outbound request exhausted');
      return;
    }
    await this.schedule(requestId, next.at, outcome);
  }

  /**
   * This job's earlier run died between claiming the request and recording its call (the worker was
   * killed, or lost its lease). Twilio may or may not have placed that call, so it is not dialled
   * again now: the attempt is ended as failed and the request retried at the next slot, hours
   * later at the soonest. Neither lost, nor called twice in a row.
   */
  private async recover(request: OutboundRequest): Promise<void> {
    const last = request.attempts.at(-1);
    if (!last || last.callSid !== null) return;
    const at = new Date(this.clock.epochMs()).toISOString();
    await this.attempts.dialFailed(request.id, last.attempt, 'the worker stopped during the dial; the call may have been placed', at);
    this.log.warn({ outboundRequest: request.id, attempt: last.attempt }, 'outbound dial interrupted: retrying at the next slot');
    await this.attemptEnded(request.id, last.attempt, 'failed');
  }

  /**
   * Claims the request and dials it. The claim counts the number's attempts again, under a lock on
   * the number, as the gate did (an attempt exactly 24 hours old no longer counts): `capped` when
   * other workers' dials at the number filled the cap after the gate read it.
   */
  private async dial(request: OutboundRequest, now: number): Promise<'capped' | undefined> {
    const attempt = await this.requests.claim(request.id, { max: MAX_ATTEMPTS_PER_DAY, since: new Date(now - DAY_MS).toISOString() });
    if (attempt === 'capped') return 'capped';
    if (attempt === null) return;
    try {
      const { callSid } = await this.dialer.dial({ to: request.to, requestId: request.id, attempt });
      await this.attempts.dialed(request.id, attempt, callSid);
      this.log.info({ outboundRequest: request.id, attempt, callSid }, 'outbound call placed');
    } catch (err) {
      if (!(err instanceof TwilioDialError)) throw err;
      this.log.warn({ outboundRequest: request.id, attempt, reason: err.reason, status: err.status, code: err.code }, 'outbound dial failed');
      await this.attempts.dialFailed(request.id, attempt, err.message, new Date(this.clock.epochMs()).toISOString());
      await this.attemptEnded(request.id, attempt, 'failed');
    }
  }

  private async schedule(requestId: string, at: number, reason: string): Promise<void> {
    const iso = new Date(at).toISOString();
    if (!(await this.requests.requeue(requestId, iso, reason))) return;
    await this.enqueue({ id: requestId, nextAttemptAt: iso });
    this.log.info({ outboundRequest: requestId, at: iso, reason }, 'outbound dial scheduled');
  }

  private async plan(request: OutboundRequest): Promise<CallingPlan> {
    return this.window.plan({ location: await this.locator.locate(request.to), timeZone: request.timezone });
  }
}
