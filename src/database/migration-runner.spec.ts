import pino from 'pino';
import { LogCapture } from '../../test/support/log-capture';
import { ManualScheduler } from '../common/scheduler';
import type { AppLogger } from '../logging/app-logger';
import { MigrationRunner, runMigrations } from './migration-runner';
import { MIGRATIONS, type Migration } from './migrations';
import { SqlClient, type SqlExecutor } from './sql-client';
import { sqlTestBackends, type SqlTestDatabase } from './sql-test-backends';

// Starting an embedded PostgreSQL (WASM) takes a few seconds, more on a busy machine.
jest.setTimeout(30_000);

const tables = (db: SqlClient) =>
  db
    .query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name`,
    )
    .then((rows) => rows.map((r) => r.table_name));

const versions = (db: SqlClient) =>
  db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version').then((rows) => rows.map((r) => r.version));

describe.each(sqlTestBackends())('runMigrations on $name', (backend) => {
  let db: SqlTestDatabase;

  beforeEach(async () => {
    db = await backend.open();
  });
  afterEach(async () => {
    await db?.dispose();
  });
  afterAll(() => backend.shutdown());

  it('creates the calls table and records each migration once; a second run applies nothing', async () => {
    const first = await runMigrations(db.client);
    expect(first.applied.map((m) => m.version)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(await tables(db.client)).toEqual([
      'calls',
      'do_not_call',
      'on_call_escalations',
      'on_call_overrides',
      'on_call_pages',
      'on_call_people',
      'on_call_rota',
      'on_call_windows',
      'outbound_attempts',
      'outbound_requests',
      'schema_migrations',
      'sms_confirmations',
      'sms_opt_outs',
      'webhook_deliveries',
      'webhook_events',
    ]);

    const second = await runMigrations(db.client);
    expect(second.applied).toEqual([]);
    expect(second.version).toBe(first.version);
    expect(await versions(db.client)).toEqual(MIGRATIONS.map((m) => m.version));

    const columns = await db.client.query<{ column_name: string; data_type: string }>(
      `SELECT column_name, data_type FROM information_schema.columns
       WHERE table_schema = current_schema() AND table_name = 'calls' ORDER BY ordinal_position`,
    );
    expect(Object.fromEntries(columns.map((c) => [c.column_name, c.data_type]))).toMatchObject({
      call_sid: 'text',
      started_at: 'timestamp with time zone',
      duration_ms: 'integer',
      transcript: 'jsonb',
      cost_usd: 'numeric',
      details: 'jsonb',
    });
  });

  it('rejects a status outside the known ones', async () => {
    await runMigrations(db.client);
    await expect(
      db.client.query(`INSERT INTO calls (call_sid, direction, from_number, to_number, status, started_at) VALUES ($1, 'inbound', 'a', 'b', $2, now())`, [
        'CA1',
        'ringing',
      ]),
    ).rejects.toThrow(/check constraint/);
  });

  it('applies only the pending migrations, in version order', async () => {
    const m = (version: number): Migration => ({ version, name: `t${version}`, sql: `CREATE TABLE t${version} (id integer)` });
    expect((await runMigrations(db.client, [m(1)])).applied.map((x) => x.version)).toEqual([1]);
    const outcome = await runMigrations(db.client, [m(3), m(1), m(2)]);
    expect(outcome.applied.map((x) => x.version)).toEqual([2, 3]);
    expect(outcome.version).toBe(3);
    expect(await versions(db.client)).toEqual([1, 2, 3]);
  });

  it('rolls back a failing migration whole, keeps the ones before it, and completes on the next run', async () => {
    const good: Migration = { version: 1, name: 'a', sql: 'CREATE TABLE a (id integer)' };
    const bad: Migration = { version: 2, name: 'b', sql: 'CREATE TABLE b (id integer); SELECT * FROM missing_table' };
    await expect(runMigrations(db.client, [good, bad])).rejects.toThrow(/missing_table/);
    expect(await versions(db.client)).toEqual([1]);
    expect(await tables(db.client)).toEqual(['a', 'schema_migrations']);

    const fixed = { ...bad, sql: 'CREATE TABLE b (id integer)' };
    expect((await runMigrations(db.client, [good, fixed])).applied).toEqual([fixed]);
    expect(await tables(db.client)).toEqual(['a', 'b', 'schema_migrations']);
  });

  it('applies each migration once when several instances run at the same time', async () => {
    const slow: Migration[] = [
      { version: 1, name: 'a', sql: 'CREATE TABLE a (id integer); SELECT pg_sleep(0.05)' },
      { version: 2, name: 'b', sql: 'CREATE TABLE b (id integer)' },
    ];
    const outcomes = await Promise.all([db.client, db.connect(), db.connect()].map((c) => runMigrations(c, slow)));
    expect(outcomes.flatMap((o) => o.applied.map((m) => m.version)).sort()).toEqual([1, 2]);
    expect(await versions(db.client)).toEqual([1, 2]);
  });

  it('reports versions the build does not know', async () => {
    await runMigrations(db.client, [{ version: 1, name: 'a', sql: 'SELECT 1' }, { version: 2, name: 'b', sql: 'SELECT 1' }]);
    const outcome = await runMigrations(db.client, [{ version: 1, name: 'a', sql: 'SELECT 1' }]);
    expect(outcome).toEqual({ applied: [], version: 2, unknown: [2] });
  });

  it('refuses duplicate or invalid versions before touching the database', async () => {
    await expect(runMigrations(db.client, [{ version: 1, name: 'a', sql: '' }, { version: 1, name: 'b', sql: '' }])).rejects.toThrow(
      'two migrations have version 1',
    );
    await expect(runMigrations(db.client, [{ version: 0, name: 'a', sql: '' }])).rejects.toThrow(/invalid version/);
    expect(await tables(db.client)).toEqual([]);
  });
});

/** A client whose queries fail while `down`, as a PostgreSQL that cannot be reached. */
class FlakyClient extends SqlClient {
  readonly kind = 'postgres' as const;
  down = true;
  transactions = 0;

  constructor(private readonly real: SqlClient) {
    super();
  }
  async query<T>(sql: string, params?: readonly unknown[]): Promise<T[]> {
    if (this.down) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
    return this.real.query<T>(sql, params);
  }
  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    this.transactions += 1;
    if (this.down) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
    return this.real.transaction(fn);
  }
  async close(): Promise<void> {}
}

describe('MigrationRunner', () => {
  const backend = sqlTestBackends()[0];
  let db: SqlTestDatabase;
  let flaky: FlakyClient;
  let scheduler: ManualScheduler;
  let logs: LogCapture;
  let runner: MigrationRunner;

  beforeAll(async () => {
    db = await backend.open();
  });
  afterAll(async () => {
    await db?.dispose();
    await backend.shutdown();
  });
  beforeEach(async () => {
    await db.client.query('DROP TABLE IF EXISTS calls, schema_migrations, outbound_attempts, outbound_requests, do_not_call, webhook_deliveries, webhook_events');
    await db.client.query('DROP TABLE IF EXISTS on_call_pages, on_call_escalations, on_call_overrides, on_call_windows, on_call_people, on_call_rota');
    await db.client.query('DROP TABLE IF EXISTS sms_confirmations, sms_opt_outs');
    flaky = new FlakyClient(db.client);
    scheduler = new ManualScheduler();
    logs = new LogCapture();
    const logger = pino({ level: 'debug' }, logs);
    runner = new MigrationRunner(flaky, { child: () => logger } as unknown as AppLogger, scheduler);
  });
  afterEach(() => {
    runner.onModuleDestroy();
  });

  /** The retries the runner has announced, in order. */
  const retryDelays = () => logs.all('database migrations will be retried').map((l) => l.delayMs);

  it('migrates at init when the database is up', async () => {
    flaky.down = false;
    await runner.onModuleInit();
    expect(runner.isMigrated).toBe(true);
    expect(runner.pendingReason).toBeUndefined();
    expect(await versions(db.client)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(scheduler.pending).toBe(0);
  });

  it('boots with the database down, then retries in the background with growing delays, capped at a minute', async () => {
    await expect(runner.onModuleInit()).resolves.toBeUndefined();
    expect(runner.isMigrated).toBe(false);
    expect(runner.pendingReason).toMatch(/ECONNREFUSED/);
    expect(flaky.transactions).toBe(1);
    expect(logs.find('database migrations failed')).toMatchObject({ level: 50, failures: 1 });
    expect(retryDelays()).toEqual([1_000]);

    // Each retry is due its announced delay after the failure before it, and fails again.
    const delays = [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000];
    for (let failures = 1; failures < delays.length; failures++) {
      scheduler.advance(delays[failures - 1] - 1);
      expect(flaky.transactions).toBe(failures);
      scheduler.advance(1);
      expect(flaky.transactions).toBe(failures + 1);
      await logs.waitForCount('database migrations will be retried', {}, failures + 1);
    }
    expect(retryDelays()).toEqual(delays);
    // Loud once, quieter after.
    expect(logs.all('database migrations failed').map((l) => l.level)).toEqual([50, 40, 40, 40, 40, 40, 40, 40]);
    expect(flaky.transactions).toBe(8);
    expect(scheduler.pending).toBe(1);

    flaky.down = false;
    scheduler.advance(60_000);
    await logs.waitFor('database migrations applied');
    expect(runner.isMigrated).toBe(true);
    expect(runner.pendingReason).toBeUndefined();
    // One run: a transaction for schema_migrations plus one per migration; nothing left to retry.
    expect(flaky.transactions).toBe(8 + 1 + MIGRATIONS.length);
    expect(scheduler.pending).toBe(0);
    expect(await versions(db.client)).toEqual(MIGRATIONS.map((m) => m.version));
  });

  it('migrates on demand (a write) before the next retry is due; concurrent callers share one run', async () => {
    await runner.onModuleInit();
    expect(runner.isMigrated).toBe(false);
    expect(scheduler.pending).toBe(1);
    flaky.down = false;
    const before = flaky.transactions;
    await Promise.all([runner.ensureMigrated(), runner.ensureMigrated(), runner.ensureMigrated()]);
    expect(runner.isMigrated).toBe(true);
    // One run: a transaction for schema_migrations plus one per migration.
    expect(flaky.transactions - before).toBe(1 + MIGRATIONS.length);
    await runner.ensureMigrated();
    expect(flaky.transactions - before).toBe(1 + MIGRATIONS.length);
    // The retry that was due is cancelled, not run for nothing.
    expect(scheduler.pending).toBe(0);
  });

  it('stops retrying on shutdown', async () => {
    await runner.onModuleInit();
    expect(scheduler.pending).toBe(1);
    runner.onModuleDestroy();
    expect(scheduler.pending).toBe(0);
    scheduler.advance(120_000);
    expect(flaky.transactions).toBe(1);
  });

  it('schedules no retry after shutdown when the retry running at shutdown fails', async () => {
    await runner.onModuleInit();
    scheduler.advance(1_000);
    expect(flaky.transactions).toBe(2);
    // Joins the retry's attempt, still under way; its failure handler was attached first, so it
    // has run by the time this await resumes.
    const attempt = runner.ensureMigrated();
    runner.onModuleDestroy();
    await expect(attempt).rejects.toThrow(/ECONNREFUSED/);
    expect(flaky.transactions).toBe(2);
    expect(retryDelays()).toEqual([1_000]);
    expect(scheduler.pending).toBe(0);
  });
});
