import { randomUUID } from 'node:crypto';
import PgBoss from 'pg-boss';
import type { Logger } from 'pino';
import { CoalescingRunner } from '../common/coalescing-runner';
import type { Clock } from '../common/clock';
import { raceTimeout, TIMED_OUT } from '../common/race-timeout';
import type { Scheduler } from '../common/scheduler';
import { WakeTimer } from '../common/wake-timer';
import type { SqlClient } from '../database/sql-client';
import { JobQueue, type JobHandler, type SendOptions, type WorkOptions } from './job-queue';
import { SqlClientDb } from './sql-client-db';

export interface PgBossJobQueueOptions {
  /** PostgreSQL schema of pg-boss's tables, created on first use. */
  readonly schema: string;
  /**
   * How often this process looks for due jobs it was not told of: sent by another instance, or
   * released by another instance's maintenance. Jobs sent here, and the start times and lease
   * expiries it can read, wake the workers when they are due without waiting for this.
   */
  readonly pollMs: number;
  /** A worker's lease on a job: a job held longer (its worker died) is handed out again. */
  readonly expireSeconds: number;
  /** Runs after the first that a failing (or expired) job gets; then it stays failed. */
  readonly retryLimit?: number;
  /** Wait before a failed job runs again; doubled each time (with jitter) when retryBackoff. */
  readonly retryDelaySeconds?: number;
  readonly retryBackoff?: boolean;
  /** How long stop() waits for the jobs in hand. */
  readonly stopTimeoutMs?: number;
  /** How often, at the least, expired leases are released and finished jobs archived; max(pollMs, 10 min) by default. */
  readonly maintenanceMs?: number;
}

export interface PgBossJobQueueDeps {
  readonly scheduler: Scheduler;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** What `inspect()` tells of a job, for tests and diagnostics. */
export interface JobRecord {
  readonly id: string;
  readonly state: 'created' | 'retry' | 'active' | 'completed' | 'cancelled' | 'failed';
  readonly retryCount: number;
  readonly startAfter: Date;
  readonly singletonKey: string | null;
}

interface Running {
  done: Promise<void>;
  readonly abort: AbortController;
  /** stop() gave up waiting: what the handler returns is no longer recorded. */
  abandoned: boolean;
}

interface Runner {
  readonly name: string;
  readonly handler: JobHandler<unknown>;
  readonly concurrency: number;
  readonly inFlight: Map<string, Running>;
}

interface DueRow {
  readonly name: string;
  readonly next_start: Date | null;
  readonly next_expiry: Date | null;
}

/** Workers wake this long after a due time: pg-boss takes jobs whose start_after < now(), strictly. */
const WAKE_MARGIN_MS = 20;
/** A job due but not fetched (held by a fetch in flight elsewhere, or the database clock behind ours): look again this soon. */
const RECHECK_MS = 250;
/** After a failed round trip, look again this soon (or at the poll, if sooner). */
const ERROR_RETRY_MS = 5_000;
const DEFAULT_MAINTENANCE_MS = 10 * 60_000;

/**
 * JobQueue on pg-boss (10.x), through our SqlClient: PostgreSQL, or the embedded PGlite.
 *
 * pg-boss keeps the jobs (its schema and migrations), hands each one out once (`FOR UPDATE SKIP
 * LOCKED`), retries failures, releases expired leases and archives finished jobs. Its own timers
 * are off (no `supervise`, no `schedule`, no `work()` loops): this class fetches, completes and
 * fails jobs itself, on the app's Scheduler, so that an idle queue makes no queries until a job is
 * due. That matters on PGlite, whose worker stops after 30 s without a query to give its memory
 * back: pg-boss's own workers poll every 2 s and its maintenance every 2 min. Here a worker asks
 * for jobs when one is sent, when the earliest start time or lease expiry it read from the
 * database comes, when a handler finishes, and every `pollMs` (for what other instances sent).
 *
 * A job is worked by one handler at a time as long as handlers finish within their lease: the
 * handler's signal is aborted shortly before it ends, and an outcome that comes after is not
 * recorded (the job then comes back, as if the worker had died).
 */
export class PgBossJobQueue extends JobQueue {
  private readonly boss: PgBoss;
  private readonly logger: Logger;
  private readonly scheduler: Scheduler;
  private readonly clock: Clock;
  private readonly retryLimit: number;
  private readonly retryDelaySeconds: number;
  private readonly retryBackoff: boolean;
  private readonly stopTimeoutMs: number;
  private readonly maintenanceMs: number;
  private readonly queues = new Map<string, Promise<void>>();
  private readonly runners = new Map<string, Runner>();
  private starting?: Promise<void>;
  private started = false;
  private stopping?: Promise<void>;
  private readonly timer: WakeTimer;
  private readonly rounds = new CoalescingRunner(
    () => this.round(),
    () => this.stopping !== undefined,
  );
  /** Next full maintenance (expire, archive, drop); 0: at the first round. */
  private maintainAt = 0;
  /** Next release of expired leases alone, when a lease read from the database runs out. */
  private expireAt = Infinity;

  constructor(
    private readonly sql: SqlClient,
    private readonly options: PgBossJobQueueOptions,
    deps: PgBossJobQueueDeps,
  ) {
    super();
    if (!(options.expireSeconds >= 1)) throw new RangeError(`expireSeconds must be at least 1, not ${options.expireSeconds}`);
    if (!(options.pollMs > 0)) throw new RangeError(`pollMs must be above 0, not ${options.pollMs}`);
    this.scheduler = deps.scheduler;
    this.clock = deps.clock;
    this.timer = new WakeTimer(deps.clock, deps.scheduler, () => void this.tick());
    this.logger = deps.logger;
    this.retryLimit = options.retryLimit ?? 5;
    this.retryDelaySeconds = options.retryDelaySeconds ?? 10;
    this.retryBackoff = options.retryBackoff ?? true;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
    this.maintenanceMs = options.maintenanceMs ?? Math.max(options.pollMs, DEFAULT_MAINTENANCE_MS);
    this.boss = new PgBoss({
      db: new SqlClientDb(sql),
      schema: options.schema,
      supervise: false,
      schedule: false,
      migrate: true,
    });
    this.boss.on('error', (err) => this.logger.warn({ err }, 'job queue error'));
  }

  start(): Promise<void> {
    if (this.stopping) return Promise.reject(new Error('job queue is stopped'));
    this.starting ??= this.boss.start().then(
      () => {
        this.started = true;
        this.logger.info({ schema: this.options.schema, backend: this.sql.kind }, 'job queue started');
      },
      (err: unknown) => {
        // Tried again by the next call: the database may be back by then.
        this.starting = undefined;
        throw err;
      },
    );
    return this.starting;
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.timer.clear();
      await this.starting?.catch(() => undefined);
      await this.rounds.current;
      const running = [...this.runners.values()].flatMap((r) => [...r.inFlight.values()]);
      if (running.length > 0) {
        const outcome = await raceTimeout(Promise.allSettled(running.map((r) => r.done)), this.stopTimeoutMs, this.scheduler);
        if (outcome === TIMED_OUT) {
          const left = running.filter((r) => !r.abandoned);
          for (const r of left) {
            r.abandoned = true;
            r.abort.abort(new Error('job queue stopped'));
          }
          this.logger.warn({ jobs: left.length, waitedMs: this.stopTimeoutMs }, 'job queue stopped with jobs in hand; they come back when their lease expires');
        }
      }
      if (this.started) await this.boss.stop({ graceful: false, close: false });
    })();
    return this.stopping;
  }

  async send<T extends object>(name: string, data: T, options: SendOptions = {}): Promise<string | null> {
    await this.ready(name);
    // The queue's 'short' policy allows one waiting job per key, and a job without one counts as
    // key '': a job sent without a key gets its own id as its key.
    const jobId = randomUUID();
    const id = await this.boss.send(name, data, {
      id: jobId,
      startAfter: options.startAfter,
      singletonKey: options.singletonKey ?? jobId,
      expireInSeconds: this.options.expireSeconds,
      retryLimit: this.retryLimit,
      retryDelay: this.retryDelaySeconds,
      retryBackoff: this.retryBackoff,
    });
    if (id !== null && this.runners.has(name)) this.armTimer((options.startAfter?.getTime() ?? this.clock.epochMs()) + WAKE_MARGIN_MS);
    return id;
  }

  async work<T>(name: string, handler: JobHandler<T>, options: WorkOptions = {}): Promise<void> {
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a whole number above 0, not ${concurrency}`);
    if (this.runners.has(name)) throw new Error(`queue ${name} is already worked`);
    await this.ready(name);
    this.runners.set(name, { name, handler: handler as JobHandler<unknown>, concurrency, inFlight: new Map() });
    void this.tick();
  }

  async cancel(name: string, id: string): Promise<boolean> {
    await this.ready(name);
    // Typed as void; pg-boss returns how many jobs it changed.
    const result = (await this.boss.cancel(name, id)) as unknown as { affected?: number } | undefined;
    return (result?.affected ?? 0) > 0;
  }

  /** The stored job, or null when there is none (or it has been archived). */
  async inspect(name: string, id: string): Promise<JobRecord | null> {
    await this.ready(name);
    const job = await this.boss.getJobById(name, id);
    return job && { id: job.id, state: job.state, retryCount: job.retryCount, startAfter: job.startAfter, singletonKey: job.singletonKey === job.id ? null : job.singletonKey };
  }

  private async ready(name: string): Promise<void> {
    if (this.stopping) throw new Error('job queue is stopped');
    await this.start();
    let created = this.queues.get(name);
    if (!created) {
      // 'short': at most one job per singleton key waiting to start (pg-boss's unique index).
      created = this.boss.createQueue(name, {
        name,
        policy: 'short',
        retryLimit: this.retryLimit,
        retryDelay: this.retryDelaySeconds,
        retryBackoff: this.retryBackoff,
        expireInSeconds: this.options.expireSeconds,
      });
      this.queues.set(name, created);
      created.catch(() => this.queues.delete(name));
    }
    await created;
  }

  /** One round at a time; a round asked for meanwhile runs right after. Never rejects. */
  private tick(): Promise<void> {
    return this.rounds.run();
  }

  /** Releases expired leases when due, fills free slots, and sets the timer for the next round. */
  private async round(): Promise<void> {
    this.timer.clear();
    if (this.stopping) return;
    let next = this.clock.epochMs() + this.options.pollMs;
    try {
      if (this.clock.epochMs() >= this.maintainAt) {
        await this.boss.maintain();
        this.maintainAt = this.clock.epochMs() + this.maintenanceMs;
        this.expireAt = Infinity;
      } else if (this.clock.epochMs() >= this.expireAt) {
        await this.boss.expire();
        this.expireAt = Infinity;
      }
      const withRoom = new Set<string>();
      for (const runner of this.runners.values()) {
        const slots = runner.concurrency - runner.inFlight.size;
        if (slots <= 0) continue;
        const jobs = await this.boss.fetch<unknown>(runner.name, { batchSize: slots, includeMetadata: true });
        // A job fetched is held (state active) whether or not stop() began meanwhile: run it, and stop() waits for it.
        for (const job of jobs) this.run(runner, job);
        if (jobs.length < slots) withRoom.add(runner.name);
      }
      const now = this.clock.epochMs();
      for (const row of await this.due()) {
        if (row.next_start && withRoom.has(row.name)) next = Math.min(next, Math.max(row.next_start.getTime() + WAKE_MARGIN_MS, now + RECHECK_MS));
        // A lease running out: release it then (maintenance), and the job is due again at once (or after its retry delay).
        if (row.next_expiry) this.expireAt = Math.min(this.expireAt, row.next_expiry.getTime() + WAKE_MARGIN_MS);
      }
      next = Math.min(next, Math.max(Math.min(this.maintainAt, this.expireAt), now + RECHECK_MS));
    } catch (err) {
      this.logger.warn({ err }, 'job queue could not reach the database; trying again');
      next = this.clock.epochMs() + Math.min(this.options.pollMs, ERROR_RETRY_MS);
    }
    this.armTimer(next);
  }

  /** Per queue worked here: the earliest start of a job waiting, and the earliest lease expiry of one held. */
  private due(): Promise<DueRow[]> {
    const s = this.options.schema;
    return this.sql.query<DueRow>(
      `SELECT name,
              min(start_after) FILTER (WHERE state < 'active') AS next_start,
              min(started_on + expire_in) FILTER (WHERE state = 'active') AS next_expiry
         FROM ${s}.job
        WHERE name = ANY($1::text[]) AND state <= 'active'
        GROUP BY name`,
      [[...this.runners.keys()]],
    );
  }

  private run(runner: Runner, job: PgBoss.JobWithMetadata<unknown>): void {
    const abort = new AbortController();
    // Given up a little before the database's lease ends (it started before the fetch returned).
    const leaseMs = job.expireInSeconds * 1000 - Math.min(5_000, (job.expireInSeconds * 1000) / 5);
    let leaseLost = false;
    const lease = this.scheduler.after(leaseMs, () => {
      leaseLost = true;
      abort.abort(new Error('job lease expired'));
    });
    const entry: Running = { abort, abandoned: false, done: Promise.resolve() };
    entry.done = (async () => {
      let failure: { error: unknown } | undefined;
      try {
        await runner.handler({ id: job.id, name: job.name, data: job.data, retryCount: job.retryCount, signal: abort.signal });
      } catch (error) {
        failure = { error };
      } finally {
        lease.cancel();
      }
      if (leaseLost || entry.abandoned) {
        this.logger.warn({ queue: job.name, jobId: job.id, leaseLost }, 'job outlived its lease: outcome not recorded, the job comes back');
        return;
      }
      try {
        if (failure) {
          const message = failure.error instanceof Error ? failure.error.message : String(failure.error);
          this.logger.warn({ queue: job.name, jobId: job.id, retryCount: job.retryCount, err: failure.error }, 'job failed');
          await this.boss.fail(job.name, job.id, { message });
        } else {
          await this.boss.complete(job.name, job.id);
        }
      } catch (err) {
        this.logger.warn({ err, queue: job.name, jobId: job.id }, 'job outcome not recorded: the job comes back when its lease expires');
      }
    })().finally(() => {
      runner.inFlight.delete(job.id);
      if (!this.stopping) void this.tick();
    });
    runner.inFlight.set(job.id, entry);
  }

  private armTimer(at: number): void {
    if (this.stopping || this.runners.size === 0) return;
    this.timer.arm(at);
  }
}
