import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Global, Module, type OnApplicationShutdown } from '@nestjs/common';
import { CommonModule } from '../common/common.module';
import { Scheduler } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import { AppLogger } from '../logging/app-logger';
import { MigrationRunner } from './migration-runner';
import { PgliteSqlClient, PgSqlClient, SqlClient, describePostgresTarget } from './sql-client';

/**
 * PostgreSQL when DATABASE_URL is set, else the embedded PGlite in DATA_DIR/pglite, whose worker
 * stops when idle on the app's scheduler (onApplicationShutdown's close() cancels that timer).
 */
export function createSqlClient(config: AppConfig, appLogger: AppLogger, scheduler: Scheduler): SqlClient {
  const logger = appLogger.child({ component: 'database' });
  if (config.databaseUrl) {
    logger.info({ backend: 'postgres', ...describePostgresTarget(config.databaseUrl) }, 'database: PostgreSQL');
    return new PgSqlClient(config.databaseUrl, logger);
  }
  const dataDir = join(config.dataDir, 'pglite');
  mkdirSync(dataDir, { recursive: true });
  logger.info({ backend: 'pglite', dataDir }, 'database: embedded PGlite');
  return new PgliteSqlClient(dataDir, logger, { scheduler });
}

/**
 * The SQL database, for the stores above it (the call log). Migrations run in MigrationRunner's
 * onModuleInit, before the app listens (retried on the app's Scheduler, from the global
 * CommonModule, imported here too so that the module also boots on its own); the client closes in
 * onApplicationShutdown, the last shutdown phase, so anything that writes while shutting down (the
 * call log flushing) still can.
 */
@Global()
@Module({
  imports: [CommonModule],
  providers: [
    { provide: SqlClient, inject: [AppConfig, AppLogger, Scheduler], useFactory: createSqlClient },
    MigrationRunner,
  ],
  exports: [SqlClient, MigrationRunner],
})
export class DatabaseModule implements OnApplicationShutdown {
  constructor(private readonly sql: SqlClient) {}

  async onApplicationShutdown(): Promise<void> {
    await this.sql.close();
  }
}
