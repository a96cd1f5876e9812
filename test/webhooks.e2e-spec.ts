import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { Webhook } from 'standardwebhooks';
import { CallLogWriter } from '../src/call-log/call-log-writer';
import { CallMetrics } from '../src/metrics/call-metrics';
import { callEndedEventId } from '../src/webhooks/call-ended-event';
import { WebhookDispatcher } from '../src/webhooks/webhook-dispatcher';
import type { WebhookDelivery, WebhookEventView } from '../src/webhooks/webhook-outbox';
import { metricValue } from './support/metric-value';
import { MockRealtimeServer } from './support/mock-realtime-server';
import { TcpProxy } from './support/tcp-proxy';
import { freshDataDir, startApp, TEST_API_KEY, type TestApp } from './support/test-app';
import { TEST_STREAM_TOKEN_SECRET, TwilioCaller } from './support/twilio-caller';
import { WebhookReceiver } from './support/webhook-receiver';

jest.setTimeout(60_000);

const API_TOKEN = 'test-api-token-0123456789';
const WEBHOOK_SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const RECORDING_LINK_SECRET = 'recording-link-secret-for-webhooks-0123456789';
const auth = { authorization: `Bearer ${API_TOKEN}` };
const MINUTE = 60_000;
/** The first retry comes 60 s ±20 % after the first failure, then 120 s ±20 %, then 240 s ±20 %… */
const RETRY_BASE_SECONDS = 60;

/** The databases the app runs on here: PGlite always, PostgreSQL when DATABASE_URL is set. */
const backends: Array<[string, () => Promise<{ env: Record<string, string>; dispose(): Promise<void> }>]> = [
  ['PGlite', async () => ({ env: {}, dispose: async () => undefined })],
];
if (process.env.DATABASE_URL) {
  const base = process.env.DATABASE_URL;
  backends.push([
    'PostgreSQL',
    async () => {
      const { Client } = await import('pg');
      const schema = `webhooks_${randomBytes(6).toString('hex')}`;
      const admin = new Client({ connectionString: base });
      await admin.connect();
      await admin.query(`CREATE SCHEMA ${schema}`);
      const url = new URL(base);
      url.searchParams.set('options', `-c search_path=${schema}`);
      return {
        env: { DATABASE_URL: url.toString(), JOBS_SCHEMA: `${schema}_jobs` },
        dispose: async () => {
          await admin.query(`DROP SCHEMA ${schema} CASCADE`);
          await admin.query(`DROP SCHEMA IF EXISTS ${schema}_jobs CASCADE`);
          await admin.end();
        },
      };
    },
  ]);
}

/** A whole call: the caller says a few words, the agent saves a job request (when given), and the caller hangs up. */
async function oneCall(t: TestApp, mock: MockRealtimeServer, job?: Record<string, string>): Promise<string> {
  const caller = await TwilioCaller.connect(t.streamUrl, { customParameters: { from: '+15551230000', to: '+15557650000', direction: 'inbound' } });
  caller.sendConnected();
  caller.sendStart();
  const rt = await mock.nextConnection();
  await rt.waitFor('response.create');
  caller.sendMedia(Buffer.alloc(160, 0x7f));
  await rt.waitFor('input_audio_buffer.append');
  if (job) {
    rt.responseCreated('r1');
    rt.send({ type: 'response.function_call_arguments.done', response_id: 'r1', item_id: 'fc1', output_index: 0, call_id: 'job', name: 'save_job_request', arguments: JSON.stringify(job) });
    rt.responseDone('r1');
    await t.logs.waitFor('tool finished', { callSid: caller.callSid, tool: 'save_job_request' });
  }
  caller.sendStop();
  await rt.waitForClose();
  await t.logs.waitFor('call ended', { callSid: caller.callSid });
  return caller.callSid;
}

describe.each(backends)('post-call webhooks on %s', (_name, backend) => {
  let mock: MockRealtimeServer;
  let receiver: WebhookReceiver;
  let dataDir: string;
  let db: { env: Record<string, string>; dispose(): Promise<void> };
  let t: TestApp;
  let env: Record<string, string>;

  beforeAll(async () => {
    dataDir = await freshDataDir();
    db = await backend();
    mock = await MockRealtimeServer.start();
    // The receiver's clock agrees with the app's, which the tests move forward.
    receiver = await WebhookReceiver.start(WEBHOOK_SECRET, () => t.clock.epochMs());
    env = {
      OPENAI_API_KEY: TEST_API_KEY,
      OPENAI_REALTIME_URL: mock.url,
      DATA_DIR: dataDir,
      API_TOKEN,
      PUBLIC_BASE_URL: 'https://operator.example.com',
      RECORDING_LINK_SECRET,
      WEBHOOK_URLS: receiver.url(),
      WEBHOOK_SECRET,
      WEBHOOK_RETRY_BASE_SECONDS: String(RETRY_BASE_SECONDS),
      // Deliveries due are looked for every second, so that moving the clock past a backoff is seen at once.
      JOBS_POLL_SECONDS: '1',
      ...db.env,
    };
    t = await startApp(env);
  });

  afterAll(async () => {
    await t?.close();
    await receiver?.close();
    await mock?.close();
    await db?.dispose();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const api = async <T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${t.httpUrl}${path}`, { ...init, headers: { ...auth, ...init.headers } });
    return { status: res.status, body: (await res.json()) as T };
  };
  const deliveriesOf = async (callSid: string) => (await api<{ items: WebhookDelivery[] }>(`/api/webhooks/deliveries?callSid=${callSid}`)).body.items;

  it('sends one signed call.ended event when a call ends, verifiable with a Standard Webhooks library and by hand', async () => {
    const job = { caller_name: 'Dana Reyes', callback_number: '+14155550123', service_address: '12 Elm St', problem: 'Burst pipe under the sink', urgency: 'emergency' };
    const callSid = await oneCall(t, mock, job);
    const eventId = callEndedEventId(callSid);
    const [request] = await receiver.waitForRequests(1, (r) => r.headers['webhook-id'] === eventId);

    // Any Standard Webhooks library verifies it (this one also checks the timestamp against the real clock).
    const verified = new Webhook(WEBHOOK_SECRET).verify(request.rawBody, request.headers as Record<string, string>);
    expect(verified).toEqual(request.event);
    expect(request.verified).toBe(true); // the manual recipe (test/support/webhook-receiver.ts, as in the README)
    expect(request.headers['content-type']).toBe('application/json');

    expect(request.event).toMatchObject({
      type: 'call.ended',
      data: {
        callSid,
        direction: 'inbound',
        from: '+15551230000',
        to: '+15557650000',
        profile: 'default',
        status: 'completed',
        endReason: 'twilio_stop',
        outcome: 'job_request',
        summary: 'emergency job: Burst pipe under the sink',
        jobRequest: { callerName: 'Dana Reyes', callbackNumber: '+14155550123', serviceAddress: '12 Elm St', problem: 'Burst pipe under the sink', urgency: 'emergency' },
        outboundRequestId: null,
        costUsd: expect.any(Number),
        durationMs: expect.any(Number),
      },
    });
    const { data } = request.event;
    expect(request.event.timestamp).toBe(data.endedAt);

    // The recording link plays, without the API token.
    const link = new URL(String(data.recordingUrl));
    expect(link.origin).toBe('https://operator.example.com');
    await t.logs.waitFor('recording saved', { callSid });
    const wav = await fetch(`${t.httpUrl}${link.pathname}${link.search}`);
    expect(wav.status).toBe(200);
    expect(wav.headers.get('content-type')).toBe('audio/wav');
    await wav.arrayBuffer();

    // No credential of the service is in the body.
    for (const secret of [API_TOKEN, TEST_API_KEY, WEBHOOK_SECRET, WEBHOOK_SECRET.slice('whsec_'.length), RECORDING_LINK_SECRET, TEST_STREAM_TOKEN_SECRET]) {
      expect(request.rawBody).not.toContain(secret);
    }

    // The API shows it delivered on the first attempt.
    await t.logs.waitFor('webhook delivered', { eventId });
    expect(await deliveriesOf(callSid)).toEqual([
      expect.objectContaining({ eventId, eventType: 'call.ended', callSid, url: receiver.url(), status: 'delivered', attempts: 1, lastStatus: 204, lastError: null, nextAttemptAt: null }),
    ]);
    const event = await api<WebhookEventView>(`/api/webhooks/events/${eventId}`);
    expect(event.status).toBe(200);
    expect(event.body).toMatchObject({ id: eventId, type: 'call.ended', callSid, payload: request.event, deliveries: [{ status: 'delivered', attempts: 1 }] });
    expect(receiver.accepted.get(eventId)).toBe(1);
    const attempts = (outcome: string) => metricValue(t.app.get(CallMetrics).registry, 'call_operator_webhook_attempts_total', { outcome });
    expect([await attempts('delivered'), await attempts('retried'), await attempts('failed')]).toEqual([1, 0, 0]);
  });

  it('guards the API with the API token and checks what it is asked', async () => {
    expect((await fetch(`${t.httpUrl}/api/webhooks/deliveries`)).status).toBe(401);
    expect((await api('/api/webhooks/deliveries?status=lost')).status).toBe(400);
    expect((await api('/api/webhooks/events/nope')).status).toBe(400);
    expect((await api(`/api/webhooks/events/evt_${'0'.repeat(32)}`)).status).toBe(404);
    expect((await api(`/api/webhooks/deliveries/whd_${'0'.repeat(24)}/retry`, { method: 'POST' })).status).toBe(404);
  });

  it('a receiver down for minutes still gets every event exactly once in the end, by event id', async () => {
    receiver.answer(500, 3);
    const calls = [await oneCall(t, mock), await oneCall(t, mock, { problem: 'No hot water' })];
    const events = calls.map(callEndedEventId);
    for (const eventId of events) await t.logs.waitFor('webhook attempt failed; will retry', { eventId, attempt: 1, error: 'HTTP 500' });

    // Down: the next attempts find the connection refused.
    await receiver.down();
    t.clock.skip(1.25 * RETRY_BASE_SECONDS * 1000);
    for (const eventId of events) await t.logs.waitFor('webhook attempt failed; will retry', { eventId, attempt: 2, error: 'no answer: ECONNREFUSED' });
    expect((await deliveriesOf(calls[0]))[0]).toMatchObject({ status: 'pending', attempts: 2, lastStatus: null, lastError: 'no answer: ECONNREFUSED' });

    // Back after minutes: one more 500, then every event gets through.
    await receiver.up();
    t.clock.skip(2.5 * RETRY_BASE_SECONDS * 1000);
    await receiver.waitForRequests(4, (r) => events.includes(String(r.headers['webhook-id'])));
    t.clock.skip(5 * RETRY_BASE_SECONDS * 1000);
    await receiver.waitForProcessed(events);
    for (const eventId of events) await t.logs.waitFor('webhook delivered', { eventId });

    // Each event reached the receiver's processing once, and nothing was sent after its 2xx.
    for (const eventId of events) expect(receiver.accepted.get(eventId)).toBe(1);
    const requests = receiver.requests.filter((r) => events.includes(String(r.headers['webhook-id'])));
    expect(requests.every((r) => r.verified)).toBe(true);
    expect(requests.map((r) => r.status).sort()).toEqual([204, 204, 500, 500, 500]);
    const deliveries = [...(await deliveriesOf(calls[0])), ...(await deliveriesOf(calls[1]))];
    expect(deliveries.map((d) => d.status)).toEqual(['delivered', 'delivered']);
    // Attempts 1 (500) and 2 (refused) each, then one of them got the third 500 and the other a 204.
    expect(deliveries.map((d) => d.attempts).sort()).toEqual([3, 4]);
    t.clock.skip(60 * MINUTE);
    await t.app.get(WebhookDispatcher).tick();
    await t.app.get(WebhookDispatcher).settled();
    expect(receiver.requests.filter((r) => events.includes(String(r.headers['webhook-id'])))).toHaveLength(5);
  });

  it('retries survive a restart: a delivery pending when the app stops is made by the next one', async () => {
    receiver.answer(503, 1);
    const callSid = await oneCall(t, mock);
    const eventId = callEndedEventId(callSid);
    await t.logs.waitFor('webhook attempt failed; will retry', { eventId, attempt: 1, error: 'HTTP 503' });
    await t.close();

    t = await startApp(env);
    // Nothing is due yet in the new process's time; once the backoff has passed, it is sent.
    const [pending] = await deliveriesOf(callSid);
    expect(pending).toMatchObject({ status: 'pending', attempts: 1, lastStatus: 503 });
    await t.app.get(WebhookDispatcher).settled();
    expect(receiver.requests.filter((r) => r.headers['webhook-id'] === eventId)).toHaveLength(1);
    // The earlier tests moved the first process's clock on: the new one is moved to the retry's due time.
    t.clock.skip(Date.parse(pending.nextAttemptAt!) - t.clock.epochMs() + 1000);
    await receiver.waitForProcessed([eventId]);
    await t.logs.waitFor('webhook delivered', { eventId, attempt: 2 });
    expect(receiver.accepted.get(eventId)).toBe(1);
    expect((await deliveriesOf(callSid))[0]).toMatchObject({ status: 'delivered', attempts: 2, lastStatus: 204 });
  });

  it('a failed delivery can be retried by hand', async () => {
    const restarted = env;
    await t.close();
    t = await startApp({ ...restarted, WEBHOOK_MAX_ATTEMPTS: '1' });
    receiver.answer(500, 1);
    const callSid = await oneCall(t, mock);
    const eventId = callEndedEventId(callSid);
    await t.logs.waitFor('webhook delivery failed', { eventId, attempt: 1 });
    const [failed] = await deliveriesOf(callSid);
    expect(failed).toMatchObject({ status: 'failed', attempts: 1, lastStatus: 500, lastError: 'HTTP 500; no 2xx after 1 attempts' });
    expect((await api<{ items: WebhookDelivery[] }>('/api/webhooks/deliveries?status=failed')).body.items.map((d) => d.id)).toContain(failed.id);

    const retried = await api<WebhookDelivery>(`/api/webhooks/deliveries/${failed.id}/retry`, { method: 'POST' });
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({ id: failed.id, status: 'pending' });
    await t.logs.waitFor('webhook delivered', { eventId, attempt: 2 });
    expect(receiver.accepted.get(eventId)).toBe(1);
    expect((await api(`/api/webhooks/deliveries/${failed.id}/retry`, { method: 'POST' })).status).toBe(409);
  });
});

/** A real outage: PostgreSQL reached through a proxy that the test cuts. */
(process.env.DATABASE_URL ? describe : describe.skip)('webhooks during a PostgreSQL outage', () => {
  let proxy: TcpProxy;
  let mock: MockRealtimeServer;
  let receiver: WebhookReceiver;
  let dataDir: string;
  let schema: string;
  let admin: import('pg').Client;
  let t: TestApp | undefined;

  beforeAll(async () => {
    const base = new URL(process.env.DATABASE_URL!);
    const { Client } = await import('pg');
    admin = new Client({ connectionString: base.toString() });
    await admin.connect();
    schema = `wh_outage_${randomBytes(6).toString('hex')}`;
    await admin.query(`CREATE SCHEMA ${schema}`);
    proxy = await TcpProxy.start(base.hostname, Number(base.port || 5432));
    mock = await MockRealtimeServer.start();
    receiver = await WebhookReceiver.start(WEBHOOK_SECRET);
    dataDir = await freshDataDir();
  });

  afterAll(async () => {
    await t?.close();
    await receiver.close();
    await mock.close();
    await proxy.close();
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.query(`DROP SCHEMA IF EXISTS ${schema}_jobs CASCADE`);
    await admin.end();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('loses nothing: events wait with their call records for the database, or for the next boot', async () => {
    const url = new URL(process.env.DATABASE_URL!);
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    url.searchParams.set('options', `-c search_path=${schema}`);
    const env = {
      OPENAI_API_KEY: TEST_API_KEY,
      OPENAI_REALTIME_URL: mock.url,
      DATA_DIR: dataDir,
      API_TOKEN,
      DATABASE_URL: url.toString(),
      JOBS_SCHEMA: `${schema}_jobs`,
      WEBHOOK_URLS: receiver.url(),
      WEBHOOK_SECRET,
      JOBS_POLL_SECONDS: '1',
    };
    t = await startApp(env);

    // Down while the call ends, back before the call log writer gives up: the event is sent once the record is written.
    proxy.cut();
    const first = await oneCall(t, mock);
    await t.logs.waitFor('call record write failed; will retry', { callSid: first });
    expect(receiver.requests).toHaveLength(0);
    proxy.restore();
    await t.app.get(CallLogWriter).drained();
    await receiver.waitForProcessed([callEndedEventId(first)]);

    // Down through shutdown: the record is spooled to disk, and the next boot writes it, and its event.
    proxy.cut();
    const second = await oneCall(t, mock);
    await t.close();
    await t.logs.waitFor('call record spooled to disk; it will be written at the next boot', { callSid: second });
    proxy.restore();
    t = await startApp(env);
    await receiver.waitForProcessed([callEndedEventId(second)]);
    expect(receiver.requests.every((r) => r.verified)).toBe(true);
    expect([...receiver.accepted.values()]).toEqual([1, 1]);
    expect(receiver.requests.map((r) => r.event.data.callSid)).toEqual([first, second]);
  });
});
