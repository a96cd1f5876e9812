import { Writable } from 'node:stream';
import { ManualClock } from '../common/clock';
import { ManualScheduler } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import { AppLogger } from '../logging/app-logger';
import { CallDrain } from './call-drain';
import { commandRefused, type CallCommandResult } from './call-command';
import { CallRegistry, type LiveConnection } from './call-registry';

/** A live call whose goodbye ends it when the test says so. */
class FakeCall implements LiveConnection {
  readonly command = async (): Promise<CallCommandResult> => commandRefused(409, 'not under test');
  readonly lastHeardAt = 0;
  goodbyes = 0;
  readonly endReasons: string[] = [];
  private ended: (() => void) | null = null;

  constructor(
    readonly callSid: string,
    private readonly registry: CallRegistry,
  ) {
    registry.add(this);
  }

  endWithGoodbye(): Promise<void> {
    this.goodbyes++;
    return new Promise((resolve) => (this.ended = resolve));
  }

  end(reason: string): void {
    this.endReasons.push(reason);
    this.registry.remove(this);
    this.ended?.();
  }
}

describe('CallDrain', () => {
  let registry: CallRegistry;
  let scheduler: ManualScheduler;
  let calls: FakeCall[];

  const drainWith = (env: Record<string, string>) => {
    const config = new AppConfig(validateEnvironment({ OPENAI_API_KEY: 'sk-test-0123456789', ...env }));
    const clock = new ManualClock();
    scheduler = new ManualScheduler(clock);
    const logger = new AppLogger(new AppConfig(validateEnvironment({ LOG_LEVEL: 'silent' })), new Writable({ write: (_c, _e, cb) => cb() }));
    registry = new CallRegistry(config, clock, scheduler, logger);
    calls = [];
    return new CallDrain(registry, config, scheduler, logger);
  };
  const call = (n: number) => {
    const c = new FakeCall(`CA${String(n).padStart(32, '0')}`, registry);
    calls.push(c);
    return c;
  };
  const settles = (p: Promise<void>) => {
    const state = { settled: false };
    void p.then(() => (state.settled = true));
    return state;
  };
  const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

  it('stops taking calls at once and is done when no call is live', async () => {
    const drain = drainWith({ DRAIN_TIMEOUT_SECONDS: '30' });
    await drain.run();
    expect(registry.refusal()).toBe('draining');
  });

  it('waits for calls that end by themselves before the deadline, without a goodbye', async () => {
    const drain = drainWith({ DRAIN_TIMEOUT_SECONDS: '30' });
    const [a, b] = [call(1), call(2)];
    const run = drain.run();
    const state = settles(run);
    expect(registry.refusal()).toBe('draining');
    a.end('twilio_stop');
    scheduler.advance(29_000);
    await flush();
    expect(state.settled).toBe(false);
    b.end('twilio_stop');
    await run;
    expect(a.goodbyes + b.goodbyes).toBe(0);
  });

  it('at the deadline has each remaining call end with its goodbye, and is done once all have ended', async () => {
    const drain = drainWith({ DRAIN_TIMEOUT_SECONDS: '30' });
    const [a, b] = [call(1), call(2)];
    const run = drain.run();
    const state = settles(run);
    scheduler.advance(29_999);
    await flush();
    expect(a.goodbyes).toBe(0);
    scheduler.advance(1);
    await flush();
    expect([a.goodbyes, b.goodbyes]).toEqual([1, 1]);
    a.end('twilio_stop');
    await flush();
    expect(state.settled).toBe(false);
    b.end('shutdown');
    await run;
    expect(registry.activeCalls).toBe(0);
  });

  it('with a drain timeout of 0 ends every call at once, without a goodbye', async () => {
    const drain = drainWith({ DRAIN_TIMEOUT_SECONDS: '0' });
    const [a, b] = [call(1), call(2)];
    await drain.run();
    expect([a.endReasons, b.endReasons]).toEqual([['shutdown'], ['shutdown']]);
    expect(a.goodbyes + b.goodbyes).toBe(0);
  });
});
