import { Module, type BeforeApplicationShutdown } from '@nestjs/common';
import { Clock } from '../common/clock';
import { CommonModule } from '../common/common.module';
import { Scheduler } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import { SqlClient } from '../database/sql-client';
import { AppLogger } from '../logging/app-logger';
import { JobQueue } from './job-queue';
import { PgBossJobQueue } from './pg-boss-job-queue';

/** JOBS_POLL_SECONDS unset on PostgreSQL: other instances' jobs are seen within this. */
export const POSTGRES_POLL_MS = 5_000;
/**
 * JOBS_POLL_SECONDS unset on the embedded database: one process sends every job, and its workers
 * are woken when one is due; the poll is a safety net, far apart so that the embedded database
 * can stop while idle (it stops after 30 s without a query).
 */
export const PGLITE_POLL_MS = 3_600_000;

export function createJobQueue(config: AppConfig, sql: SqlClient, scheduler: Scheduler, clock: Clock, appLogger: AppLogger): JobQueue {
  return new PgBossJobQueue(
    sql,
    {
      schema: config.jobs.schema,
      pollMs: config.jobs.pollMs ?? (sql.kind === 'pglite' ? PGLITE_POLL_MS : POSTGRES_POLL_MS),
      expireSeconds: config.jobs.expireSeconds,
    },
    { scheduler, clock, logger: appLogger.child({ component: 'jobs' }) },
  );
}

/**
 * The durable job queue, on the app's database (the global DatabaseModule's SqlClient). Nothing
 * starts at boot: the queue creates its schema and starts looking for jobs on the first send() or
 * work(). It stops before the database closes (beforeApplicationShutdown comes before
 * DatabaseModule's onApplicationShutdown), waiting a bounded time for the jobs in hand.
 */
@Module({
  imports: [CommonModule],
  providers: [{ provide: JobQueue, inject: [AppConfig, SqlClient, Scheduler, Clock, AppLogger], useFactory: createJobQueue }],
  exports: [JobQueue],
})
export class JobsModule implements BeforeApplicationShutdown {
  constructor(private readonly queue: JobQueue) {}

  async beforeApplicationShutdown(): Promise<void> {
    await this.queue.stop();
  }
}
