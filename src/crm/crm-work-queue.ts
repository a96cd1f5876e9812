import type { Logger } from 'pino';
import type { Clock } from '../common/clock';
import type { ScheduledTask, Scheduler } from '../common/scheduler';
import type { CallMetrics } from '../metrics/call-metrics';

/**
 * A failure that says whether trying again can help. Anything else a job throws (network error,
 * timeout) is treated as transient.
 */
export class JobError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    /** From a Retry-After header: the next attempt waits at least this long. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'JobError';
  }
}

export interface WorkJob {
  /** Jobs with the same key run one after another, in the order they were queued. */
  readonly key: string;
  /** For logs only; must not carry secrets or phone numbers. */
  readonly name: string;
  run(): Promise<void>;
  /** Runs once the job has finally failed (retries exhausted, not retryable, breaker open, queue full). */
  onFailure?(error: Error): void | Promise<void>;
  /** Runs after success or final failure, e.g. to drop per-call state. */
  onSettled?(): void;
}

/** In [0, 1), for the backoff's jitter; injectable so tests get fixed delays. */
export type Random = () => number;

export interface WorkQueueOptions {
  /** Jobs queued, running or waiting to retry, across all keys. */
  readonly maxPending: number;
  /** Attempts per job, the first included. */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Consecutive transient failures that open the breaker. */
  readonly breakerThreshold: number;
  readonly breakerCoolDownMs: number;
}

export const DEFAULT_QUEUE_OPTIONS: WorkQueueOptions = {
  maxPending: 1000,
  maxAttempts: 5,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  breakerThreshold: 5,
  breakerCoolDownMs: 30_000,
};

export type BreakerState = 'closed' | 'open' | 'half-open';

export class BreakerOpenError extends Error {
  constructor() {
    super('circuit breaker open');
    this.name = 'BreakerOpenError';
  }
}

export class QueueFullError extends Error {
  constructor(max: number) {
    super(`work queue full (${max} jobs)`);
    this.name = 'QueueFullError';
  }
}

/**
 * Runs remote work off the caller's path: bounded, ordered per key, retried with exponential
 * backoff and jitter (Retry-After wins when given), behind a circuit breaker so a failing remote
 * is not hammered. enqueue() never throws and never waits.
 */
export class CrmWorkQueue {
  private readonly options: WorkQueueOptions;
  private readonly lanes = new Map<string, WorkJob[]>();
  private pending = 0;
  private consecutiveFailures = 0;
  private state: BreakerState = 'closed';
  private openedAt = 0;
  private trialInFlight = false;
  /** Retries waiting for their backoff, cancelled on close(). */
  private readonly retries = new Set<ScheduledTask>();
  private readonly idleWaiters: Array<() => void> = [];
  private closed = false;
  private rejectedTotal = 0;
  /** Rejections since the queue last had room: only the first of a run is logged. */
  private rejectedInARow = 0;

  constructor(
    private readonly logger: Logger,
    options: Partial<WorkQueueOptions>,
    /** Monotonic time for the breaker's cool-down. */
    private readonly clock: Clock,
    /** Retry backoff waits. */
    private readonly scheduler: Scheduler,
    /** Counts the jobs that finally failed. */
    private readonly metrics: CallMetrics,
    private readonly random: Random = Math.random,
  ) {
    this.options = { ...DEFAULT_QUEUE_OPTIONS, ...options };
  }

  get size(): number {
    return this.pending;
  }

  /** Jobs turned away since start (queue full or closed). */
  get rejected(): number {
    return this.rejectedTotal;
  }

  get breaker(): BreakerState {
    // Reported as half-open once the cool-down is over, though the trial starts with the next attempt.
    if (this.state === 'open' && this.clock.now() - this.openedAt >= this.options.breakerCoolDownMs) return 'half-open';
    return this.state;
  }

  /** False when the job was rejected (queue full or closed); its failure handler has then been scheduled. */
  enqueue(job: WorkJob): boolean {
    if (this.closed || this.pending >= this.options.maxPending) {
      const error = this.closed ? new Error('work queue closed') : new QueueFullError(this.options.maxPending);
      this.rejectedTotal++;
      // A remote that is down fills the queue and every later job bounces: one line, then a count.
      if (this.rejectedInARow++ === 0) this.logger.error({ job: job.name, err: error.message, pending: this.pending }, 'CRM job rejected');
      // Asynchronously, so the caller of enqueue() is never re-entered.
      queueMicrotask(() => void this.settleFailed(job, error));
      return false;
    }
    if (this.rejectedInARow > 0) {
      this.logger.warn({ rejected: this.rejectedInARow }, 'CRM queue has room again');
      this.rejectedInARow = 0;
    }
    this.pending++;
    const lane = this.lanes.get(job.key);
    if (lane) {
      lane.push(job);
    } else {
      this.lanes.set(job.key, [job]);
      queueMicrotask(() => this.attempt(job, 1));
    }
    return true;
  }

  /** Resolves once no job is queued, running or waiting to retry. */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops retry timers; queued jobs are abandoned (shutdown). */
  close(): void {
    this.closed = true;
    for (const retry of this.retries) retry.cancel();
    this.retries.clear();
  }

  private attempt(job: WorkJob, attempt: number): void {
    if (this.closed) return;
    const admission = this.admit();
    if (admission === 'reject') {
      this.logger.warn({ job: job.name, attempt }, 'CRM job failed fast: circuit breaker open');
      void this.finish(job, new BreakerOpenError());
      return;
    }
    const trial = admission === 'trial';
    job.run().then(
      () => {
        this.recordSuccess(trial);
        void this.finish(job, undefined);
      },
      (raw: unknown) => {
        const error = raw instanceof Error ? raw : new Error(String(raw));
        const retryable = !(error instanceof JobError) || error.retryable;
        if (retryable) this.recordFailure(trial);
        else if (trial) this.trialInFlight = false;
        const retryAfterMs = error instanceof JobError ? error.retryAfterMs : undefined;
        if (!retryable || attempt >= this.options.maxAttempts) {
          this.logger.error({ job: job.name, attempt, err: error.message, retryable }, 'CRM job failed');
          void this.finish(job, error);
          return;
        }
        const delayMs = retryAfterMs ?? this.backoff(attempt);
        this.logger.warn({ job: job.name, attempt, err: error.message, delayMs }, 'CRM job attempt failed; retrying');
        const retry = this.scheduler.after(delayMs, () => {
          this.retries.delete(retry);
          this.attempt(job, attempt + 1);
        });
        this.retries.add(retry);
      },
    );
  }

  /** Full-range exponential backoff with jitter in its upper half, so retries of many calls spread out. */
  private backoff(attempt: number): number {
    const ceiling = Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** (attempt - 1));
    return Math.round(ceiling / 2 + (ceiling / 2) * this.random());
  }

  private admit(): 'run' | 'trial' | 'reject' {
    if (this.state === 'closed') return 'run';
    if (this.state === 'open') {
      if (this.clock.now() - this.openedAt < this.options.breakerCoolDownMs) return 'reject';
      this.state = 'half-open';
      this.logger.info('CRM circuit breaker half-open: sending one trial request');
    }
    if (this.trialInFlight) return 'reject';
    this.trialInFlight = true;
    return 'trial';
  }

  private recordSuccess(trial: boolean): void {
    this.consecutiveFailures = 0;
    if (trial) this.trialInFlight = false;
    if (this.state !== 'closed') {
      this.state = 'closed';
      this.logger.info('CRM circuit breaker closed');
    }
  }

  private recordFailure(trial: boolean): void {
    this.consecutiveFailures++;
    if (trial) this.trialInFlight = false;
    if (trial || (this.state === 'closed' && this.consecutiveFailures >= this.options.breakerThreshold)) {
      this.state = 'open';
      this.openedAt = this.clock.now();
      this.logger.error(
        { consecutiveFailures: this.consecutiveFailures, coolDownMs: this.options.breakerCoolDownMs },
        'CRM circuit breaker open',
      );
    }
  }

  /** Settles `job`, then starts the next job of its lane. */
  private async finish(job: WorkJob, error: Error | undefined): Promise<void> {
    if (error) await this.settleFailed(job, error);
    else this.settle(job);
    this.pending--;
    const lane = this.lanes.get(job.key);
    lane?.shift();
    const next = lane?.[0];
    if (next) this.attempt(next, 1);
    else this.lanes.delete(job.key);
    if (this.pending === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private async settleFailed(job: WorkJob, error: Error): Promise<void> {
    this.metrics.crmFailure();
    try {
      await job.onFailure?.(error);
    } catch (handlerError) {
      this.logger.error({ job: job.name, err: String(handlerError) }, 'CRM job failure handler threw');
    }
    this.settle(job);
  }

  private settle(job: WorkJob): void {
    try {
      job.onSettled?.();
    } catch (handlerError) {
      this.logger.error({ job: job.name, err: String(handlerError) }, 'CRM job settle handler threw');
    }
  }
}
