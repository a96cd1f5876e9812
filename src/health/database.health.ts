import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { MigrationRunner } from '../database/migration-runner';
import { SqlClient } from '../database/sql-client';

export const DATABASE_HEALTH_TIMEOUT_MS = 1_500;

/**
 * The call log's database. A failure reports `degraded`, never `down`: calls do not need the
 * database (the call log buffers and retries), so an outage must not take pods out of service.
 */
@Injectable()
export class DatabaseHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly sql: SqlClient,
    private readonly migrations: MigrationRunner,
  ) {}

  async check() {
    const session = this.indicators.check('database');
    const backend = this.sql.kind;
    try {
      await withTimeout(this.sql.query('SELECT 1'), DATABASE_HEALTH_TIMEOUT_MS);
    } catch (err) {
      return session.degraded({ backend, message: err instanceof Error ? err.message : String(err) });
    }
    if (!this.migrations.isMigrated) {
      return session.degraded({ backend, message: `schema not migrated: ${this.migrations.pendingReason}` });
    }
    return session.up({ backend });
  }
}

async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
