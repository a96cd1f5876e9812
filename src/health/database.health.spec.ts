import { HealthIndicatorService } from '@nestjs/terminus';
import { deferred } from '../../test/support/wait';
import { ManualScheduler } from '../common/scheduler';
import type { MigrationRunner } from '../database/migration-runner';
import { SqlClient, type SqlExecutor } from '../database/sql-client';
import { DATABASE_HEALTH_TIMEOUT_MS, DatabaseHealthIndicator } from './database.health';

class FakeSqlClient extends SqlClient {
  readonly kind = 'postgres' as const;
  answer: () => Promise<unknown[]> = async () => [{ '?column?': 1 }];
  readonly seen: string[] = [];

  async query<T>(sql: string): Promise<T[]> {
    this.seen.push(sql);
    return (await this.answer()) as T[];
  }
  transaction<T>(_fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    throw new Error('not used');
  }
  async close(): Promise<void> {}
}

describe('DatabaseHealthIndicator', () => {
  let sql: FakeSqlClient;
  let migrations: { isMigrated: boolean; pendingReason: string | undefined };
  let scheduler: ManualScheduler;
  let indicator: DatabaseHealthIndicator;

  beforeEach(() => {
    sql = new FakeSqlClient();
    migrations = { isMigrated: true, pendingReason: undefined };
    scheduler = new ManualScheduler();
    indicator = new DatabaseHealthIndicator(new HealthIndicatorService(), sql, migrations as MigrationRunner, scheduler);
  });

  it('asks through ping(), which may answer without a query: a probe must not wake a stopped embedded database', async () => {
    let pings = 0;
    sql.ping = async () => {
      pings++;
    };
    expect(await indicator.check()).toEqual({ database: { status: 'up', backend: 'postgres' } });
    expect(pings).toBe(1);
    expect(sql.seen).toEqual([]);
  });

  it('is up with the backend when SELECT 1 answers', async () => {
    expect(await indicator.check()).toEqual({ database: { status: 'up', backend: 'postgres' } });
    expect(sql.seen).toEqual(['SELECT 1']);
  });

  it('is degraded, not down, with the error when the query fails', async () => {
    sql.answer = () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432'));
    expect(await indicator.check()).toEqual({
      database: { status: 'degraded', backend: 'postgres', message: 'connect ECONNREFUSED 127.0.0.1:5432' },
    });
  });

  it('is degraded when the query does not answer in time', async () => {
    sql.answer = () => new Promise(() => undefined);
    const result = indicator.check();
    scheduler.advance(DATABASE_HEALTH_TIMEOUT_MS);
    expect(await result).toEqual({
      database: { status: 'degraded', backend: 'postgres', message: `no answer within ${DATABASE_HEALTH_TIMEOUT_MS} ms` },
    });
  });

  it('is up when the answer comes just inside the timeout, and leaves no timer behind', async () => {
    const answer = deferred<unknown[]>();
    sql.answer = () => answer.promise;
    const result = indicator.check();
    scheduler.advance(DATABASE_HEALTH_TIMEOUT_MS - 1);
    answer.resolve([{ '?column?': 1 }]);
    expect(await result).toEqual({ database: { status: 'up', backend: 'postgres' } });
    expect(scheduler.pending).toBe(0);
  });

  it('is degraded while the schema is not migrated', async () => {
    Object.assign(migrations, { isMigrated: false, pendingReason: 'relation "calls" does not exist' });
    expect(await indicator.check()).toEqual({
      database: { status: 'degraded', backend: 'postgres', message: 'schema not migrated: relation "calls" does not exist' },
    });
  });
});
