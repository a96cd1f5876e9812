import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import twilio from 'twilio';
import { CallLogWriter } from '../src/call-log/call-log-writer';
import { confirmationReference } from '../src/sms/confirmation-message';
import { SmsConfirmations } from '../src/sms/sms-confirmations';
import { FakeTwilioRest } from './support/fake-twilio-rest';
import { MockRealtimeServer, type MockRealtimeConnection } from './support/mock-realtime-server';
import { freshDataDir, startApp, TEST_API_KEY, type TestApp } from './support/test-app';
import { TwilioCaller } from './support/twilio-caller';

const ACCOUNT_SID = 'AC' + 'f'.repeat(32);
const AUTH_TOKEN = 'twilio-auth-token-sms-0123456';
const API_TOKEN = 'test-api-token-sms-0123456789abc';
const PUBLIC_BASE_URL = 'https://calls.example.com';
const SMS_FROM = '+15557650000';
const auth = { authorization: `Bearer ${API_TOKEN}` };

const sid = (prefix: string) => prefix + randomBytes(16).toString('hex');

/** The model saves a routine job request with this callback number. */
const JOB = { caller_name: 'Dana Smith', callback_number: '(415) 555-2671', service_address: '12 Elm Street, Springfield', problem: 'Leaking tap in the kitchen', urgency: 'routine' };
const DANA = '+14155552671';

describe('SMS confirmations to callers, STOP/START/HELP', () => {
  let rest: FakeTwilioRest;
  let mock: MockRealtimeServer;
  let t: TestApp;

  beforeAll(async () => {
    rest = await FakeTwilioRest.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
    mock = await MockRealtimeServer.start();
    t = await startApp({
      OPENAI_API_KEY: TEST_API_KEY,
      OPENAI_REALTIME_URL: mock.url,
      TWILIO_API_BASE_URL: rest.baseUrl,
      API_TOKEN,
      TWILIO_ACCOUNT_SID: ACCOUNT_SID,
      TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      TWILIO_VALIDATE_SIGNATURE: 'true',
      PUBLIC_BASE_URL,
      SMS_FROM_NUMBER: SMS_FROM,
    });
  });

  afterAll(async () => {
    await t?.close();
    await mock?.close();
    await rest?.close();
  });

  let callIds = 0;
  /** A signed call from `from`; the model saves `job` (if any); the caller hangs up; the confirmation (if any) is settled. */
  async function call(from: string, job: Record<string, string> | null): Promise<Record<string, any>> {
    const signature = twilio.getExpectedTwilioSignature(AUTH_TOKEN, `${PUBLIC_BASE_URL.replace(/^https/, 'wss')}/twilio/stream`, {});
    const caller = await TwilioCaller.connect(t.streamUrl, { customParameters: { from, to: SMS_FROM, direction: 'inbound' }, headers: { 'x-twilio-signature': signature } });
    caller.sendConnected();
    caller.sendStart();
    const rt: MockRealtimeConnection = await mock.nextConnection();
    await rt.waitFor('response.create');
    if (job) {
      const id = `call_${++callIds}`;
      rt.responseCreated(`resp_${id}`);
      rt.send({ type: 'response.function_call_arguments.done', response_id: `resp_${id}`, item_id: `item_${id}`, output_index: 0, call_id: id, name: 'save_job_request', arguments: JSON.stringify(job) });
      rt.responseDone(`resp_${id}`);
      await rt.waitFor('conversation.item.create', (e) => e.item?.call_id === id);
    }
    caller.sendStop();
    await rt.waitForClose();
    await t.logs.waitFor('call ended', { callSid: caller.callSid });
    await t.app.get(CallLogWriter).drained();
    await t.app.get(SmsConfirmations).idle();
    const res = await fetch(`${t.httpUrl}/api/calls/${caller.callSid}`, { headers: auth });
    expect(res.status).toBe(200);
    return (await res.json()) as Record<string, any>;
  }

  /** Twilio's inbound message webhook, signed over the public URL. */
  async function text(from: string, body: string): Promise<{ status: number; text: string }> {
    const params = { AccountSid: ACCOUNT_SID, MessageSid: sid('SM'), From: from, To: SMS_FROM, Body: body, NumMedia: '0' };
    const signature = twilio.getExpectedTwilioSignature(AUTH_TOKEN, `${PUBLIC_BASE_URL}/twilio/sms`, params);
    const res = await fetch(`${t.httpUrl}/twilio/sms`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
      body: new URLSearchParams(params),
    });
    return { status: res.status, text: await res.text() };
  }

  const textsTo = (number: string) => rest.messages.filter((m) => m.to === number);
  const EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>';

  it('texts the caller once when a call ends with a job request: what was taken, a reference, what next; shown on the record', async () => {
    const before = textsTo(DANA).length;
    const record = await call('+14155550100', JOB);
    const reference = confirmationReference(record.callSid as string);
    expect(textsTo(DANA).length).toBe(before + 1);
    const sms = textsTo(DANA).at(-1)!;
    expect(sms.from).toBe(SMS_FROM);
    expect(sms.body).toBe(
      `Call Operator Pro Plumbing: we have your request (Leaking tap in the kitchen, at 12 Elm Street, Springfield). Ref ${reference}. ` +
        "We'll call you to confirm a time. Reply STOP to opt out, HELP for help.",
    );
    expect(record.details.smsConfirmation).toMatchObject({ reference, status: 'sent', messageSid: sms.sid, reason: null, attempts: 1 });
    // Never the text in the logs.
    expect(t.logs.raw.join('\n')).not.toContain('Reply STOP to opt out');
  });

  it('STOP honoured: the number is opted out and the next confirmation is skipped; START opts it back in', async () => {
    expect(await text(DANA, 'Stop')).toEqual({ status: 200, text: EMPTY });
    const list = (await (await fetch(`${t.httpUrl}/api/sms/opt-outs`, { headers: auth })).json()) as Record<string, any>;
    expect(list.items).toEqual(expect.arrayContaining([expect.objectContaining({ number: DANA, keyword: 'STOP' })]));
    expect((await fetch(`${t.httpUrl}/api/sms/opt-outs`)).status).toBe(401);

    const before = textsTo(DANA).length;
    const skipped = await call('+14155550101', JOB);
    expect(skipped.details.smsConfirmation).toMatchObject({ status: 'skipped', reason: 'opted-out', messageSid: null });
    expect(textsTo(DANA).length).toBe(before);

    expect(await text(DANA, 'START')).toEqual({ status: 200, text: EMPTY });
    const again = await call('+14155550102', JOB);
    expect(again.details.smsConfirmation).toMatchObject({ status: 'sent' });
    expect(textsTo(DANA).length).toBe(before + 1);
  });

  it('answers HELP with the business and its number', async () => {
    const res = await text('+14155550199', 'help');
    expect(res.status).toBe(200);
    expect(res.text).toContain('<Message>Call Operator Pro Plumbing: texts about your plumbing requests. Call us on +15557650000. Reply STOP to opt out, START to opt back in.</Message>');
  });

  it('sends nothing for a call without a job request', async () => {
    const count = rest.messages.length;
    const record = await call('+14155550103', null);
    expect(record.details).not.toHaveProperty('smsConfirmation');
    expect(rest.messages.length).toBe(count);
  });

  it("texts the caller's own number when the callback number is not a mobile, and skips a caller without one", async () => {
    const { callback_number: _, ...noCallback } = JOB;
    const own = await call('+14155550104', noCallback);
    expect(own.details.smsConfirmation).toMatchObject({ status: 'sent' });
    expect(textsTo('+14155550104')).toHaveLength(1);

    const landline = await call('+442079460000', { ...noCallback, callback_number: '+44 20 7946 0001' });
    expect(landline.details.smsConfirmation).toMatchObject({ status: 'skipped', reason: 'no-mobile-number' });
  });

  it("records Twilio's opted-out error (21610) as an opt-out", async () => {
    rest.failNextMessage(400, 21610, 'Attempt to send to unsubscribed recipient');
    const record = await call('+14155550105', { ...JOB, callback_number: '+1 415 555 0105' });
    expect(record.details.smsConfirmation).toMatchObject({ status: 'skipped', reason: 'opted-out' });
    const list = (await (await fetch(`${t.httpUrl}/api/sms/opt-outs`, { headers: auth })).json()) as Record<string, any>;
    expect(list.items).toEqual(expect.arrayContaining([expect.objectContaining({ number: '+14155550105', keyword: 'twilio-21610' })]));
  });
});

describe('SMS confirmations switched off', () => {
  let rest: FakeTwilioRest;
  let mock: MockRealtimeServer;
  let t: TestApp;

  beforeAll(async () => {
    rest = await FakeTwilioRest.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
    mock = await MockRealtimeServer.start();
    t = await startApp({
      OPENAI_API_KEY: TEST_API_KEY,
      OPENAI_REALTIME_URL: mock.url,
      TWILIO_API_BASE_URL: rest.baseUrl,
      API_TOKEN,
      TWILIO_ACCOUNT_SID: ACCOUNT_SID,
      TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      PUBLIC_BASE_URL,
      SMS_FROM_NUMBER: SMS_FROM,
      SMS_CONFIRMATIONS: 'false',
    });
  });

  afterAll(async () => {
    await t?.close();
    await mock?.close();
    await rest?.close();
  });

  it('sends no text when SMS_CONFIRMATIONS=false', async () => {
    const signature = twilio.getExpectedTwilioSignature(AUTH_TOKEN, `${PUBLIC_BASE_URL.replace(/^https/, 'wss')}/twilio/stream`, {});
    const caller = await TwilioCaller.connect(t.streamUrl, { customParameters: { from: '+14155550110', to: SMS_FROM, direction: 'inbound' }, headers: { 'x-twilio-signature': signature } });
    caller.sendConnected();
    caller.sendStart();
    const rt = await mock.nextConnection();
    await rt.waitFor('response.create');
    rt.responseCreated('resp_1');
    rt.send({ type: 'response.function_call_arguments.done', response_id: 'resp_1', item_id: 'item_1', output_index: 0, call_id: 'c1', name: 'save_job_request', arguments: JSON.stringify(JOB) });
    rt.responseDone('resp_1');
    await rt.waitFor('conversation.item.create', (e) => e.item?.call_id === 'c1');
    caller.sendStop();
    await rt.waitForClose();
    await t.logs.waitFor('call ended', { callSid: caller.callSid });
    await t.app.get(CallLogWriter).drained();
    await t.app.get(SmsConfirmations).idle();
    const record = (await (await fetch(`${t.httpUrl}/api/calls/${caller.callSid}`, { headers: auth })).json()) as Record<string, any>;
    expect(record.details.jobRequest).toBeDefined();
    expect(record.details).not.toHaveProperty('smsConfirmation');
    expect(rest.messages).toEqual([]);
  });
});

describe('SMS confirmations across a restart', () => {
  let rest: FakeTwilioRest;
  let mock: MockRealtimeServer;
  let dataDir: string;
  let t: TestApp | undefined;

  const boot = () =>
    startApp({
      OPENAI_API_KEY: TEST_API_KEY,
      OPENAI_REALTIME_URL: mock.url,
      TWILIO_API_BASE_URL: rest.baseUrl,
      API_TOKEN,
      TWILIO_ACCOUNT_SID: ACCOUNT_SID,
      TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      PUBLIC_BASE_URL,
      SMS_FROM_NUMBER: SMS_FROM,
      DATA_DIR: dataDir,
    });

  beforeAll(async () => {
    rest = await FakeTwilioRest.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
    mock = await MockRealtimeServer.start();
    dataDir = await freshDataDir();
  });

  afterAll(async () => {
    await t?.close();
    await mock?.close();
    await rest?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a confirmation Twilio could not take before a restart is sent once by the next boot', async () => {
    t = await boot();
    rest.failNextMessage(503, 20503, 'Service unavailable');
    const signature = twilio.getExpectedTwilioSignature(AUTH_TOKEN, `${PUBLIC_BASE_URL.replace(/^https/, 'wss')}/twilio/stream`, {});
    const caller = await TwilioCaller.connect(t.streamUrl, { customParameters: { from: '+14155550120', to: SMS_FROM, direction: 'inbound' }, headers: { 'x-twilio-signature': signature } });
    caller.sendConnected();
    caller.sendStart();
    const rt = await mock.nextConnection();
    await rt.waitFor('response.create');
    rt.responseCreated('resp_r');
    rt.send({ type: 'response.function_call_arguments.done', response_id: 'resp_r', item_id: 'item_r', output_index: 0, call_id: 'cr', name: 'save_job_request', arguments: JSON.stringify(JOB) });
    rt.responseDone('resp_r');
    await rt.waitFor('conversation.item.create', (e) => e.item?.call_id === 'cr');
    caller.sendStop();
    await rt.waitForClose();
    await t.logs.waitFor('call ended', { callSid: caller.callSid });
    await t.app.get(CallLogWriter).drained();
    await t.app.get(SmsConfirmations).idle();
    await t.logs.waitFor('SMS confirmation not sent: Twilio unreachable; tried again later', { callSid: caller.callSid });
    expect(rest.messages).toEqual([]);
    await t.close();

    t = await boot();
    const sms = await rest.waitForMessage((m) => m.to === DANA);
    await t.app.get(SmsConfirmations).idle();
    expect(sms.body).toContain(`Ref ${confirmationReference(caller.callSid)}.`);
    const record = (await (await fetch(`${t.httpUrl}/api/calls/${caller.callSid}`, { headers: auth })).json()) as Record<string, any>;
    expect(record.details.smsConfirmation).toMatchObject({ status: 'sent', messageSid: sms.sid, attempts: 2 });
    expect(rest.messages).toHaveLength(1);
  });
});
