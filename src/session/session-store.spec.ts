import { ManualClock } from '../common/clock';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import Redis from 'ioredis';
import { RedisSessionStore } from './redis-session-store';
import { InMemorySessionStore, SharedStateUnavailable, type CallSession, type SessionStore } from './session-store';

const MINUTE_MS = 60_000;
const TTL_MINUTES = 30;
const TTL_MS = TTL_MINUTES * MINUTE_MS;

/** A store opened for one test, with the time it judges expiry by. */
interface StoreUnderTest {
  readonly store: SessionStore;
  /** Epoch milliseconds, as the store sees them. */
  now(): number;
  /** Time passes for the store. */
  advance(ms: number): Promise<void>;
  /** Frees whatever the store holds (a connection, keys). */
  close(): Promise<void>;
}

/**
 * Every SessionStore must pass this suite: in memory always, and in the Redis at REDIS_URL when
 * it is set (.ci/run sets it), each test on a fresh key prefix. Time is the store's injected
 * clock, started at the real time so that Redis's own expiry (a backstop at the same instant)
 * never runs ahead of it.
 */
const stores: Array<[string, (env: Record<string, string>) => Promise<StoreUnderTest>]> = [
  [
    'InMemorySessionStore',
    async (env) => {
      const clock = new ManualClock();
      const store = new InMemorySessionStore(new AppConfig(validateEnvironment(env)), clock);
      return { store, now: () => clock.epochMs(), advance: async (ms) => clock.advance(ms), close: async () => undefined };
    },
  ],
];

const redisUrl = process.env.REDIS_URL;
let prefixes = 0;
if (redisUrl) {
  stores.push([
    'RedisSessionStore',
    async (env) => {
      const clock = new ManualClock(0, Date.now());
      const redis = new Redis(redisUrl, { lazyConnect: true });
      await redis.connect();
      const prefix = `call-operator-test:${process.pid}:${Date.now()}:${++prefixes}:`;
      const store = new RedisSessionStore(redis, new AppConfig(validateEnvironment(env)), clock, prefix);
      return {
        store,
        now: () => clock.epochMs(),
        advance: async (ms) => clock.advance(ms),
        close: async () => {
          const keys = await redis.keys(`${prefix}*`);
          if (keys.length > 0) await redis.del(...keys);
          await redis.quit();
        },
      };
    },
  ]);
}

const INSTANCE = 'pod-a:4242';

const sid = (n: number) => `CA${String(n).padStart(32, '0')}`;

if (redisUrl) {
  describe('RedisSessionStore while Redis is unreachable', () => {
    it('fails each write at once with SharedStateUnavailable, queueing nothing', async () => {
      // Nothing listens on port 1: the client never becomes ready.
      const redis = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
      const store = new RedisSessionStore(redis, new AppConfig(validateEnvironment({})), new ManualClock());
      const s = { callSid: sid(1), streamSid: 'MZ1', from: '', to: '', direction: 'inbound' as const, startedAt: 0, lastSeenAt: 0, state: 'listening' };
      await expect(store.save(s)).rejects.toBeInstanceOf(SharedStateUnavailable);
      await expect(store.touch(sid(1), 0)).rejects.toBeInstanceOf(SharedStateUnavailable);
      await expect(store.setState(sid(1), 'speaking')).rejects.toBeInstanceOf(SharedStateUnavailable);
      await expect(store.remove(sid(1))).rejects.toBeInstanceOf(SharedStateUnavailable);
      redis.disconnect();
    });
  });
}

describe.each(stores)('SessionStore contract: %s', (_name, open) => {
  let t: StoreUnderTest;
  let store: SessionStore;

  beforeEach(async () => {
    t = await open({ SESSION_TTL_MINUTES: String(TTL_MINUTES), INSTANCE_ID: INSTANCE });
    store = t.store;
  });

  afterEach(async () => {
    await t.close();
  });

  /** A call that started just now and was heard from just now. */
  const session = (n: number, over: Partial<CallSession> = {}): CallSession => ({
    callSid: sid(n),
    instanceId: INSTANCE,
    streamSid: `MZ${String(n).padStart(32, '0')}`,
    from: '+15551230000',
    to: '+15557650000',
    direction: 'inbound',
    startedAt: t.now(),
    lastSeenAt: t.now(),
    state: 'listening',
    ...over,
  });

  describe('keeping sessions', () => {
    it('gives back the session saved', async () => {
      await store.save(session(1));
      expect(await store.get(sid(1))).toEqual(session(1));
    });

    it('names this instance as the one holding the call', async () => {
      const { instanceId: _ignored, ...saved } = session(1);
      await store.save(saved);
      expect((await store.get(sid(1)))?.instanceId).toBe(INSTANCE);
      expect((await store.list()).map((s) => s.instanceId)).toEqual([INSTANCE]);
    });

    it('knows nothing of a call never saved', async () => {
      expect(await store.get(sid(9))).toBeUndefined();
    });

    it('keeps a copy: changing the saved object or the one read changes nothing stored', async () => {
      const saved = session(1);
      await store.save(saved);
      saved.state = 'speaking';
      const read = await store.get(sid(1));
      read!.state = 'ended';
      read!.lastSeenAt = 0;

      expect(await store.get(sid(1))).toEqual(session(1));
    });

    it('replaces a session saved again', async () => {
      await store.save(session(1));
      await store.save(session(1, { state: 'speaking' }));
      expect((await store.get(sid(1)))?.state).toBe('speaking');
      expect(await store.list()).toHaveLength(1);
    });

    it('lists every live session, as copies', async () => {
      await store.save(session(1));
      await store.save(session(2, { direction: 'outbound' }));
      const listed = await store.list();
      expect(listed).toEqual(expect.arrayContaining([session(1), session(2, { direction: 'outbound' })]));
      expect(listed).toHaveLength(2);

      listed[0].state = 'ended';
      expect((await store.list()).map((s) => s.state)).toEqual(['listening', 'listening']);
    });

    it('forgets a removed session, and takes the removal of an unknown one', async () => {
      await store.save(session(1));
      await store.save(session(2));
      await store.remove(sid(1));
      await store.remove(sid(9));

      expect(await store.get(sid(1))).toBeUndefined();
      expect(await store.list()).toEqual([session(2)]);
    });
  });

  describe('touch and state', () => {
    it('moves lastSeenAt forward to when Twilio was last heard from, never back', async () => {
      const started = t.now();
      await store.save(session(1));
      await store.touch(sid(1), started + 5_000);
      expect((await store.get(sid(1)))?.lastSeenAt).toBe(started + 5_000);

      await store.touch(sid(1), started + 2_000);
      expect((await store.get(sid(1)))?.lastSeenAt).toBe(started + 5_000);
    });

    it("writes the agent's state, leaving the rest as it was (a state write is not Twilio heard from)", async () => {
      const saved = session(1);
      await store.save(saved);
      await t.advance(10_000);
      await store.setState(sid(1), 'speaking');
      expect(await store.get(sid(1))).toEqual({ ...saved, state: 'speaking' });
    });

    it('says whether the touched session is live, so that its call can save it again', async () => {
      await store.save(session(1));
      expect(await store.touch(sid(1), t.now())).toBe(true);
      expect(await store.touch(sid(1), t.now() - 1_000)).toBe(true);
      expect(await store.touch(sid(2), t.now())).toBe(false);
      await store.remove(sid(1));
      expect(await store.touch(sid(1), t.now())).toBe(false);
    });

    it('creates no session by touching or writing the state of an unknown call', async () => {
      expect(await store.touch(sid(1), t.now())).toBe(false);
      await store.setState(sid(1), 'speaking');
      expect(await store.get(sid(1))).toBeUndefined();
      expect(await store.list()).toEqual([]);
    });
  });

  describe('expiry', () => {
    it('lets a session go SESSION_TTL_MINUTES after it was last seen', async () => {
      await store.save(session(1));
      await t.advance(TTL_MS - 1_000);
      expect(await store.get(sid(1))).toBeDefined();
      expect(await store.list()).toHaveLength(1);

      await t.advance(2_000);
      expect(await store.get(sid(1))).toBeUndefined();
      expect(await store.list()).toEqual([]);
    });

    it('counts from lastSeenAt, not from when the session was saved', async () => {
      await store.save(session(1, { lastSeenAt: t.now() - (TTL_MS - MINUTE_MS) }));
      await t.advance(MINUTE_MS - 1_000);
      expect(await store.get(sid(1))).toBeDefined();
      await t.advance(2_000);
      expect(await store.get(sid(1))).toBeUndefined();
    });

    it('keeps a session alive while it is touched', async () => {
      await store.save(session(1));
      for (let i = 0; i < 3; i++) {
        await t.advance(TTL_MS - 1_000);
        await store.touch(sid(1), t.now());
      }
      expect(await store.get(sid(1))).toBeDefined();

      await t.advance(TTL_MS + 1_000);
      expect(await store.get(sid(1))).toBeUndefined();
    });

    it('lists only the live sessions', async () => {
      await store.save(session(1));
      await t.advance(TTL_MS / 2);
      await store.save(session(2));
      await t.advance(TTL_MS / 2 + 1_000);

      expect((await store.list()).map((s) => s.callSid)).toEqual([sid(2)]);
    });

    it('counts the live sessions only', async () => {
      expect(await store.count()).toBe(0);
      await store.save(session(1));
      await t.advance(TTL_MS / 2);
      await store.save(session(2));
      await store.save(session(3));
      expect(await store.count()).toBe(3);
      await t.advance(TTL_MS / 2 + 1_000);
      expect(await store.count()).toBe(2);
      await store.remove(sid(2));
      expect(await store.count()).toBe(1);
    });

    it('does not bring an expired session back with a late touch or state write', async () => {
      await store.save(session(1));
      await t.advance(TTL_MS + 1_000);
      expect(await store.touch(sid(1), t.now())).toBe(false);
      await store.setState(sid(1), 'speaking');

      expect(await store.get(sid(1))).toBeUndefined();
      expect(await store.list()).toEqual([]);
    });
  });
});
