import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Global, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import { DatabaseModule } from '../database/database.module';
import { SqlClient } from '../database/sql-client';
import { silentAppLogger } from '../database/sql-test-backends';
import { AppLogger } from '../logging/app-logger';
import { JobQueue } from './job-queue';
import { JobsModule } from './jobs.module';

// Starting an embedded PostgreSQL (WASM) takes a few seconds.
jest.setTimeout(30_000);

describe('JobsModule', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'jobs-module-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('does nothing at boot, makes its schema on first use, and stops before the database closes', async () => {
    const config = new AppConfig(validateEnvironment({ DATA_DIR: dir, JOBS_SCHEMA: 'jobs_module' }));

    @Global()
    @Module({
      providers: [
        { provide: AppConfig, useValue: config },
        { provide: AppLogger, useValue: silentAppLogger },
      ],
      exports: [AppConfig, AppLogger],
    })
    class TestGlobals {}

    const app = await Test.createTestingModule({ imports: [TestGlobals, DatabaseModule, JobsModule] }).compile();
    await app.init();
    const sql = app.get(SqlClient);
    const schemaOf = async () => (await sql.query<{ name: string | null }>("SELECT to_regclass('jobs_module.version')::text AS name"))[0].name;
    expect(await schemaOf()).toBeNull();

    const queue = app.get(JobQueue);
    let onHandled!: (id: string) => void;
    const handled = new Promise<string>((resolve) => (onHandled = resolve));
    await queue.work('dial', async (job) => onHandled(job.id));
    const id = await queue.send('dial', { request: 'r1' });
    expect(await handled).toBe(id);
    expect(await schemaOf()).toBe('jobs_module.version');
    // Stopping the queue waits for the job's completion to be written, before the database closes.
    await app.close();
  });
});
