import { ManualClock } from '../common/clock';
import { ManualScheduler } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import { AppLogger } from '../logging/app-logger';
import { LogCapture } from '../../test/support/log-capture';
import { commandRefused, type CallCommandResult } from './call-command';
import { CallRegistry, type LiveConnection } from './call-registry';

const MINUTE_MS = 60_000;
const IDLE = 'call idle past its TTL: ending it';

const sid = (n: number) => `CA${String(n).padStart(32, '0')}`;

/** A media stream as the registry sees it: a handshake (no call SID yet) or a call, which leaves the registry when it ends. */
class Connection implements LiveConnection {
  readonly command = async (): Promise<CallCommandResult> => commandRefused(409, 'not under test');
  readonly endReasons: string[] = [];

  constructor(
    private readonly registry: CallRegistry,
    readonly callSid: string | null,
    public lastHeardAt: number | null,
  ) {}

  end(reason: 'shutdown' | 'ttl_expired'): void {
    this.endReasons.push(reason);
    this.registry.remove(this);
  }

  endWithGoodbye(): Promise<void> {
    this.end('shutdown');
    return Promise.resolve();
  }
}

/** Whether a promise has settled, without waiting for it. */
function settles(p: Promise<void>): { settled: boolean } {
  const state = { settled: false };
  void p.then(() => (state.settled = true));
  return state;
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('CallRegistry', () => {
  let clock: ManualClock;
  let scheduler: ManualScheduler;
  let logs: LogCapture;

  function registryWith(env: Record<string, string> = {}): CallRegistry {
    const config = new AppConfig(validateEnvironment({ OPENAI_API_KEY: 'sk-test-0123456789', LOG_LEVEL: 'info', ...env }));
    clock = new ManualClock();
    scheduler = new ManualScheduler(clock);
    logs = new LogCapture();
    return new CallRegistry(config, clock, scheduler, new AppLogger(config, logs));
  }

  /** A handshake: holds a slot, not yet started. */
  const handshake = (registry: CallRegistry) => {
    const c = new Connection(registry, null, null);
    registry.add(c);
    return c;
  };
  /** A call Twilio was last heard from at `lastHeardAt`. */
  const call = (registry: CallRegistry, n: number, lastHeardAt = clock.now()) => {
    const c = new Connection(registry, sid(n), lastHeardAt);
    registry.add(c);
    return c;
  };

  describe('taking new calls', () => {
    it('takes a call when it has a key, is not draining and has a free slot', () => {
      expect(registryWith().refusal()).toBeNull();
    });

    it('refuses every call without an OpenAI API key, first of all reasons', () => {
      const registry = registryWith({ OPENAI_API_KEY: '', MAX_CONCURRENT_CALLS: '1' });
      expect(registry.refusal()).toBe('missing_api_key');
      registry.startDraining();
      call(registry, 1);
      expect(registry.refusal()).toBe('missing_api_key');
    });

    it('refuses calls once draining', () => {
      const registry = registryWith();
      registry.startDraining();
      expect(registry.isDraining).toBe(true);
      expect(registry.refusal()).toBe('draining');
    });

    it('refuses at capacity, counting streams still in their handshake', () => {
      const registry = registryWith({ MAX_CONCURRENT_CALLS: '2' });
      const waiting = handshake(registry);
      expect(registry.refusal()).toBeNull();
      call(registry, 1);
      expect(registry.activeCalls).toBe(2);
      expect(registry.refusal()).toBe('at_capacity');

      registry.remove(waiting);
      expect(registry.refusal()).toBeNull();
    });
  });

  describe('the connections it holds', () => {
    it('holds one slot for a handshake and the call it becomes', () => {
      const registry = registryWith();
      const started = handshake(registry);
      const other = call(registry, 2);
      const becomes = new Connection(registry, sid(1), clock.now());
      registry.replace(started, becomes);

      expect(registry.activeCalls).toBe(2);
      expect(registry.live()).toEqual(expect.arrayContaining([becomes, other]));
      expect(registry.live()).not.toContain(started);
    });

    it('lets a connection go when it is removed, once', () => {
      const registry = registryWith();
      const a = call(registry, 1);
      call(registry, 2);
      registry.remove(a);
      registry.remove(a);
      expect(registry.activeCalls).toBe(1);
      expect(registry.live()).not.toContain(a);
    });

    it('finds a call by its call SID, and no handshake', () => {
      const registry = registryWith();
      handshake(registry);
      const one = call(registry, 1);
      const two = call(registry, 2);
      expect(registry.find(sid(1))).toBe(one);
      expect(registry.find(sid(2))).toBe(two);
      expect(registry.find(sid(3))).toBeUndefined();
      registry.remove(one);
      expect(registry.find(sid(1))).toBeUndefined();
    });
  });

  describe('whenEmpty', () => {
    it('resolves at once when nothing is live', async () => {
      await expect(registryWith().whenEmpty()).resolves.toBeUndefined();
    });

    it('resolves, for every waiter, only when the last connection is removed', async () => {
      const registry = registryWith();
      const a = call(registry, 1);
      const b = call(registry, 2);
      const first = settles(registry.whenEmpty());
      const second = settles(registry.whenEmpty());

      registry.remove(a);
      await flush();
      expect(first.settled).toBe(false);

      registry.remove(b);
      await flush();
      expect(first.settled).toBe(true);
      expect(second.settled).toBe(true);
    });

    it('does not resolve while a handshake becomes its call', async () => {
      const registry = registryWith();
      const started = handshake(registry);
      const empty = settles(registry.whenEmpty());
      const becomes = new Connection(registry, sid(1), clock.now());
      registry.replace(started, becomes);
      await flush();
      expect(empty.settled).toBe(false);

      registry.remove(becomes);
      await flush();
      expect(empty.settled).toBe(true);
    });

    it('waits again for connections added after it emptied', async () => {
      const registry = registryWith();
      registry.remove(call(registry, 1));
      const later = call(registry, 2);
      const empty = settles(registry.whenEmpty());
      await flush();
      expect(empty.settled).toBe(false);
      registry.remove(later);
      await flush();
      expect(empty.settled).toBe(true);
    });
  });

  describe('ending calls Twilio has gone quiet on', () => {
    it('ends only the calls not heard from for longer than SESSION_TTL_MINUTES, and returns their SIDs', () => {
      const registry = registryWith({ SESSION_TTL_MINUTES: '30' });
      const quiet = call(registry, 1, 0);
      const justInside = call(registry, 2, 1);
      const recent = call(registry, 3, 20 * MINUTE_MS);
      const starting = handshake(registry);
      clock.set(30 * MINUTE_MS + 1);

      expect(registry.sweepIdle()).toEqual([sid(1)]);
      expect(quiet.endReasons).toEqual(['ttl_expired']);
      for (const live of [justInside, recent, starting]) expect(live.endReasons).toEqual([]);
      expect(registry.activeCalls).toBe(3);
      expect(logs.all(IDLE)).toEqual([expect.objectContaining({ callSid: sid(1), idleForMs: 30 * MINUTE_MS + 1, ttlMinutes: 30 })]);
    });

    it('never ends a handshake, however old: it has a start deadline of its own', () => {
      const registry = registryWith({ SESSION_TTL_MINUTES: '1' });
      const starting = handshake(registry);
      clock.set(24 * 60 * MINUTE_MS);
      expect(registry.sweepIdle()).toEqual([]);
      expect(starting.endReasons).toEqual([]);
    });

    it('sweeps every SESSION_SWEEP_INTERVAL_SECONDS from module init until module destroy', () => {
      const registry = registryWith({ SESSION_TTL_MINUTES: '1', SESSION_SWEEP_INTERVAL_SECONDS: '90' });
      registry.onModuleInit();
      const quiet = call(registry, 1, 0);

      // Idle past the TTL from 60 s on, but the first sweep is at 90 s.
      scheduler.advance(89_999);
      expect(quiet.endReasons).toEqual([]);
      scheduler.advance(1);
      expect(quiet.endReasons).toEqual(['ttl_expired']);

      scheduler.advance(30_000);
      const next = call(registry, 2, clock.now());
      // The sweep at 180 s finds it quiet for exactly the TTL: not past it.
      scheduler.advance(60_000);
      expect(next.endReasons).toEqual([]);
      scheduler.advance(90_000);
      expect(next.endReasons).toEqual(['ttl_expired']);

      registry.onModuleDestroy();
      expect(scheduler.pending).toBe(0);
      const after = call(registry, 3, clock.now());
      scheduler.advance(10 * MINUTE_MS);
      expect(after.endReasons).toEqual([]);
    });
  });
});
