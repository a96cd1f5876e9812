import { createServer, type Server } from 'node:net';
import { ManualClock } from '../common/clock';
import { ManualScheduler } from '../common/scheduler';
import { TcpProxy } from '../../test/support/tcp-proxy';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import { AppLogger } from '../logging/app-logger';
import { CallMetrics } from '../metrics/call-metrics';
import { LogCapture } from '../../test/support/log-capture';
import { metricValue } from '../../test/support/metric-value';
import { REDIS_BOOT_WAIT_MS, RedisConnection } from './redis-connection';

/** Several instances share Redis and one PostgreSQL (the configuration refuses REDIS_URL alone). */
const DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

const open = (env: Record<string, string>, logs = new LogCapture(), clock = new ManualClock()) => {
  const config = new AppConfig(validateEnvironment(env.REDIS_URL ? { DATABASE_URL, ...env } : env));
  const scheduler = new ManualScheduler(clock);
  const metrics = new CallMetrics();
  return { connection: new RedisConnection(config, new AppLogger(config, logs), scheduler, clock, metrics), logs, scheduler, clock, metrics };
};

/** A port that accepts nothing: what a Redis that is down looks like. */
async function closedPort(): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('RedisConnection', () => {
  it('without REDIS_URL holds no client, and has no redis_up series', async () => {
    const { connection, metrics } = open({});
    expect(connection.client).toBeNull();
    expect(connection.ready).toBe(false);
    expect(await metrics.registry.metrics()).not.toContain('call_operator_redis_up');
    await connection.onModuleInit();
    await connection.onApplicationShutdown();
  });

  it('refuses a REDIS_URL that is not redis:// or rediss://', () => {
    expect(() => validateEnvironment({ DATABASE_URL, REDIS_URL: 'http://127.0.0.1:6379' })).toThrow(/REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/);
  });

  it('refuses REDIS_URL without DATABASE_URL: instances sharing calls must share one database', () => {
    expect(() => validateEnvironment({ REDIS_URL: 'redis://127.0.0.1:6379' })).toThrow(/REDIS_URL is set .* but DATABASE_URL is not/);
    expect(validateEnvironment({ REDIS_URL: 'redis://127.0.0.1:6379', DATABASE_URL }).REDIS_URL).toBe('redis://127.0.0.1:6379');
  });

  it('with Redis away: boot waits a bounded time, a command fails at once instead of queueing, and the outage is logged once', async () => {
    const port = await closedPort();
    const { connection, logs, scheduler, metrics } = open({ REDIS_URL: `redis://:secret-password@127.0.0.1:${port}` });
    try {
      const booted = connection.onModuleInit();
      await logs.waitFor('redis unreachable', { host: '127.0.0.1', port: String(port) });
      scheduler.advance(REDIS_BOOT_WAIT_MS);
      await booted;
      expect(connection.ready).toBe(false);
      expect(await metricValue(metrics.registry, 'call_operator_redis_up')).toBe(0);
      await expect(connection.client!.get('anything')).rejects.toThrow();
      expect(logs.lines.filter((l) => l.msg === 'redis unreachable')).toHaveLength(1);
      expect(logs.raw.join('\n')).not.toContain('secret-password');
    } finally {
      await connection.onApplicationShutdown();
    }
  });

  (process.env.REDIS_URL ? it : it.skip)('with Redis up (REDIS_URL): ready once booted, closed at shutdown', async () => {
    const { connection, logs, metrics } = open({ REDIS_URL: process.env.REDIS_URL! });
    await connection.onModuleInit();
    expect(connection.ready).toBe(true);
    expect(await metricValue(metrics.registry, 'call_operator_redis_up')).toBe(1);
    expect(await connection.client!.ping()).toBe('PONG');
    expect(logs.lines).toContainEqual(expect.objectContaining({ msg: 'redis connected' }));
    await connection.onApplicationShutdown();
    await expect(connection.client!.ping()).rejects.toThrow();
    expect(await metricValue(metrics.registry, 'call_operator_redis_up')).toBe(0);
  });

  (process.env.REDIS_URL ? it : it.skip)('says how long Redis has been up without a break: 0 while it is away, counted again from its return', async () => {
    const target = new URL(process.env.REDIS_URL!);
    const proxy = await TcpProxy.start(target.hostname, Number(target.port || 6379));
    const { connection, logs, clock } = open({ REDIS_URL: `redis://127.0.0.1:${proxy.port}` });
    try {
      await connection.onModuleInit();
      clock.advance(7_000);
      expect(connection.upForMs()).toBe(7_000);
      proxy.cut();
      await logs.waitFor('redis unreachable');
      expect(connection.upForMs()).toBe(0);
      clock.advance(3_000);
      proxy.restore();
      await logs.waitFor('redis reachable again');
      clock.advance(1_000);
      expect(connection.upForMs()).toBe(1_000);
    } finally {
      await connection.onApplicationShutdown();
      await proxy.close();
    }
  });
});
