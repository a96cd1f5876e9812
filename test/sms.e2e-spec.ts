import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { CallLogWriter } from '../src/call-log/call-log-writer';
import { confirmationReference } from '../src/sms/confirmation-message';
import { SmsConfirmations } from '../src/sms/sms-confirmations';
import { FakeTwilioRest } from './support/fake-twilio-rest';
import { MockRealtimeServer } from './support/mock-realtime-server';
import { callTool, SignedTwilio } from './support/signed-twilio';
import { freshDataDir, startApp, TEST_API_KEY, type TestApp } from './support/test-app';

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

/** A signed call from `from` in which the model saves `job` (if any), then the caller hangs up: its record, once written and its confirmation settled. */
async function call(t: TestApp, mock: MockRealtimeServer, from: string, job: Record<string, string> | null): Promise<Record<string, any>> {
  const { caller, rt } = await new SignedTwilio(t, AUTH_TOKEN, PUBLIC_BASE_URL).startCall(mock, { customParameters: { from, to: SMS_FROM, direction: 'inbound' } });
  if (job) await callTool(rt, 'save_job_request', job);
  caller.sendStop();
  await rt.waitForClose();
  await t.logs.waitFor('call ended', { callSid: caller.callSid });
  await t.app.get(CallLogWriter).drained();
  await t.app.get(SmsConfirmations).idle();
  const res = await fetch(`${t.httpUrl}/api/calls/${caller.callSid}`, { headers: auth });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, any>;
}

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

  const twilioSide = () => new SignedTwilio(t, AUTH_TOKEN, PUBLIC_BASE_URL);

  /** Twilio's inbound message webhook, signed over the public URL. */
  const text = (from: string, body: string) => twilioSide().post('/twilio/sms', { AccountSid: ACCOUNT_SID, MessageSid: sid('SM'), From: from, To: SMS_FROM, Body: body, NumMedia: '0' });

  const textsTo = (number: string) => rest.messages.filter((m) => m.to === number);
  const EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>';

  it('texts the caller once when a call ends with a job request: what was taken, a reference, what next; shown on the record', async () => {
    const before = textsTo(DANA).length;
    const record = await call(t, mock, '+14155550100', JOB);
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
    const skipped = await call(t, mock, '+14155550101', JOB);
    expect(skipped.details.smsConfirmation).toMatchObject({ status: 'skipped', reason: 'opted-out', messageSid: null });
    expect(textsTo(DANA).length).toBe(before);

    expect(await text(DANA, 'START')).toEqual({ status: 200, text: EMPTY });
    const again = await call(t, mock, '+14155550102', JOB);
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
    const record = await call(t, mock, '+14155550103', null);
    expect(record.details).not.toHaveProperty('smsConfirmation');
    expect(rest.messages.length).toBe(count);
  });

  it("texts the caller's own number when the callback number is not a mobile, and skips a caller without one", async () => {
    const { callback_number: _, ...noCallback } = JOB;
    const own = await call(t, mock, '+14155550104', noCallback);
    expect(own.details.smsConfirmation).toMatchObject({ status: 'sent' });
    expect(textsTo('+14155550104')).toHaveLength(1);

    const landline = await call(t, mock, '+442079460000', { ...noCallback, callback_number: '+44 20 7946 0001' });
    expect(landline.details.smsConfirmation).toMatchObject({ status: 'skipped', reason: 'no-mobile-number' });
  });

  it("records Twilio's opted-out error (21610) as an opt-out", async () => {
    rest.failNextMessage(400, 21610, 'Attempt to send to unsubscribed recipient');
    const record = await call(t, mock, '+14155550105', { ...JOB, callback_number: '+1 415 555 0105' });
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
    const record = await call(t, mock, '+14155550110', JOB);
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
    const { callSid } = await call(t, mock, '+14155550120', JOB);
    await t.logs.waitFor('SMS confirmation not sent: Twilio unreachable; tried again later', { callSid });
    expect(rest.messages).toEqual([]);
    await t.close();

    t = await boot();
    const sms = await rest.waitForMessage((m) => m.to === DANA);
    await t.app.get(SmsConfirmations).idle();
    expect(sms.body).toContain(`Ref ${confirmationReference(callSid)}.`);
    const record = (await (await fetch(`${t.httpUrl}/api/calls/${callSid}`, { headers: auth })).json()) as Record<string, any>;
    expect(record.details.smsConfirmation).toMatchObject({ status: 'sent', messageSid: sms.sid, attempts: 2 });
    expect(rest.messages).toHaveLength(1);
  });
});
