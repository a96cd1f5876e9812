/**
 * Twilio sockets that drop (no stop frame, the TCP connection cut) at every stage of a call, by
 * the hundred: each call must be finalised and leave nothing behind.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { CallLogWriter } from '../src/call-log/call-log-writer';
import { CallRegistry } from '../src/call/call-registry';
import { SystemScheduler } from '../src/common/scheduler';
import { AppConfig } from '../src/config/app-config';
import { validateEnvironment } from '../src/config/env.schema';
import { RealtimeConnector, type RealtimeClient, type RealtimeListener } from '../src/realtime/realtime-client';
import { RecordingService } from '../src/recording/recording.service';
import { SessionStore } from '../src/session/session-store';
import { CALL_PARAMS } from './support/calls';
import { MockRealtimeServer, type MockRealtimeConnection } from './support/mock-realtime-server';
import { startApp, TEST_API_KEY, type TestApp } from './support/test-app';
import { TwilioCaller } from './support/twilio-caller';
import { Waiters } from './support/wait';

jest.setTimeout(60_000);

// A full collection on demand, without starting jest with --expose-gc.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const BATCH = 25;
const BATCHES = 12;
const SILENCE = Buffer.alloc(160, 0xff);
/** Loose enough for allocator noise, far below the 15 MB that 300 calls leaking 50 KB each would keep. */
const MAX_MEMORY_GROWTH_BYTES = 5 * 1024 * 1024;

/** JavaScript heap and Buffer memory, after full collections. */
function memoryAfterGc(): number {
  gc();
  gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

/** The real connector, counting the service's Realtime client sockets until each has closed. */
class CountingConnector extends RealtimeConnector {
  private open = 0;
  private readonly waiters = new Waiters('CountingConnector');

  override connect(listener: RealtimeListener): RealtimeClient {
    this.open++;
    return super.connect({
      onOpen: () => listener.onOpen(),
      onEvent: (event) => listener.onEvent(event),
      onClosed: (info) => {
        this.open--;
        this.waiters.notify();
        listener.onClosed(info);
      },
    });
  }

  allClosed(): Promise<unknown> {
    return this.waiters.until('every Realtime client socket to close', () => (this.open === 0 ? true : undefined), () => `${this.open} open`);
  }
}

function resources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

describe('Twilio sockets cut without a stop frame', () => {
  let mock: MockRealtimeServer;
  let t: TestApp;
  let registry: CallRegistry;
  let connector: CountingConnector;

  beforeAll(async () => {
    mock = await MockRealtimeServer.start();
    const env = { OPENAI_API_KEY: TEST_API_KEY, OPENAI_REALTIME_URL: mock.url };
    connector = new CountingConnector(new AppConfig(validateEnvironment(env)), new SystemScheduler());
    t = await startApp({ ...env, LOG_LEVEL: 'warn' }, [{ provide: RealtimeConnector, useValue: connector }]);
    registry = t.app.get(CallRegistry);
  });

  afterAll(async () => {
    await t.close();
    await mock.close();
  });

  /**
   * BATCH calls set up to the greeting; the agent then speaks to all of them (audio, marks in
   * flight), some callers are talking, and every socket is cut. Returns weak references to the
   * calls' bridges.
   */
  async function cutBatch(): Promise<Array<WeakRef<object>>> {
    const callers = await Promise.all(
      Array.from({ length: BATCH }, async () => {
        const caller = await TwilioCaller.connect(t.streamUrl, { customParameters: CALL_PARAMS });
        caller.sendConnected();
        caller.sendStart();
        return caller;
      }),
    );
    const rts: MockRealtimeConnection[] = [];
    for (let i = 0; i < BATCH; i++) rts.push(await mock.nextConnection());
    await Promise.all(rts.map((rt) => rt.waitFor('response.create')));
    const bridges = registry.live().map((call) => new WeakRef(call));
    rts.forEach((rt, i) => rt.speak(`resp_${i}`, `item_${i}`, Buffer.alloc(8 * 2000, 0x55)));
    callers.forEach((caller, i) => {
      if (i % 2 === 0) for (let f = 0; f < 10; f++) caller.sendMedia(SILENCE);
    });
    // Each caller has been sent agent audio by its bridge before the cut.
    await Promise.all(callers.map((caller) => caller.waitFor('media')));
    for (const caller of callers) caller.terminate();
    await Promise.all([...callers.map((caller) => caller.waitForClose()), ...rts.map((rt) => rt.waitForClose())]);
    await registry.whenEmpty();
    await connector.allClosed();
    // The test's own record of the connections would otherwise grow with every batch.
    mock.forgetReturned();
    return bridges;
  }

  it('finalises every call: no Realtime socket, registry entry, session, timer or memory left', async () => {
    await cutBatch(); // warms up code paths, caches and pools
    await t.app.get(CallLogWriter).drained();
    await t.app.get(RecordingService).settled();
    const baseMemory = memoryAfterGc();
    const baseResources = resources();

    const bridges: Array<WeakRef<object>> = [];
    for (let b = 0; b < BATCHES; b++) bridges.push(...(await cutBatch()));
    expect(bridges).toHaveLength(BATCH * BATCHES);

    // Calls whose stream is cut while their Realtime socket is still connecting.
    mock.holdConnections();
    const connecting = await Promise.all(
      Array.from({ length: BATCH }, async () => {
        const caller = await TwilioCaller.connect(t.streamUrl, { customParameters: CALL_PARAMS });
        caller.sendConnected();
        caller.sendStart();
        return caller;
      }),
    );
    await mock.waitForHeldConnection();
    for (const caller of connecting) caller.terminate();
    await Promise.all(connecting.map((caller) => caller.waitForClose()));
    await registry.whenEmpty();
    mock.releaseConnections();

    expect(registry.activeCalls).toBe(0);
    expect(await t.app.get(SessionStore).list()).toEqual([]);
    await connector.allClosed();
    await Promise.all(mock.connections.map((rt) => rt.waitForClose()));
    await t.app.get(CallLogWriter).drained();
    await t.app.get(RecordingService).settled();

    const memoryGrowth = memoryAfterGc() - baseMemory;
    expect(bridges.filter((ref) => ref.deref() !== undefined)).toHaveLength(0);
    expect(memoryGrowth).toBeLessThan(MAX_MEMORY_GROWTH_BYTES);
    // A timer or socket leaked per call would show up hundreds of times; the sockets of the last
    // batch may still be closing.
    const after = resources();
    const slack: Record<string, number> = { Timeout: 3, FileHandle: 3, TCPSocketWrap: 2 * BATCH };
    const grown = Object.keys(slack)
      .filter((type) => (after[type] ?? 0) > (baseResources[type] ?? 0) + slack[type])
      .map((type) => `${type}: ${baseResources[type] ?? 0} before, ${after[type]} after`);
    expect(grown).toEqual([]);
  });
});
