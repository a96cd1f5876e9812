import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Logger } from 'pino';
import { Scheduler, type ScheduledTask } from '../common/scheduler';
import { AppLogger } from '../logging/app-logger';
import { MIGRATIONS, type Migration } from './migrations';
import { SqlClient, type SqlExecutor } from './sql-client';

/**
 * Key of the advisory lock every instance of this service takes around schema changes, so pods
 * booting together apply each migration once. Any fixed number works; it only has to be shared.
 */
export const MIGRATION_LOCK_KEY = 4_270_113_001;

export interface MigrationOutcome {
  /** Applied by this run, in order. */
  readonly applied: readonly Migration[];
  /** Highest version now recorded in the database. */
  readonly version: number;
  /** Versions the database has but this build does not know (a newer build ran, then a rollback). */
  readonly unknown: readonly number[];
}

/**
 * Applies the pending migrations in version order, each in its own transaction together with its
 * row in schema_migrations. Every transaction holds the advisory lock and re-reads what is applied,
 * so concurrent runs wait for one another and skip what another run has done. Running it again
 * applies nothing.
 */
export async function runMigrations(sql: SqlClient, migrations: readonly Migration[] = MIGRATIONS): Promise<MigrationOutcome> {
  const ordered = [...migrations].sort((a, b) => a.version - b.version);
  ordered.forEach((m, i) => {
    if (!Number.isInteger(m.version) || m.version < 1) throw new Error(`migration "${m.name}" has an invalid version ${m.version}`);
    if (i > 0 && ordered[i - 1].version === m.version) throw new Error(`two migrations have version ${m.version}`);
  });

  const lock = (tx: SqlExecutor) => tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
  const appliedVersions = async (tx: SqlExecutor) =>
    new Set((await tx.query<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => Number(r.version)));

  // Under the lock too: concurrent CREATE TABLE IF NOT EXISTS can still collide in the catalog.
  const before = await sql.transaction(async (tx) => {
    await lock(tx);
    await tx.query(`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        version    integer PRIMARY KEY,
        name       text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    return appliedVersions(tx);
  });

  const applied: Migration[] = [];
  for (const migration of ordered.filter((m) => !before.has(m.version))) {
    const ran = await sql.transaction(async (tx) => {
      await lock(tx);
      if ((await appliedVersions(tx)).has(migration.version)) return false;
      await tx.query(migration.sql);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
      return true;
    });
    if (ran) applied.push(migration);
  }

  const known = new Set(ordered.map((m) => m.version));
  return {
    applied,
    version: Math.max(0, ...before, ...known),
    unknown: [...before].filter((v) => !known.has(v)).sort((a, b) => a - b),
  };
}

const RETRY_BASE_MS = 1_000;
const RETRY_MAX_MS = 60_000;

/**
 * Brings the schema up to date before the app serves. When the database cannot be reached at
 * boot, the service still starts (calls do not need the database; the call log buffers and
 * retries its writes): the failure is logged and migrations are retried in the background with
 * exponential backoff. The repository also calls ensureMigrated() before it touches the tables,
 * so the first write after an outage migrates at once instead of waiting for the next retry.
 */
@Injectable()
export class MigrationRunner implements OnModuleInit, OnModuleDestroy {
  private readonly logger: Logger;
  private migrated = false;
  private inflight?: Promise<void>;
  private retryTask?: ScheduledTask;
  private failures = 0;
  private lastError?: string;
  private stopped = false;

  constructor(
    private readonly sql: SqlClient,
    appLogger: AppLogger,
    private readonly scheduler: Scheduler,
  ) {
    this.logger = appLogger.child({ component: 'database' });
  }

  get isMigrated(): boolean {
    return this.migrated;
  }

  /** Why the schema is not yet migrated, when it is not. */
  get pendingReason(): string | undefined {
    return this.migrated ? undefined : (this.lastError ?? 'migrations have not run yet');
  }

  async onModuleInit(): Promise<void> {
    try {
      await this.ensureMigrated();
    } catch {
      this.scheduleRetry();
    }
  }

  /** Stops the background retries; one already running finishes but schedules no other. */
  onModuleDestroy(): void {
    this.stopped = true;
    this.cancelRetry();
  }

  /** Resolves once the schema is current; concurrent callers share one attempt. */
  ensureMigrated(): Promise<void> {
    if (this.migrated) return Promise.resolve();
    this.inflight ??= this.attempt().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async attempt(): Promise<void> {
    try {
      const outcome = await runMigrations(this.sql);
      this.migrated = true;
      this.lastError = undefined;
      this.cancelRetry();
      this.logger.info(
        { backend: this.sql.kind, schemaVersion: outcome.version, applied: outcome.applied.map((m) => `${m.version} ${m.name}`) },
        outcome.applied.length ? 'database migrations applied' : 'database schema up to date',
      );
      if (outcome.unknown.length) {
        this.logger.warn({ unknown: outcome.unknown }, 'database has migrations this build does not know');
      }
    } catch (err) {
      this.failures += 1;
      this.lastError = err instanceof Error ? err.message : String(err);
      // Loud once; an outage then repeats this on every retry and write, so quieter after.
      const level = this.failures === 1 ? 'error' : 'warn';
      this.logger[level]({ err, backend: this.sql.kind, failures: this.failures }, 'database migrations failed');
      throw err;
    }
  }

  /**
   * On the app's scheduler, whose timers keep the process alive: onModuleDestroy cancels the
   * pending retry, so nothing outlives the module.
   */
  private scheduleRetry(): void {
    if (this.stopped || this.migrated || this.retryTask) return;
    const delayMs = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.max(0, this.failures - 1));
    this.logger.info({ delayMs }, 'database migrations will be retried');
    this.retryTask = this.scheduler.after(delayMs, () => {
      this.retryTask = undefined;
      this.ensureMigrated().catch(() => this.scheduleRetry());
    });
  }

  private cancelRetry(): void {
    this.retryTask?.cancel();
    this.retryTask = undefined;
  }
}
