import { Writable } from 'node:stream';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import { AppLogger } from '../logging/app-logger';
import { TwilioCallControl, TwilioCallControlError } from '../twilio/twilio-call-control';
import { CallDrain, GOODBYE_MAX_MS, HANGUP_MAX_MS } from './call-drain';
import { CallRegistry, type LiveCall } from './call-registry';

/** A live call whose goodbye plays when the test says so. */
class FakeCall implements LiveCall {
  goodbyes = 0;
  readonly endReasons: string[] = [];
  private played: (() => void) | null = null;

  constructor(
    readonly callSid: string,
    private readonly registry: CallRegistry,
  ) {
    registry.add(this);
  }

  sayGoodbye(): Promise<void> {
    this.goodbyes++;
    return new Promise((resolve) => {
      this.played = resolve;
    });
  }

  goodbyePlayed(): void {
    this.played?.();
  }

  end(reason: string): void {
    this.endReasons.push(reason);
    this.registry.remove(this);
  }
}

/** Twilio's REST API as the drain sees it: a hang-up completes the call, which stops its stream. */
class FakeCallControl extends TwilioCallControl {
  readonly hungUp: string[] = [];
  failure: Error | null = null;
  stopsStream = true;

  constructor(
    readonly available: boolean,
    private readonly calls: () => FakeCall[],
  ) {
    super();
  }

  async transfer(): Promise<void> {
    throw new Error('not used');
  }

  async hangUp(callSid: string): Promise<void> {
    this.hungUp.push(callSid);
    if (this.failure) throw this.failure;
    if (this.stopsStream) this.calls().find((c) => c.callSid === callSid)?.end('twilio_stop');
  }
}

describe('CallDrain', () => {
  let registry: CallRegistry;
  let calls: FakeCall[];
  let control: FakeCallControl;

  const drainWith = (env: Record<string, string>, restAvailable = true) => {
    const config = new AppConfig(validateEnvironment({ OPENAI_API_KEY: 'sk-test-0123456789', ...env }));
    registry = new CallRegistry(config);
    calls = [];
    control = new FakeCallControl(restAvailable, () => calls);
    const logger = new AppLogger(new AppConfig(validateEnvironment({ LOG_LEVEL: 'silent' })), new Writable({ write: (_c, _e, cb) => cb() }));
    return new CallDrain(registry, config, control, logger);
  };
  const call = (n: number) => {
    const c = new FakeCall(`CA${String(n).padStart(32, '0')}`, registry);
    calls.push(c);
    return c;
  };
  let settled: boolean;
  const track = (p: Promise<void>) => {
    settled = false;
    void p.then(() => {
      settled = true;
    });
    return p;
  };

  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('stops taking calls at once and is done when no call is live', async () => {
    const drain = drainWith({ DRAIN_TIMEOUT_SECONDS: '30' });
    await drain.run();
    expect(registry.refusal()).toBe('draining');
  });

  it('waits for calls that end by themselves before the deadline, without a goodbye', async () => {
    const drain = drainWith({ DRAIN_TIMEOUT_SECONDS: '30' });
    const [a, b] = [call(1), call(2)];
    const run = track(drain.run());
    expect(registry.refusal()).toBe('draining');
    a.end('twilio_stop');
    await jest.advanceTimersByTimeAsync(29_000);
    expect(settled).toBe(false);
    b.end('twilio_stop');
    await run;
    expect(a.goodbyes + b.goodbyes).toBe(0);
    expect(control.hungUp).toEqual([]);
  });

  it('at the deadline has each call say goodbye, and hangs up over REST only once it has played', async () => {
    const drain = drainWith({ DRAIN_TIMEOUT_SECONDS: '30', OPERATOR_SHUTDOWN_GOODBYE: 'Bye from {{COMPANY_NAME}}.', OPERATOR_COMPANY_NAME: 'Acme' });
    const [a, b] = [call(1), call(2)];
    const run = track(drain.run());
    await jest.advanceTimersByTimeAsync(29_999);
    expect(a.goodbyes).toBe(0);
    await jest.advanceTimersByTimeAsync(1);
    expect(a.goodbyes).toBe(1);
    expect(b.goodbyes).toBe(1);
    a.goodbyePlayed();
    await jest.advanceTimersByTimeAsync(0);
    expect(control.hungUp).toEqual([a.callSid]);
    expect(a.endReasons).toEqual(['twilio_stop']);
    expect(settled).toBe(false);
    b.goodbyePlayed();
    await run;
    expect(control.hungUp).toEqual([a.callSid, b.callSid]);
    expect(registry.activeCalls).toBe(0);
  });

  it('hangs up anyway when the goodbye does not play in time', async () => {
    const drain = drainWith({ DRAIN_TIMEOUT_SECONDS: '1' });
    const a = call(1);
    const run = track(drain.run());
    await jest.advanceTimersByTimeAsync(1000 + GOODBYE_MAX_MS - 1);
    expect(control.hungUp).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    await run;
    expect(control.hungUp).toEqual([a.callSid]);
  });

  it('closes the stream itself without REST credentials, when the hang-up fails, or when Twilio never stops the stream', async () => {
    let drain = drainWith({ DRAIN_TIMEOUT_SECONDS: '1' }, false);
    let a = call(1);
    let run = drain.run();
    await jest.advanceTimersByTimeAsync(1000);
    a.goodbyePlayed();
    await run;
    expect(control.hungUp).toEqual([]);
    expect(a.endReasons).toEqual(['shutdown']);

    drain = drainWith({ DRAIN_TIMEOUT_SECONDS: '1' });
    control.failure = new TwilioCallControlError('Twilio hang up of call failed: HTTP 500');
    a = call(1);
    run = drain.run();
    await jest.advanceTimersByTimeAsync(1000);
    a.goodbyePlayed();
    await run;
    expect(control.hungUp).toEqual([a.callSid]);
    expect(a.endReasons).toEqual(['shutdown']);

    drain = drainWith({ DRAIN_TIMEOUT_SECONDS: '1' });
    control.stopsStream = false;
    a = call(1);
    run = track(drain.run());
    await jest.advanceTimersByTimeAsync(1000);
    a.goodbyePlayed();
    await jest.advanceTimersByTimeAsync(HANGUP_MAX_MS - 1);
    expect(a.endReasons).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    await run;
    expect(a.endReasons).toEqual(['shutdown']);
  });

  it('with a drain timeout of 0 ends every call at once, without a goodbye', async () => {
    const drain = drainWith({ DRAIN_TIMEOUT_SECONDS: '0' });
    const [a, b] = [call(1), call(2)];
    await drain.run();
    expect([a.endReasons, b.endReasons]).toEqual([['shutdown'], ['shutdown']]);
    expect(a.goodbyes + b.goodbyes).toBe(0);
  });
});
