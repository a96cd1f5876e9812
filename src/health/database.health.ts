import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { raceTimeout, TIMED_OUT } from '../common/race-timeout';
import { Scheduler } from '../common/scheduler';
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
    private readonly scheduler: Scheduler,
  ) {}

  async check() {
    const session = this.indicators.check('database');
    const backend = this.sql.kind;
    try {
      // ping(), not a query: a probe must not keep the embedded database's idle worker from stopping.
      if ((await raceTimeout(this.sql.ping(), DATABASE_HEALTH_TIMEOUT_MS, this.scheduler)) === TIMED_OUT) {
        throw new Error(`no answer within ${DATABASE_HEALTH_TIMEOUT_MS} ms`);
      }
    } catch (err) {
      return session.degraded({ backend, message: err instanceof Error ? err.message : String(err) });
    }
    if (!this.migrations.isMigrated) {
      return session.degraded({ backend, message: `schema not migrated: ${this.migrations.pendingReason}` });
    }
    return session.up({ backend });
  }
}
