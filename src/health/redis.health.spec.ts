import { createServer } from 'node:net';
import { HealthIndicatorService } from '@nestjs/terminus';
import { LogCapture } from '../../test/support/log-capture';
import { ManualClock } from '../common/clock';
import { ManualScheduler } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import { AppLogger } from '../logging/app-logger';
import { CallMetrics } from '../metrics/call-metrics';
import { RedisConnection } from '../redis/redis-connection';
import { RedisHealthIndicator } from './redis.health';

const connection = (env: Record<string, string>) => {
  const config = new AppConfig(validateEnvironment(env.REDIS_URL ? { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test', ...env } : env));
  const logs = new LogCapture();
  return { redis: new RedisConnection(config, new AppLogger(config, logs), new ManualScheduler(), new ManualClock(), new CallMetrics()), logs };
};

describe('RedisHealthIndicator', () => {
  it('is up, not configured, without REDIS_URL', () => {
    const { redis } = connection({});
    expect(new RedisHealthIndicator(new HealthIndicatorService(), redis).check()).toEqual({ redis: { status: 'up', configured: false } });
  });

  it('is degraded, not down, while Redis is unreachable', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const { redis, logs } = connection({ REDIS_URL: `redis://127.0.0.1:${port}` });
    try {
      await logs.waitFor('redis unreachable');
      expect(new RedisHealthIndicator(new HealthIndicatorService(), redis).check()).toEqual({
        redis: { status: 'degraded', configured: true, message: expect.stringMatching(/^unreachable \(\w+\): sessions are not shared until it is back$/) },
      });
    } finally {
      await redis.onApplicationShutdown();
    }
  });

  (process.env.REDIS_URL ? it : it.skip)('is up once connected (REDIS_URL)', async () => {
    const { redis } = connection({ REDIS_URL: process.env.REDIS_URL! });
    try {
      await redis.onModuleInit();
      expect(new RedisHealthIndicator(new HealthIndicatorService(), redis).check()).toEqual({ redis: { status: 'up', configured: true } });
    } finally {
      await redis.onApplicationShutdown();
    }
  });
});
