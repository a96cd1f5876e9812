import { Inject, Injectable, Optional, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type { Logger } from 'pino';
import { CoalescingRunner } from '../common/coalescing-runner';
import { Clock } from '../common/clock';
import { raceTimeout, TIMED_OUT } from '../common/race-timeout';
import { Scheduler } from '../common/scheduler';
import { WakeTimer } from '../common/wake-timer';
import { AppConfig } from '../config/app-config';
import { SqlClient } from '../database/sql-client';
import { PGLITE_POLL_MS, POSTGRES_POLL_MS } from '../jobs/jobs.module';
import { AppLogger } from '../logging/app-logger';
import { CallMetrics } from '../metrics/call-metrics';
import { decide, describeResult, type RetryPolicy } from './delivery-policy';
import { WebhookOutbox, type ClaimedDelivery } from './webhook-outbox';
import { receiverOf, WebhookSender } from './webhook-sender';
import { WebhookSigner } from './webhook-signer';

export interface WebhookDispatcherOptions {
  /** Attempts this process makes at once. */
  readonly concurrency: number;
  /** How long a claimed delivery is held beyond the request timeout: a worker that died lets go after it. */
  readonly leaseMarginMs: number;
  /** After the database could not be reached, look again this soon (or at the poll, if sooner). */
  readonly errorRetryMs: number;
  /** In [0, 1): the jitter of each retry's wait. */
  readonly random: () => number;
  /** At shutdown, how long attempts in flight may go on before they are given up (and retried later). */
  readonly shutdownWaitMs: number;
}

export const WEBHOOK_DISPATCHER_OPTIONS = Symbol('WEBHOOK_DISPATCHER_OPTIONS');

/** A delivery due but not claimed: look again this soon. */
const RECHECK_MS = 250;

const DEFAULTS: WebhookDispatcherOptions = { concurrency: 4, leaseMarginMs: 30_000, errorRetryMs: 5_000, random: Math.random, shutdownWaitMs: 5_000 };

/**
 * Sends what the outbox owes the receivers. A round takes the deliveries that are due (one worker
 * at a time per delivery, across the fleet), makes one signed attempt at each, records what it came
 * to (delivered, retried later, or failed for good, as decide() says), and sets a timer for the
 * next due one. Rounds run when an event is added here, when an attempt ends, at that timer, and
 * every JOBS_POLL_SECONDS for what another instance left; so an idle outbox makes no queries
 * until something is due, and the embedded database may stop while idle.
 *
 * Exactly once at the receiver, by event id: an event is made once per call (its id comes from the
 * Call SID), and a delivery is tried until it gets a 2xx and then never again. An attempt whose
 * answer was lost (the process died, the receiver answered after the timeout) is made again with
 * the same webhook-id, which receivers deduplicate on.
 */
@Injectable()
export class WebhookDispatcher implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly urls: readonly string[];
  private readonly policy: RetryPolicy;
  private readonly signer: WebhookSigner | null;
  private readonly pollMs: number;
  private readonly leaseMs: number;
  private readonly timeoutMs: number;
  private readonly options: WebhookDispatcherOptions;
  private readonly log: Logger;
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Aborts the requests in flight when shutdown stops waiting for them. */
  private readonly cancel = new AbortController();
  private readonly timer: WakeTimer;
  private readonly rounds = new CoalescingRunner(
    () => this.round(),
    () => this.stopped,
  );
  private started = false;
  private stopped = false;

  constructor(
    private readonly outbox: WebhookOutbox,
    private readonly sender: WebhookSender,
    private readonly clock: Clock,
    private readonly scheduler: Scheduler,
    sql: SqlClient,
    config: AppConfig,
    logger: AppLogger,
    private readonly metrics: CallMetrics,
    @Optional() @Inject(WEBHOOK_DISPATCHER_OPTIONS) options?: Partial<WebhookDispatcherOptions> | null,
  ) {
    const w = config.webhooks;
    this.urls = w.urls;
    this.policy = { maxAttempts: w.maxAttempts, maxAgeMs: w.maxAgeMs, baseDelayMs: w.retryBaseMs, maxDelayMs: w.retryMaxMs };
    this.signer = w.urls.length > 0 && w.secret ? new WebhookSigner(w.secret) : null;
    this.pollMs = config.jobs.pollMs ?? (sql.kind === 'pglite' ? PGLITE_POLL_MS : POSTGRES_POLL_MS);
    this.options = { ...DEFAULTS, ...options };
    this.timeoutMs = w.timeoutMs;
    this.leaseMs = w.timeoutMs + this.options.leaseMarginMs;
    this.log = logger.child({ component: 'webhooks' });
    this.timer = new WakeTimer(clock, scheduler, () => void this.tick());
  }

  /** Whether webhooks are configured here. */
  get enabled(): boolean {
    return this.signer !== null;
  }

  onApplicationBootstrap(): void {
    if (!this.enabled) return;
    this.started = true;
    this.log.info({ receivers: this.urls.map(receiverOf), maxAttempts: this.policy.maxAttempts }, 'webhooks on');
    void this.tick();
  }

  /** Something may be due now (an event was added, a delivery retried): a round soon. Never throws. */
  wake(): void {
    if (this.started && !this.stopped) void this.tick();
  }

  /**
   * Stops taking deliveries and lets the attempts in flight finish, for shutdownWaitMs at most: then
   * they are given up, recorded as failed attempts, and retried later (by the next process, or
   * another instance). Bounded, so that a slow receiver does not eat the shutdown's time budget.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.timer.clear();
    await this.rounds.current;
    if (this.inFlight.size === 0) return;
    const outcome = await raceTimeout(Promise.allSettled(this.inFlight.values()), Math.min(this.timeoutMs, this.options.shutdownWaitMs), this.scheduler);
    if (outcome !== TIMED_OUT) return;
    this.log.warn({ attempts: this.inFlight.size }, 'webhook attempts given up at shutdown; they will be retried');
    this.cancel.abort();
    await Promise.allSettled(this.inFlight.values());
  }

  /** One round at a time; one asked for meanwhile runs right after. Never rejects. */
  tick(): Promise<void> {
    return this.rounds.run();
  }

  /** Resolves once no round runs and no attempt is in flight (for tests). */
  async settled(): Promise<void> {
    while (this.rounds.current || this.inFlight.size > 0) {
      await this.rounds.current;
      await Promise.allSettled(this.inFlight.values());
    }
  }

  private async round(): Promise<void> {
    if (this.stopped || !this.signer) return;
    this.timer.clear();
    const now = this.clock.epochMs();
    let next = now + this.pollMs;
    try {
      const free = this.options.concurrency - this.inFlight.size;
      // An attempt still in flight here is not taken again, even past its hold (a stalled event loop, a jumped clock).
      const claimed = free > 0 ? await this.outbox.claim(this.urls, now, free, this.leaseMs, [...this.inFlight.keys()]) : [];
      for (const delivery of claimed) this.start(delivery);
      // With every slot busy, an attempt ending starts the next round.
      if (this.inFlight.size < this.options.concurrency) {
        const due = await this.outbox.nextDue(this.urls);
        // Due already yet not claimed: held by another instance's claim in flight; look again shortly.
        if (due !== null) next = Math.min(next, Math.max(due, this.clock.epochMs() + RECHECK_MS));
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'webhook outbox unreachable; trying again');
      next = this.clock.epochMs() + Math.min(this.pollMs, this.options.errorRetryMs);
    }
    this.arm(next);
  }

  private start(delivery: ClaimedDelivery): void {
    const done = this.attempt(delivery).finally(() => {
      this.inFlight.delete(delivery.id);
      if (!this.stopped) void this.tick();
    });
    this.inFlight.set(delivery.id, done);
  }

  private async attempt(d: ClaimedDelivery): Promise<void> {
    const fields = { eventId: d.eventId, deliveryId: d.id, receiver: receiverOf(d.url), attempt: d.attempt };
    const result = await this.sender.send(d.url, this.signer!.sign(d.eventId, this.clock.epochMs(), d.body), d.body, this.cancel.signal);
    const now = this.clock.epochMs();
    const decision = decide(result, { attempts: d.attempt, eventCreatedAt: d.eventCreatedAt, now, random: this.options.random() }, this.policy);
    const httpStatus = result.kind === 'response' ? result.status : null;
    const error = describeResult(result) ?? '';
    try {
      switch (decision.action) {
        case 'delivered':
          if (await this.outbox.settle(d.id, d.attempt, { status: 'delivered', httpStatus: httpStatus! }, now)) {
            this.metrics.webhookAttempt('delivered');
            this.log.info({ ...fields, status: httpStatus }, 'webhook delivered');
          }
          return;
        case 'retry':
          if (await this.outbox.settle(d.id, d.attempt, { status: 'pending', nextAttemptAt: decision.at, httpStatus, error }, now)) {
            this.metrics.webhookAttempt('retried');
            this.log.warn({ ...fields, error, retryAt: new Date(decision.at).toISOString() }, 'webhook attempt failed; will retry');
          }
          return;
        case 'fail':
          if (await this.outbox.settle(d.id, d.attempt, { status: 'failed', httpStatus, error: `${error}; ${decision.reason}` }, now)) {
            this.metrics.webhookAttempt('failed');
            this.log.error({ ...fields, error, reason: decision.reason }, 'webhook delivery failed');
          }
          return;
      }
    } catch (err) {
      // The hold runs out and the delivery is attempted again: the receiver may see this event twice, by the same id.
      this.log.warn({ ...fields, err: (err as Error).message }, 'webhook attempt not recorded; it will be made again');
    }
  }

  private arm(at: number): void {
    if (!this.stopped) this.timer.arm(at);
  }
}
