/**
 * Written call summaries end to end: the app boots with a fake of OpenAI's HTTP API served by the
 * mock Realtime server (the app derives the API's base from OPENAI_REALTIME_URL), takes a call
 * with a transcript, and after the call ends asks the text model for a summary through the SDK,
 * attaches it to the record (GET /api/calls/:callSid) and sends it in the call.ended webhook,
 * which waited for it. When the model fails or times out, or summaries are off, the record and the
 * webhook are complete all the same, with the one-line summary.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CallLogWriter } from '../src/call-log/call-log-writer';
import type { CallRecord } from '../src/call-log/call-record';
import { callEndedEventId } from '../src/webhooks/call-ended-event';
import { WebhookDispatcher } from '../src/webhooks/webhook-dispatcher';
import type { WebhookDelivery } from '../src/webhooks/webhook-outbox';
import { CallMetrics } from '../src/metrics/call-metrics';
import { FakeOpenAiApi } from './support/fake-openai-api';
import { metricValue } from './support/metric-value';
import { MockRealtimeServer } from './support/mock-realtime-server';
import { freshDataDir, startApp, TEST_API_KEY, type TestApp } from './support/test-app';
import { TwilioCaller } from './support/twilio-caller';
import { WebhookReceiver } from './support/webhook-receiver';

jest.setTimeout(60_000);

const API_TOKEN = 'test-api-token-0123456789';
const WEBHOOK_SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const auth = { authorization: `Bearer ${API_TOKEN}` };
const PARAMS = { from: '+15551230000', to: '+15557650000', direction: 'inbound' };
const CALLER_WORDS = 'Hi, this is Dana Reyes, a pipe burst under my kitchen sink at 12 Elm Street and water is everywhere.';
const AGENT_WORDS = 'Please shut off the main valve. The on-call plumber will call you back tonight.';
const JOB = { caller_name: 'Dana Reyes', callback_number: '+14155550123', service_address: '12 Elm St', problem: 'Burst pipe under the kitchen sink', urgency: 'emergency' };
const SUMMARY_TIMEOUT_MS = 3_000;
const PROMPT = readFileSync(join(__dirname, '..', 'prompts', 'call_summary_prompt.txt'), 'utf8').trim();

/** A call in which the caller says something, the agent answers (and saves a job request when given), then the caller hangs up. */
async function talkingCall(t: TestApp, mock: MockRealtimeServer, job?: Record<string, string>): Promise<string> {
  const caller = await TwilioCaller.connect(t.streamUrl, { customParameters: PARAMS });
  caller.sendConnected();
  caller.sendStart();
  const rt = await mock.nextConnection();
  await rt.waitFor('response.create');
  caller.sendMedia(Buffer.alloc(160, 0x7f));
  await rt.waitFor('input_audio_buffer.append');
  rt.speechStarted(20, 'item_u1');
  rt.send({ type: 'conversation.item.input_audio_transcription.completed', item_id: 'item_u1', content_index: 0, transcript: CALLER_WORDS });
  rt.speak('r1', 'item_a1', Buffer.alloc(800, 0x35), { transcript: AGENT_WORDS });
  await t.logs.waitFor('response done', { callSid: caller.callSid, responseId: 'r1' });
  if (job) {
    rt.responseCreated('r2');
    rt.send({ type: 'response.function_call_arguments.done', response_id: 'r2', item_id: 'fc1', output_index: 0, call_id: 'job', name: 'save_job_request', arguments: JSON.stringify(job) });
    rt.responseDone('r2');
    await t.logs.waitFor('tool finished', { callSid: caller.callSid, tool: 'save_job_request' });
  }
  caller.sendStop();
  await rt.waitForClose();
  await t.logs.waitFor('call ended', { callSid: caller.callSid });
  return caller.callSid;
}

async function boot(env: Record<string, string>): Promise<{ t: TestApp; mock: MockRealtimeServer; fake: FakeOpenAiApi; receiver: WebhookReceiver }> {
  const mock = await MockRealtimeServer.start();
  const fake = new FakeOpenAiApi();
  mock.serveHttp(fake.handle);
  // The app's clock is not moved here: the receiver checks timestamps against the real one.
  const receiver = await WebhookReceiver.start(WEBHOOK_SECRET);
  const t = await startApp({
    OPENAI_API_KEY: TEST_API_KEY,
    OPENAI_REALTIME_URL: mock.url,
    API_TOKEN,
    WEBHOOK_URLS: receiver.url(),
    WEBHOOK_SECRET,
    JOBS_POLL_SECONDS: '1',
    SUMMARY_ENABLED: 'true',
    SUMMARY_TIMEOUT_MS: String(SUMMARY_TIMEOUT_MS),
    ...env,
  });
  return { t, mock, fake, receiver };
}

const getCall = async (t: TestApp, callSid: string): Promise<CallRecord> => {
  const res = await fetch(`${t.httpUrl}/api/calls/${callSid}`, { headers: auth });
  expect(res.status).toBe(200);
  return (await res.json()) as CallRecord;
};

const deliveriesOf = async (t: TestApp, callSid: string): Promise<WebhookDelivery[]> => {
  const res = await fetch(`${t.httpUrl}/api/webhooks/deliveries?callSid=${callSid}`, { headers: auth });
  return ((await res.json()) as { items: WebhookDelivery[] }).items;
};

describe('call summaries by a text model', () => {
  let t: TestApp;
  let mock: MockRealtimeServer;
  let fake: FakeOpenAiApi;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    ({ t, mock, fake, receiver } = await boot({}));
  });

  afterAll(async () => {
    await t?.close();
    await receiver?.close();
    await mock?.close();
    await fake?.close();
  });

  it("attaches the model's summary to the record, and the call.ended webhook, held meanwhile, carries it", async () => {
    fake.reply({ kind: 'hold' });
    const callSid = await talkingCall(t, mock, JOB);
    const eventId = callEndedEventId(callSid);

    // The model was asked once, through the SDK, with the prompt from prompts/ and the call as input.
    const [request] = await fake.waitForRequests(1);
    await fake.waitForHeld();
    expect(request.path).toBe('/v1/responses');
    expect(request.headers.authorization).toBe(`Bearer ${TEST_API_KEY}`);
    expect(request.body).toMatchObject({ model: 'gpt-4.1-mini', instructions: PROMPT, store: false });
    expect(request.body.input).toContain(`Caller: ${CALLER_WORDS}`);
    expect(request.body.input).toContain(`Agent: ${AGENT_WORDS}`);
    expect(request.body.input).toContain('- problem: Burst pipe under the kitchen sink');
    expect(request.body.input).toContain('How it ended: the call was hung up.');
    expect(request.raw).not.toContain(TEST_API_KEY);
    expect(request.raw).not.toContain(API_TOKEN);
    expect(request.raw).not.toContain(WEBHOOK_SECRET.slice('whsec_'.length));
    expect(request.raw).not.toContain('+14155550123');

    // The record is written ended at once; its event is in the outbox, held for the summary.
    await t.app.get(CallLogWriter).drained();
    const ended = await getCall(t, callSid);
    expect(ended).toMatchObject({ status: 'completed', endReason: 'twilio_stop' });
    expect(ended.details.summary).toBeUndefined();
    const [held, ...more] = await deliveriesOf(t, callSid);
    expect(more).toEqual([]);
    expect(held).toMatchObject({ status: 'pending', attempts: 0 });
    expect(Date.parse(held.nextAttemptAt!)).toBeGreaterThan(Date.parse(ended.endedAt!) + SUMMARY_TIMEOUT_MS);
    await t.app.get(WebhookDispatcher).settled();
    expect(receiver.requests.filter((r) => r.headers['webhook-id'] === eventId)).toEqual([]);

    // The model answers: the summary is on the record and the event goes out at once, carrying it.
    fake.release({ kind: 'text', text: fake.text });
    const [sent] = await receiver.waitForRequests(1, (r) => r.headers['webhook-id'] === eventId, SUMMARY_TIMEOUT_MS);
    expect(sent.verified).toBe(true);
    expect(sent.event).toMatchObject({
      type: 'call.ended',
      data: { callSid, outcome: 'job_request', summary: fake.text, jobRequest: { problem: 'Burst pipe under the kitchen sink', urgency: 'emergency' } },
    });
    const call = await getCall(t, callSid);
    expect(call).toMatchObject({ status: 'completed', endReason: 'twilio_stop', details: { summary: { status: 'ready', text: fake.text, model: 'gpt-4.1-mini' } } });
    expect(call.details.jobRequest).toBeDefined();

    // Once, by event id; logged without what was said or summarised.
    await t.app.get(WebhookDispatcher).settled();
    expect(receiver.accepted.get(eventId)).toBe(1);
    await t.logs.waitFor('call summary made', { callSid, model: 'gpt-4.1-mini' });
    const logged = t.logs.raw.join('\n');
    expect(logged).not.toContain(fake.text);
    expect(logged).not.toContain('kitchen sink at 12 Elm Street');
    expect(await metricValue(t.app.get(CallMetrics).registry, 'call_operator_call_summaries_total', { outcome: 'ready' })).toBe(1);
  });

  it('completes the record and the webhook with the one-line summary when the model fails, logging the failure without content', async () => {
    fake.reply({ kind: 'error', status: 500, message: `echo of ${CALLER_WORDS}` });
    const callSid = await talkingCall(t, mock, JOB);
    const eventId = callEndedEventId(callSid);
    const [sent] = await receiver.waitForRequests(1, (r) => r.headers['webhook-id'] === eventId, SUMMARY_TIMEOUT_MS);
    expect(sent.event.data).toMatchObject({ callSid, summary: 'emergency job: Burst pipe under the kitchen sink' });
    expect((await getCall(t, callSid)).details.summary).toMatchObject({ status: 'failed', reason: 'error', model: 'gpt-4.1-mini' });
    const failure = await t.logs.waitFor('call summary not made; the one-line summary stands in', { callSid, reason: 'error', httpStatus: 500 });
    expect(JSON.stringify(failure)).not.toContain('echo of');
    expect(t.logs.raw.join('\n')).not.toContain('echo of');
    await t.app.get(WebhookDispatcher).settled();
    expect(receiver.accepted.get(eventId)).toBe(1);
  });

  it('gives up a model that takes longer than SUMMARY_TIMEOUT_MS: the webhook goes out then, with the one-line summary', async () => {
    fake.reply({ kind: 'hold' });
    const callSid = await talkingCall(t, mock);
    const eventId = callEndedEventId(callSid);
    await fake.waitForHeld();
    const [sent] = await receiver.waitForRequests(1, (r) => r.headers['webhook-id'] === eventId, SUMMARY_TIMEOUT_MS + 5_000);
    expect(sent.event.data).toMatchObject({ callSid, summary: 'Call twilio_stop; no job request captured.', outcome: 'no_job_request' });
    expect((await getCall(t, callSid)).details.summary).toMatchObject({ status: 'failed', reason: 'timeout' });
    await t.logs.waitFor('call summary not made; the one-line summary stands in', { callSid, reason: 'timeout' });
    // An answer after the deadline changes nothing: the event was sent once, with the body it had.
    fake.release();
    await t.app.get(WebhookDispatcher).settled();
    expect(receiver.accepted.get(eventId)).toBe(1);
    expect((await getCall(t, callSid)).details.summary).toMatchObject({ status: 'failed', reason: 'timeout' });
  });
});

describe('call summaries at shutdown', () => {
  it('gives up a summary still being made, attaches that to the record before the database closes, and the next boot sends the event', async () => {
    const dataDir = await freshDataDir();
    // A model slower than the shutdown's wait for it (5 s), within its own deadline.
    const first = await boot({ DATA_DIR: dataDir, SUMMARY_TIMEOUT_MS: '60000' });
    let second: TestApp | undefined;
    try {
      first.fake.reply({ kind: 'hold' });
      const callSid = await talkingCall(first.t, first.mock);
      await first.fake.waitForHeld();
      // Webhooks go nowhere yet: the receiver is down while the first instance runs.
      await first.receiver.down();
      await first.t.close();
      await first.t.logs.waitFor('call summary not made; the one-line summary stands in', { callSid, reason: 'shutdown' });

      await first.receiver.up();
      second = await startApp({ OPENAI_API_KEY: TEST_API_KEY, OPENAI_REALTIME_URL: first.mock.url, API_TOKEN, DATA_DIR: dataDir, WEBHOOK_URLS: first.receiver.url(), WEBHOOK_SECRET, SUMMARY_ENABLED: 'true' });
      // Released when the failure was attached: sent at once, not at the end of the hold.
      const [sent] = await first.receiver.waitForRequests(1, (r) => r.headers['webhook-id'] === callEndedEventId(callSid));
      expect(sent.event.data).toMatchObject({ callSid, summary: 'Call twilio_stop; no job request captured.' });
      expect((await getCall(second, callSid)).details.summary).toMatchObject({ status: 'failed', reason: 'shutdown' });
    } finally {
      await second?.close();
      await first.receiver.close();
      await first.mock.close();
      await first.fake.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('call summaries off', () => {
  it('without SUMMARY_ENABLED: no model is asked; the record and the webhook are complete at once', async () => {
    const { t, mock, fake, receiver } = await boot({ SUMMARY_ENABLED: 'false' });
    try {
      const callSid = await talkingCall(t, mock);
      const [sent] = await receiver.waitForRequests(1, (r) => r.headers['webhook-id'] === callEndedEventId(callSid));
      expect(sent.event.data).toMatchObject({ callSid, summary: 'Call twilio_stop; no job request captured.' });
      const call = await getCall(t, callSid);
      expect(call.transcript.map((turn) => turn.text).sort()).toEqual([CALLER_WORDS, AGENT_WORDS].sort());
      expect(call.details.summary).toBeUndefined();
      expect(fake.requests).toEqual([]);
    } finally {
      await t.close();
      await receiver.close();
      await mock.close();
    }
  });

  it('without an OpenAI key: calls get the fallback, its record and webhook are made, and no model is asked', async () => {
    const { t, mock, fake, receiver } = await boot({ OPENAI_API_KEY: '' });
    try {
      const callSid = `CA${randomBytes(16).toString('hex')}`;
      const res = await fetch(`${t.httpUrl}/twilio/voice`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ CallSid: callSid, From: PARAMS.from, To: PARAMS.to, Direction: 'inbound' }).toString(),
      });
      expect(res.status).toBe(200);
      await res.text();
      const [sent] = await receiver.waitForRequests(1, (r) => r.headers['webhook-id'] === callEndedEventId(callSid));
      expect(sent.event.data).toMatchObject({ callSid, status: 'fallback', summary: 'Call missing_api_key; no job request captured.' });
      expect((await getCall(t, callSid)).details).toEqual({});
      expect(fake.requests).toEqual([]);
    } finally {
      await t.close();
      await receiver.close();
      await mock.close();
    }
  });
});
