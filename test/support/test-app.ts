import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AppModule } from '../../src/app.module';
import { configureApp } from '../../src/bootstrap';
import { Clock, SystemClock } from '../../src/common/clock';
import { AppConfig } from '../../src/config/app-config';
import { validateEnvironment } from '../../src/config/env.schema';
import { LOG_DESTINATION } from '../../src/logging/app-logger';
import { LogCapture } from './log-capture';

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

/** Boots the real application on an ephemeral port of 127.0.0.1 with the given environment. */
export async function startApp(env: Record<string, string>): Promise<TestApp> {
  const logs = new LogCapture();
  const clock = new SkippableClock();
  const config = new AppConfig(validateEnvironment({ LOG_LEVEL: 'debug', HOST: '127.0.0.1', PORT: '0', ...env }));
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] })
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
