import Redis from 'ioredis';
import { ManualClock } from '../common/clock';
import { ManualScheduler } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import { AppLogger } from '../logging/app-logger';
import { CallMetrics } from '../metrics/call-metrics';
import { RedisConnection } from '../redis/redis-connection';
import { LogCapture } from '../../test/support/log-capture';
import { InstanceLease } from './instance-lease';

const redisUrl = process.env.REDIS_URL;

describe('InstanceLease', () => {
  it('holds nothing without REDIS_URL', async () => {
    const config = new AppConfig(validateEnvironment({}));
    const scheduler = new ManualScheduler();
    const logger = new AppLogger(config, new LogCapture());
    const lease = new InstanceLease(new RedisConnection(config, logger, scheduler, new ManualClock(), new CallMetrics()), config, new ManualClock(), scheduler, logger);
    lease.onModuleInit();
    expect(scheduler.pending).toBe(0);
    expect(await lease.alive(['pod-b'])).toEqual(new Set());
    await lease.beforeApplicationShutdown();
  });

  (redisUrl ? describe : describe.skip)('with Redis (REDIS_URL)', () => {
    const prefix = `call-operator-test:${process.pid}:${Date.now()}:lease:`;
    let probe: Redis;

    beforeAll(async () => {
      probe = new Redis(redisUrl!, { lazyConnect: true });
      await probe.connect();
    });

    afterAll(async () => {
      const keys = await probe.keys(`${prefix}*`);
      if (keys.length > 0) await probe.del(...keys);
      await probe.quit();
    });

    /** An instance's lease, on its own connection, with its own scheduler. */
    async function instance(id: string) {
      const config = new AppConfig(
        validateEnvironment({ REDIS_URL: redisUrl!, DATABASE_URL: 'postgres://x@h/db', REDIS_KEY_PREFIX: prefix, INSTANCE_ID: id, INSTANCE_LEASE_SECONDS: '3' }),
      );
      const clock = new ManualClock();
      const scheduler = new ManualScheduler(clock);
      const logger = new AppLogger(config, new LogCapture());
      const redis = new RedisConnection(config, logger, scheduler, clock, new CallMetrics());
      await redis.onModuleInit();
      const lease = new InstanceLease(redis, config, clock, scheduler, logger);
      lease.onModuleInit();
      return { lease, scheduler, redis };
    }

    it('is taken at start for INSTANCE_LEASE_SECONDS, renewed every third of it, and given back at shutdown', async () => {
      const a = await instance('pod-a');
      const b = await instance('pod-b');
      try {
        const key = `${prefix}instance:pod-a`;
        // The first renewal is in flight; the next command on the probe's connection comes after it.
        await a.redis.client!.ping();
        const ttl = await probe.pttl(key);
        expect(ttl).toBeGreaterThan(2_000);
        expect(ttl).toBeLessThanOrEqual(3_000);
        expect(await b.lease.alive(['pod-a', 'pod-b', 'pod-gone'])).toEqual(new Set(['pod-a', 'pod-b']));

        expect(a.scheduler.pending).toBe(1);
        await probe.pexpire(key, 100_000);
        a.scheduler.advance(1_000);
        await a.redis.client!.ping();
        expect(await probe.pttl(key)).toBeLessThanOrEqual(3_000);

        await a.lease.beforeApplicationShutdown();
        expect(a.scheduler.pending).toBe(0);
        expect(await b.lease.alive(['pod-a', 'pod-b'])).toEqual(new Set(['pod-b']));
      } finally {
        await a.redis.onApplicationShutdown();
        await b.lease.beforeApplicationShutdown();
        await b.redis.onApplicationShutdown();
      }
    });

    it('lapses when it is not renewed: what the others see of an instance that died', async () => {
      const a = await instance('pod-dead');
      const b = await instance('pod-b2');
      try {
        await a.redis.client!.ping();
        expect(await b.lease.alive(['pod-dead'])).toEqual(new Set(['pod-dead']));
        // A killed process renews nothing; its key runs out in Redis's own time.
        a.redis.client!.disconnect();
        await probe.pexpire(`${prefix}instance:pod-dead`, 1);
        await probe.ping();
        let alive = await b.lease.alive(['pod-dead']);
        for (let tries = 0; tries < 100 && alive.size > 0; tries++) alive = await b.lease.alive(['pod-dead']);
        expect(alive).toEqual(new Set());
      } finally {
        await b.lease.beforeApplicationShutdown();
        await b.redis.onApplicationShutdown();
      }
    });
  });
});
