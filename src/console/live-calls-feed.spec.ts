import type { MessageEvent } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { ManualClock } from '../common/clock';
import { ManualScheduler } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import { silentAppLogger } from '../database/sql-test-backends';
import { InMemorySessionStore, type CallSession, type NewCallSession } from '../session/session-store';
import { LIVE_KEEPALIVE_MS, LIVE_POLL_MS, LiveCallsFeed } from './live-calls-feed';

const session = (callSid: string, startedAt: number): NewCallSession => ({
  callSid,
  streamSid: `MZ${callSid}`,
  from: '+15551230000',
  to: '+15557650000',
  direction: 'inbound',
  startedAt,
  lastSeenAt: startedAt,
  state: 'listening',
});

/** Two instances' stores behind one list, as Redis holds the fleet's sessions. */
class FleetStore extends InMemorySessionStore {
  failing = false;
  constructor(
    private readonly other: InMemorySessionStore,
    config: AppConfig,
    clock: ManualClock,
  ) {
    super(config, clock);
  }
  override async list(): Promise<CallSession[]> {
    if (this.failing) throw new Error('ECONNREFUSED');
    return [...(await super.list()), ...(await this.other.list())];
  }
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('LiveCallsFeed', () => {
  let clock: ManualClock;
  let scheduler: ManualScheduler;
  let store: FleetStore;
  let elsewhere: InMemorySessionStore;
  let feed: LiveCallsFeed;
  const subscriptions: Subscription[] = [];

  beforeEach(() => {
    clock = new ManualClock();
    scheduler = new ManualScheduler(clock);
    elsewhere = new InMemorySessionStore(new AppConfig(validateEnvironment({ INSTANCE_ID: 'b' })), clock);
    store = new FleetStore(elsewhere, new AppConfig(validateEnvironment({ INSTANCE_ID: 'a' })), clock);
    feed = new LiveCallsFeed(store, clock, scheduler, silentAppLogger);
  });

  afterEach(() => {
    for (const s of subscriptions.splice(0)) s.unsubscribe();
  });

  function watch(): { events: MessageEvent[]; completed: () => boolean } {
    const events: MessageEvent[] = [];
    let done = false;
    subscriptions.push(feed.events().subscribe({ next: (e) => events.push(e), complete: () => (done = true) }));
    return { events, completed: () => done };
  }

  /** One tick of the poll, and the store's answer. */
  async function tick(ms = LIVE_POLL_MS): Promise<void> {
    scheduler.advance(ms);
    await flush();
  }

  const sids = (e: MessageEvent) => (e.data as { items: Array<{ callSid: string }> }).items.map((c) => c.callSid);

  it('sends the live calls at once, then only when they change, across the fleet', async () => {
    await store.save(session('CA1', clock.epochMs()));
    const w = watch();
    await flush();
    expect(w.events).toEqual([{ type: 'calls', data: expect.objectContaining({ total: 1 }) }]);

    await tick();
    expect(w.events).toHaveLength(1);

    // A call held by another instance appears within a tick; newest first, each with its instance.
    clock.advance(10);
    await elsewhere.save(session('CA2', clock.epochMs()));
    await tick();
    expect(w.events).toHaveLength(2);
    expect(sids(w.events[1])).toEqual(['CA2', 'CA1']);
    expect((w.events[1].data as { items: Array<{ instanceId: string }> }).items.map((c) => c.instanceId)).toEqual(['b', 'a']);

    await store.setState('CA1', 'speaking');
    await tick();
    expect(w.events).toHaveLength(3);

    await store.remove('CA1');
    await elsewhere.remove('CA2');
    await tick();
    expect(w.events[3]).toEqual({ type: 'calls', data: { items: [], total: 0 } });
  });

  it('gives a new watcher the current list even when nothing changed', async () => {
    await store.save(session('CA1', clock.epochMs()));
    const first = watch();
    await flush();
    const second = watch();
    await flush();
    expect(first.events).toHaveLength(1);
    expect(second.events).toHaveLength(1);
    expect(sids(second.events[0])).toEqual(['CA1']);
  });

  it('says when the store cannot be read, once, and recovers', async () => {
    const w = watch();
    await flush();
    store.failing = true;
    await tick();
    await tick();
    expect(w.events.map((e) => e.type)).toEqual(['calls', 'unavailable']);
    store.failing = false;
    await tick();
    expect(w.events.map((e) => e.type)).toEqual(['calls', 'unavailable', 'calls']);
  });

  it('keeps a quiet stream open with a comment', async () => {
    const w = watch();
    await flush();
    for (let t = 0; t < LIVE_KEEPALIVE_MS; t += LIVE_POLL_MS) await tick();
    expect(w.events.at(-1)).toEqual({ comment: 'keepalive' });
  });

  it('reads the store only while someone watches', async () => {
    const list = jest.spyOn(store, 'list');
    const w = watch();
    await flush();
    expect(scheduler.pending).toBe(1);
    subscriptions.pop()!.unsubscribe();
    expect(scheduler.pending).toBe(0);
    await tick(10 * LIVE_POLL_MS);
    expect(list).toHaveBeenCalledTimes(1);
    expect(w.events).toHaveLength(1);
  });

  it('ends every stream at shutdown, and takes no new watcher after', async () => {
    const w = watch();
    await flush();
    feed.onModuleDestroy();
    expect(w.completed()).toBe(true);
    expect(scheduler.pending).toBe(0);
    const late = watch();
    expect(late.completed()).toBe(true);
    expect(feed.watching).toBe(0);
  });
});
