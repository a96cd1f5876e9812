import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Global, Module, type INestApplicationContext } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { EMPTY_USAGE, type CallRecord } from '../call-log/call-record';
import { SqlCallLogRepository } from '../call-log/sql-call-log.repository';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import { AppLogger } from '../logging/app-logger';
import { DatabaseModule } from './database.module';
import { MigrationRunner } from './migration-runner';
import { MIGRATIONS } from './migrations';
import { SqlClient } from './sql-client';

// Starting an embedded PostgreSQL (WASM) takes a few seconds, more on a busy machine.
jest.setTimeout(30_000);

class Lines {
  readonly raw: string[] = [];
  write(chunk: string): void {
    this.raw.push(...chunk.split('\n').filter(Boolean));
  }
  get parsed(): Array<Record<string, unknown>> {
    return this.raw.map((l) => JSON.parse(l) as Record<string, unknown>);
  }
  find(msg: string): Record<string, unknown> | undefined {
    return this.parsed.find((l) => l.msg === msg);
  }
}

async function boot(settings: { dataDir: string; databaseUrl?: string }): Promise<{ app: TestingModule; logs: Lines }> {
  const logs = new Lines();
  const config = new AppConfig(
    validateEnvironment({ DATA_DIR: settings.dataDir, LOG_LEVEL: 'debug', ...(settings.databaseUrl ? { DATABASE_URL: settings.databaseUrl } : {}) }),
  );

  @Global()
  @Module({
    providers: [
      { provide: AppConfig, useValue: config },
      { provide: AppLogger, useValue: new AppLogger(config, logs) },
    ],
    exports: [AppConfig, AppLogger],
  })
  class TestGlobals {}

  const app = await Test.createTestingModule({ imports: [TestGlobals, DatabaseModule] }).compile();
  await app.init();
  return { app, logs };
}

/** The call log the database holds, as the call-log module builds it on the module's client and migrations. */
const callLog = (app: INestApplicationContext) => new SqlCallLogRepository(app.get(SqlClient), app.get(MigrationRunner));

const call: CallRecord = {
  callSid: 'CAmodule',
  streamSid: 'MZmodule',
  direction: 'inbound',
  from: '+15550000001',
  to: '+15559990000',
  status: 'completed',
  startedAt: '2026-03-01T10:00:00.000Z',
  endedAt: '2026-03-01T10:01:00.000Z',
  durationMs: 60_000,
  endReason: 'caller-hangup',
  transcript: [{ speaker: 'caller', text: 'hello', startMs: 100 }],
  usage: EMPTY_USAGE,
  costUsd: 0.01,
  recording: null,
  details: {},
  profile: 'default',
};

describe('DatabaseModule', () => {
  let dataDir: string;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'call-operator-db-'));
  });
  afterEach(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('without DATABASE_URL: embedded PGlite in DATA_DIR/pglite, migrated at init, kept across restarts, closed on shutdown', async () => {
    const first = await boot({ dataDir });
    const sql = first.app.get(SqlClient);
    expect(sql.kind).toBe('pglite');
    expect(existsSync(join(dataDir, 'pglite', 'PG_VERSION'))).toBe(true);
    expect(first.app.get(MigrationRunner).isMigrated).toBe(true);
    expect(first.logs.find('database: embedded PGlite')).toMatchObject({ backend: 'pglite', dataDir: join(dataDir, 'pglite') });
    expect(first.logs.find('database migrations applied')).toMatchObject({
      applied: [
        '1 create calls',
        '2 calls crm state',
        '3 calls profile',
        '4 outbound requests, attempts and the do-not-call list',
        '5 outbound attempts awaiting their end',
        '6 webhook outbox: events and their deliveries',
        '7 on-call rota and emergency pages',
        '8 SMS confirmations to callers and SMS opt-outs',
        '9 SMS confirmations wait for the call summary',
        '10 on-call page delivery status',
      ],
    });

    await callLog(first.app).save(call);
    await first.app.close();
    await expect(sql.query('SELECT 1')).rejects.toThrow();

    const second = await boot({ dataDir });
    expect(second.logs.find('database schema up to date')).toMatchObject({ schemaVersion: MIGRATIONS.at(-1)!.version, applied: [] });
    expect(await callLog(second.app).get(call.callSid)).toEqual({ ...call, crm: {} });
    await second.app.close();
  });

  it('with an unreachable PostgreSQL: boots anyway, logs no password, writes fail until it is back', async () => {
    const { app, logs } = await boot({ dataDir, databaseUrl: 'postgres://svc:s3cret-pw@127.0.0.1:1/calls?sslmode=disable' });
    try {
      expect(app.get(SqlClient).kind).toBe('postgres');
      expect(logs.find('database: PostgreSQL')).toMatchObject({ backend: 'postgres', host: '127.0.0.1', port: '1', database: 'calls', user: 'svc' });
      expect(logs.find('database migrations failed')).toMatchObject({ level: 'error', backend: 'postgres' });
      expect(logs.find('database migrations will be retried')).toMatchObject({ delayMs: 1_000 });
      expect(app.get(MigrationRunner).isMigrated).toBe(false);

      await expect(callLog(app).save(call)).rejects.toThrow(/ECONNREFUSED/);
      expect(logs.raw.join('\n')).not.toContain('s3cret-pw');
      expect(existsSync(join(dataDir, 'pglite'))).toBe(false);
    } finally {
      await app.close();
    }
  });
});
