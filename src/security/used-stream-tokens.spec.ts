import Redis from 'ioredis';
import pino from 'pino';
import { ManualClock } from '../common/clock';
import { ManualScheduler } from '../common/scheduler';
import { LogCapture } from '../../test/support/log-capture';
import { TcpProxy } from '../../test/support/tcp-proxy';
import { CLAIM_TIMEOUT_MS, LocalUsedStreamTokens, RedisUsedStreamTokens } from './used-stream-tokens';

const EPOCH = Date.UTC(2026, 11, 1);

describe('LocalUsedStreamTokens', () => {
  it('admits a nonce once, and forgets it at its expiry', async () => {
    const clock = new ManualClock(0, EPOCH);
    const used = new LocalUsedStreamTokens(clock);
    expect(await used.claim('n1', EPOCH + 30_000)).toBe(true);
    expect(await used.claim('n1', EPOCH + 30_000)).toBe(false);
    expect(await used.claim('n2', EPOCH + 30_000)).toBe(true);
    clock.advance(30_000);
    // By then StreamTokens refuses the token as expired before asking.
    expect(await used.claim('n1', EPOCH + 60_000)).toBe(true);
  });
});

describe('RedisUsedStreamTokens', () => {
  const redisUrl = process.env.REDIS_URL;
  let logs: LogCapture;
  let clock: ManualClock;
  let scheduler: ManualScheduler;
  const clients: Redis[] = [];

  beforeEach(() => {
    logs = new LogCapture();
    clock = new ManualClock(0, Date.now());
    scheduler = new ManualScheduler(clock);
  });

  afterEach(() => {
    for (const c of clients.splice(0)) c.disconnect();
  });

  /** One instance's view: its own Redis connection and its own local memory. */
  const instance = (redis: Redis, prefix: string, id: string) =>
    new RedisUsedStreamTokens(redis, prefix, id, new LocalUsedStreamTokens(clock), scheduler, pino({ level: 'info' }, logs));

  (redisUrl ? it : it.skip)('admits a nonce once across every instance sharing the Redis (REDIS_URL)', async () => {
    const prefix = `call-operator-test:${process.pid}:${Date.now()}:tokens:`;
    const connect = async () => {
      const c = new Redis(redisUrl!, { lazyConnect: true });
      clients.push(c);
      await c.connect();
      return c;
    };
    const a = instance(await connect(), prefix, 'pod-a');
    const b = instance(await connect(), prefix, 'pod-b');
    const expiresAt = clock.epochMs() + 30_000;

    expect(await a.claim('nonce-1', expiresAt)).toBe(true);
    expect(await b.claim('nonce-1', expiresAt)).toBe(false);
    expect(await a.claim('nonce-1', expiresAt)).toBe(false);
    expect(await b.claim('nonce-2', expiresAt)).toBe(true);

    // The key names the instance that used it and goes when the token would have expired anyway.
    const probe = clients[0];
    expect(await probe.get(`${prefix}stream-token:nonce-1`)).toBe('pod-a');
    const pttl = await probe.pttl(`${prefix}stream-token:nonce-1`);
    expect(pttl).toBeGreaterThan(25_000);
    expect(pttl).toBeLessThanOrEqual(30_000);
    await probe.del(`${prefix}stream-token:nonce-1`, `${prefix}stream-token:nonce-2`);
  });

  it('checks on this instance only while Redis is unreachable, and says so', async () => {
    // Nothing listens on port 1: the client never becomes ready.
    const redis = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false });
    clients.push(redis);
    const a = instance(redis, 'p:', 'pod-a');
    expect(await a.claim('nonce-1', clock.epochMs() + 30_000)).toBe(true);
    expect(await a.claim('nonce-1', clock.epochMs() + 30_000)).toBe(false);
    expect(logs.lines.filter((l) => l.msg === 'stream token checked on this instance only: a replay on another instance would not be caught')).toEqual([
      expect.objectContaining({ why: 'redis unreachable' }),
    ]);
  });

  (redisUrl ? it : it.skip)('gives up after CLAIM_TIMEOUT_MS on a Redis that stops answering, and admits the stream on its own check', async () => {
    const target = new URL(redisUrl!);
    const proxy = await TcpProxy.start(target.hostname, Number(target.port || 6379));
    try {
      const redis = new Redis({ host: '127.0.0.1', port: proxy.port, lazyConnect: true, enableOfflineQueue: false });
      clients.push(redis);
      await redis.connect();
      proxy.stall();
      const claim = instance(redis, `call-operator-test:${process.pid}:stall:`, 'pod-a').claim('nonce-1', clock.epochMs() + 30_000);
      let settled = false;
      void claim.then(() => (settled = true));
      // The SET is out and its deadline set (after a turn or two of the microtask queue).
      for (let turn = 0; turn < 10 && scheduler.pending === 0; turn++) await Promise.resolve();
      expect(scheduler.pending).toBe(1);
      scheduler.advance(CLAIM_TIMEOUT_MS - 1);
      await Promise.resolve();
      expect(settled).toBe(false);
      scheduler.advance(1);
      expect(await claim).toBe(true);
      expect(logs.lines.find((l) => l.why === `redis did not answer within ${CLAIM_TIMEOUT_MS} ms`)).toBeDefined();
    } finally {
      await proxy.close();
    }
  });
});
