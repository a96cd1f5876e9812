import type { INestApplication } from '@nestjs/common';
import { cpSync, existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Test } from '@nestjs/testing';
import { AppModule } from '../../src/app.module';
import { configureApp } from '../../src/bootstrap';
import { Clock, SystemClock } from '../../src/common/clock';
import { AppConfig } from '../../src/config/app-config';
import { validateEnvironment } from '../../src/config/env.schema';
import { PgliteSqlClient } from '../../src/database/sql-client';
import { LOG_DESTINATION } from '../../src/logging/app-logger';
import { LogCapture } from './log-capture';
import { TEST_DEFAULTS } from './test-env';

/** A clock that runs in real time but can be pushed forward (to expire sessions without waiting). */
export class SkippableClock extends Clock {
  private readonly real = new SystemClock();
  private skipped = 0;
  now(): number {
    return this.real.now() + this.skipped;
  }
  epochMs(): number {
    return this.real.epochMs() + this.skipped;
  }
  skip(ms: number): void {
    this.skipped += ms;
  }
}

export interface TestApp {
  readonly app: INestApplication;
  readonly httpUrl: string;
  readonly streamUrl: string;
  readonly logs: LogCapture;
  readonly clock: SkippableClock;
  close(): Promise<void>;
}

export const TEST_API_KEY = 'sk-test-0123456789abcdef';

/**
 * A fresh DATA_DIR whose embedded database is already initialised: creating a PGlite cluster
 * takes seconds, copying one takes milliseconds. The template is made once per machine.
 */
export async function freshDataDir(): Promise<string> {
  const template = join(tmpdir(), 'call-operator-pglite-template-v1');
  if (!existsSync(template)) {
    const building = mkdtempSync(join(tmpdir(), 'call-operator-pglite-building-'));
    const db = new PgliteSqlClient(join(building, 'pglite'), pino({ level: 'silent' }));
    await db.query('SELECT 1');
    await db.close();
    try {
      renameSync(building, template);
    } catch {
      rmSync(building, { recursive: true, force: true }); // another worker made it first
    }
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'call-operator-data-'));
  cpSync(template, dataDir, { recursive: true });
  return dataDir;
}

let sharedDataDir: string | undefined;

/**
 * Boots the real application on an ephemeral port of 127.0.0.1 with the given environment.
 * Without a DATA_DIR, the apps of one test file take turns on one data directory of their own.
 */
export async function startApp(env: Record<string, string>, overrides: ReadonlyArray<{ provide: unknown; useValue: unknown }> = []): Promise<TestApp> {
  if (!env.DATA_DIR) {
    if (!sharedDataDir) {
      const dir = (sharedDataDir = await freshDataDir());
      process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    }
    env = { ...env, DATA_DIR: sharedDataDir };
  }
  const logs = new LogCapture();
  const clock = new SkippableClock();
  const config = new AppConfig(validateEnvironment({ LOG_LEVEL: 'debug', HOST: '127.0.0.1', PORT: '0', ...TEST_DEFAULTS, ...env }));
  let builder = Test.createTestingModule({ imports: [AppModule] });
  for (const o of overrides) builder = builder.overrideProvider(o.provide).useValue(o.useValue);
  const moduleRef = await builder
    .overrideProvider(AppConfig)
    .useValue(config)
    .overrideProvider(LOG_DESTINATION)
    .useValue(logs)
    .overrideProvider(Clock)
    .useValue(clock)
    .compile();
  const app = moduleRef.createNestApplication({ bufferLogs: true });
  configureApp(app);
  await app.listen(0, '127.0.0.1');
  const httpUrl = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return {
    app,
    httpUrl,
    streamUrl: `${httpUrl.replace(/^http/, 'ws')}/twilio/stream`,
    logs,
    clock,
    close: () => app.close(),
  };
}
