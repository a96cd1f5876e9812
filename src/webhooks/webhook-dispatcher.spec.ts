import { createHmac, randomBytes } from 'node:crypto';
import { callRecord } from '../../test/support/call-records';
import { LogCapture } from '../../test/support/log-capture';
import { ManualClock } from '../common/clock';
import { ManualScheduler } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import { MigrationRunner } from '../database/migration-runner';
import { silentAppLogger, sqlTestBackends, type SqlTestDatabase } from '../database/sql-test-backends';
import { AppLogger } from '../logging/app-logger';
import { CallMetrics } from '../metrics/call-metrics';
import { metricValue } from '../../test/support/metric-value';
import { buildCallEndedEvent, type NewWebhookEvent } from './call-ended-event';
import type { AttemptResult } from './delivery-policy';
import { SqlWebhookOutbox } from './sql-webhook-outbox';
import { WebhookDispatcher } from './webhook-dispatcher';
import type { WebhookOutbox } from './webhook-outbox';
import type { WebhookSender } from './webhook-sender';
import type { WebhookHeaders } from './webhook-signer';

jest.setTimeout(30_000);

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const URL_A = 'https://a.example.com/hooks/call?key=receiver-token';
const T0 = Date.UTC(2026, 11, 1, 12);
const POLL_MS = 60_000;

interface Sent {
  readonly url: string;
  readonly headers: WebhookHeaders;
  readonly body: string;
}

/** Answers each attempt from a script (then 200); keeps what it was sent. */
class ScriptedSender {
  readonly sent: Sent[] = [];
  constructor(private readonly script: Array<AttemptResult | Promise<AttemptResult> | ((cancel: AbortSignal) => Promise<AttemptResult>)> = []) {}
  send(url: string, headers: WebhookHeaders, body: string, cancel: AbortSignal): Promise<AttemptResult> {
    this.sent.push({ url, headers, body });
    const next = this.script.shift() ?? { kind: 'response', status: 200 };
    return Promise.resolve(typeof next === 'function' ? next(cancel) : next);
  }
}

const status = (s: number, retryAfterMs?: number): AttemptResult => ({ kind: 'response', status: s, retryAfterMs });

/** The Standard Webhooks signature, recomputed by hand (the library would also check the timestamp against the real clock). */
function signatureOk(sent: Sent): boolean {
  const key = Buffer.from(SECRET.slice('whsec_'.length), 'base64');
  const mac = createHmac('sha256', key).update(`${sent.headers['webhook-id']}.${sent.headers['webhook-timestamp']}.${sent.body}`).digest('base64');
  return sent.headers['webhook-signature'] === `v1,${mac}`;
}

const [pglite] = sqlTestBackends();

describe('WebhookDispatcher', () => {
  let db: SqlTestDatabase;
  let outbox: SqlWebhookOutbox;

  beforeAll(async () => {
    db = await pglite.open();
    const migrations = new MigrationRunner(db.client, silentAppLogger, new ManualScheduler());
    await migrations.ensureMigrated();
    outbox = new SqlWebhookOutbox(db.client, migrations);
  });

  beforeEach(async () => {
    await db.client.query('DELETE FROM webhook_events');
  });

  afterAll(async () => {
    await db?.dispose();
    await pglite.shutdown();
  });

  function setup(sender: ScriptedSender, env: Record<string, string> = {}, store: WebhookOutbox = outbox) {
    const clock = new ManualClock(0, T0);
    const scheduler = new ManualScheduler(clock);
    const logs = new LogCapture();
    const config = new AppConfig(
      validateEnvironment({ WEBHOOK_URLS: URL_A, WEBHOOK_SECRET: SECRET, JOBS_POLL_SECONDS: String(POLL_MS / 1000), LOG_LEVEL: 'debug', ...env }),
    );
    const metrics = new CallMetrics();
    const dispatcher = new WebhookDispatcher(store, sender as unknown as WebhookSender, clock, scheduler, db.client, config, new AppLogger(config, logs), metrics, {
      random: () => 0.5,
    });
    /**
     * Moves time on, a poll at most at a time, letting the rounds and attempts each step started
     * finish before the next (they query the database, which the manual scheduler does not wait for).
     */
    const advance = async (ms: number) => {
      for (let left = ms; left > 0; left -= POLL_MS) {
        scheduler.advance(Math.min(left, POLL_MS));
        await dispatcher.settled();
      }
    };
    const attempts = (outcome: string) => metricValue(metrics.registry, 'call_operator_webhook_attempts_total', { outcome });
    return { dispatcher, clock, scheduler, logs, advance, attempts };
  }

  async function addEvent(at = T0, urls = [URL_A]): Promise<NewWebhookEvent> {
    const event = buildCallEndedEvent(callRecord({ callSid: 'CA' + randomBytes(16).toString('hex') }), { recordingUrl: null, now: at });
    await db.client.transaction((tx) => outbox.add(tx, event, urls));
    return event;
  }

  const onlyDelivery = async () => (await outbox.list({ limit: 10, offset: 0 })).items[0];

  it('sends an event at once, signed, and records it delivered', async () => {
    const sender = new ScriptedSender();
    const { dispatcher, logs } = setup(sender);
    const event = await addEvent();
    dispatcher.onApplicationBootstrap();
    await dispatcher.settled();
    expect(sender.sent).toHaveLength(1);
    const [sent] = sender.sent;
    expect(sent.url).toBe(URL_A);
    expect(sent.body).toBe(event.body);
    expect(sent.headers['webhook-id']).toBe(event.id);
    expect(sent.headers['webhook-timestamp']).toBe(String(T0 / 1000));
    expect(signatureOk(sent)).toBe(true);
    expect(await onlyDelivery()).toMatchObject({ status: 'delivered', attempts: 1, lastStatus: 200 });
    // The URL's path and query (the receiver's token) stay out of the logs.
    expect(logs.find('webhook delivered', { eventId: event.id, receiver: 'https://a.example.com', attempt: 1, status: 200 })).toBeDefined();
    expect(logs.raw.join('\n')).not.toContain('receiver-token');
    expect(logs.raw.join('\n')).not.toContain(SECRET.slice('whsec_'.length));
  });

  it('retries after the backoff, with a new signature, until a 2xx: delivered once', async () => {
    const sender = new ScriptedSender([status(500), { kind: 'error', error: 'no answer: ECONNREFUSED' }, status(503)]);
    const { dispatcher, advance, logs, attempts } = setup(sender);
    const event = await addEvent();
    dispatcher.onApplicationBootstrap();
    await dispatcher.settled();
    expect(await onlyDelivery()).toMatchObject({ status: 'pending', attempts: 1, lastStatus: 500, lastError: 'HTTP 500', nextAttemptAt: new Date(T0 + 10_000).toISOString() });

    await advance(9_999);
    expect(sender.sent).toHaveLength(1);
    await advance(1);
    expect(sender.sent).toHaveLength(2);
    expect(await onlyDelivery()).toMatchObject({ status: 'pending', attempts: 2, lastStatus: null, lastError: 'no answer: ECONNREFUSED' });
    await advance(20_000);
    await advance(40_000);
    expect(sender.sent).toHaveLength(4);
    expect(await onlyDelivery()).toMatchObject({ status: 'delivered', attempts: 4, lastStatus: 200, lastError: null });
    expect(sender.sent.map((s) => s.headers['webhook-id'])).toEqual([event.id, event.id, event.id, event.id]);
    expect(new Set(sender.sent.map((s) => s.headers['webhook-signature'])).size).toBe(4);
    expect(sender.sent.every(signatureOk)).toBe(true);
    expect([await attempts('retried'), await attempts('delivered'), await attempts('failed')]).toEqual([3, 1, 0]);
    expect(logs.all('webhook attempt failed; will retry').map((l) => l.retryAt)).toEqual([
      new Date(T0 + 10_000).toISOString(),
      new Date(T0 + 30_000).toISOString(),
      new Date(T0 + 70_000).toISOString(),
    ]);

    // Nothing is sent again, however long it runs.
    await advance(10 * POLL_MS);
    expect(sender.sent).toHaveLength(4);
  });

  it("waits for the receiver's Retry-After when it is longer than the backoff", async () => {
    const sender = new ScriptedSender([status(429, 120_000)]);
    const { dispatcher, advance } = setup(sender);
    await addEvent();
    dispatcher.onApplicationBootstrap();
    await dispatcher.settled();
    await advance(119_999);
    expect(sender.sent).toHaveLength(1);
    await advance(1);
    expect(sender.sent).toHaveLength(2);
  });

  it('fails a delivery for good after the last attempt, and on 410 at once', async () => {
    const sender = new ScriptedSender([status(500), status(500), status(500), status(410)]);
    const { dispatcher, advance, logs, attempts } = setup(sender, { WEBHOOK_MAX_ATTEMPTS: '3' });
    await addEvent();
    dispatcher.onApplicationBootstrap();
    await dispatcher.settled();
    await advance(10_000);
    await advance(20_000);
    expect(await onlyDelivery()).toMatchObject({ status: 'failed', attempts: 3, lastError: 'HTTP 500; no 2xx after 3 attempts', nextAttemptAt: null });
    expect(logs.find('webhook delivery failed', { attempt: 3, reason: 'no 2xx after 3 attempts' })).toBeDefined();

    await db.client.query('DELETE FROM webhook_events');
    await addEvent(T0 + 30_000);
    dispatcher.wake();
    await dispatcher.settled();
    expect(await onlyDelivery()).toMatchObject({ status: 'failed', attempts: 1, lastStatus: 410, lastError: 'HTTP 410; the receiver answered 410 Gone' });
    await advance(10 * POLL_MS);
    expect(sender.sent).toHaveLength(4);
    expect([await attempts('retried'), await attempts('delivered'), await attempts('failed')]).toEqual([2, 0, 2]);
  });

  it('makes no attempt after the maximum age', async () => {
    const sender = new ScriptedSender([status(500), status(500)]);
    const { dispatcher, advance } = setup(sender, { WEBHOOK_MAX_AGE_HOURS: '1', WEBHOOK_RETRY_BASE_SECONDS: '1800', WEBHOOK_RETRY_MAX_SECONDS: '3600' });
    await addEvent();
    dispatcher.onApplicationBootstrap();
    await dispatcher.settled();
    await advance(1_800_000);
    // The next wait (an hour) would end after the event's hour: failed rather than sent late.
    expect(await onlyDelivery()).toMatchObject({ status: 'failed', attempts: 2, lastError: 'HTTP 500; no 2xx within 1 h of the event' });
  });

  it('idles with one timer at the poll when nothing is due, and finds what another instance added at the poll', async () => {
    const sender = new ScriptedSender();
    const { dispatcher, scheduler, advance } = setup(sender);
    dispatcher.onApplicationBootstrap();
    await dispatcher.settled();
    expect(scheduler.pending).toBe(1);
    await addEvent(T0); // not woken: as if another instance had written it
    await advance(POLL_MS - 1);
    expect(sender.sent).toHaveLength(0);
    await advance(1);
    expect(sender.sent).toHaveLength(1);
    expect(scheduler.pending).toBe(1);
  });

  it('keeps trying while the database is unreachable', async () => {
    let down = true;
    const flaky = new Proxy(outbox, {
      get: (target, prop, receiver) => {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => (down ? Promise.reject(new Error('connect ECONNREFUSED')) : (value as (...a: unknown[]) => unknown).apply(target, args));
      },
    });
    const sender = new ScriptedSender();
    const { dispatcher, advance, logs } = setup(sender, {}, flaky);
    await addEvent();
    dispatcher.onApplicationBootstrap();
    await dispatcher.settled();
    expect(logs.find('webhook outbox unreachable; trying again', { err: 'connect ECONNREFUSED' })).toBeDefined();
    down = false;
    await advance(5_000);
    expect(await onlyDelivery()).toMatchObject({ status: 'delivered', attempts: 1 });
  });

  it('at shutdown takes nothing new, and records the attempt in flight', async () => {
    let answer!: (r: AttemptResult) => void;
    const sender = new ScriptedSender([new Promise<AttemptResult>((resolve) => (answer = resolve))]);
    const { dispatcher, scheduler } = setup(sender);
    await addEvent();
    dispatcher.onApplicationBootstrap();
    while (sender.sent.length === 0) await new Promise((resolve) => setImmediate(resolve));
    const stopping = dispatcher.beforeApplicationShutdown();
    await addEvent();
    dispatcher.wake();
    answer(status(204));
    await stopping;
    const items = (await outbox.list({ limit: 10, offset: 0 })).items;
    expect(items.map((d) => d.status).sort()).toEqual(['delivered', 'pending']);
    expect(sender.sent).toHaveLength(1);
    expect(scheduler.pending).toBe(0);
  });

  it('at shutdown gives up an attempt that takes too long; it is retried later', async () => {
    const hanging = (cancel: AbortSignal) =>
      new Promise<AttemptResult>((resolve) => cancel.addEventListener('abort', () => resolve({ kind: 'error', error: 'given up at shutdown' })));
    const sender = new ScriptedSender([hanging]);
    const { dispatcher, scheduler, logs } = setup(sender);
    await addEvent();
    dispatcher.onApplicationBootstrap();
    while (sender.sent.length === 0) await new Promise((resolve) => setImmediate(resolve));
    const stopping = dispatcher.beforeApplicationShutdown();
    while (scheduler.pending === 0) await new Promise((resolve) => setImmediate(resolve));
    scheduler.advance(4_999);
    expect(logs.find('webhook attempts given up at shutdown; they will be retried')).toBeUndefined();
    scheduler.advance(1);
    await stopping;
    expect(logs.find('webhook attempts given up at shutdown; they will be retried', { attempts: 1 })).toBeDefined();
    expect(await onlyDelivery()).toMatchObject({ status: 'pending', attempts: 1, lastError: 'given up at shutdown', nextAttemptAt: new Date(T0 + 5_000 + 10_000).toISOString() });
    expect(scheduler.pending).toBe(0);
  });

  it('does nothing without WEBHOOK_URLS', async () => {
    const sender = new ScriptedSender();
    const { dispatcher, scheduler } = setup(sender, { WEBHOOK_URLS: '', WEBHOOK_SECRET: '' });
    await addEvent();
    expect(dispatcher.enabled).toBe(false);
    dispatcher.onApplicationBootstrap();
    dispatcher.wake();
    await dispatcher.settled();
    expect(sender.sent).toHaveLength(0);
    expect(scheduler.pending).toBe(0);
  });
});
