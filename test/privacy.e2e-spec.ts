import { CallLogWriter } from '../src/call-log/call-log-writer';
import { HUBSPOT_CRM_OPTIONS } from '../src/crm/crm.module';
import { CrmService } from '../src/crm/crm.port';
import type { HubspotCrmService } from '../src/crm/hubspot-crm.service';
import { FakeHubspot } from './support/fake-hubspot';
import { FakeTwilioRest } from './support/fake-twilio-rest';
import { MockRealtimeServer } from './support/mock-realtime-server';
import { startApp, TEST_API_KEY, type TestApp } from './support/test-app';
import { TwilioCaller } from './support/twilio-caller';

const HUBSPOT_TOKEN = 'pat-na1-privacy-token-0123456789';
const ACCOUNT_SID = 'AC' + 'c'.repeat(32);
const AUTH_TOKEN = 'twilio-auth-token-privacy-0123456789';
const API_TOKEN = 'api-token-privacy-0123456789';
const CALL_SID = 'CA' + '1'.repeat(32);
const CALLER = '+14155550100';
const BUSINESS = '+15557650000';

/** Every way the two numbers are commonly written. */
const NUMBER_FORMS = [
  CALLER, '14155550100', '4155550100', '(415) 555-0100', '415-555-0100', '415 555 0100', '415.555.0100', '555-0100',
  BUSINESS, '15557650000', '5557650000', '(555) 765-0000', '555-765-0000', '555 765 0000', '765-0000',
];
const SECRETS = [TEST_API_KEY, HUBSPOT_TOKEN, AUTH_TOKEN, API_TOKEN];
/** Base64 audio in a log line would show up as a long unbroken run of its alphabet. */
const BASE64_RUN = /[A-Za-z0-9+/]{64,}/;

interface Fakes {
  mock: MockRealtimeServer;
  hubspot: FakeHubspot;
  rest: FakeTwilioRest;
}

async function startFakes(): Promise<Fakes> {
  return {
    mock: await MockRealtimeServer.start(),
    hubspot: await FakeHubspot.start(HUBSPOT_TOKEN),
    rest: await FakeTwilioRest.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN }),
  };
}

function startOperator(f: Fakes, logPii: boolean): Promise<TestApp> {
  return startApp(
    {
      OPENAI_API_KEY: TEST_API_KEY,
      OPENAI_REALTIME_URL: f.mock.url,
      HUBSPOT_ENABLED: 'true',
      HUBSPOT_ACCESS_TOKEN: HUBSPOT_TOKEN,
      HUBSPOT_BASE_URL: f.hubspot.baseUrl,
      TWILIO_ACCOUNT_SID: ACCOUNT_SID,
      TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      TWILIO_API_BASE_URL: f.rest.baseUrl,
      API_TOKEN,
      PUBLIC_BASE_URL: 'https://operator.example.com',
      LOG_PII: String(logPii),
    },
    [{ provide: HUBSPOT_CRM_OPTIONS, useValue: { queue: { maxAttempts: 1, baseDelayMs: 5, maxDelayMs: 10 } } }],
  );
}

/**
 * A whole call that gives every number and secret a chance to reach a log line: the webhook,
 * the stream, audio both ways, save_job_request with the callback number said nationally, the
 * CRM, a Twilio REST failure whose message echoes the number, and the call log API.
 */
async function fullCall(t: TestApp, f: Fakes): Promise<string> {
  const webhook = await fetch(`${t.httpUrl}/twilio/voice`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ CallSid: CALL_SID, AccountSid: ACCOUNT_SID, From: CALLER, To: BUSINESS, Direction: 'inbound', CallerZip: '94103' }),
  });
  const twiml = await webhook.text();
  const customParameters = Object.fromEntries([...twiml.matchAll(/<Parameter name="(\w+)" value="([^"]*)"\/>/g)].map((m) => [m[1], m[2]]));
  expect(customParameters).toMatchObject({ from: CALLER, to: BUSINESS });

  const caller = await TwilioCaller.connect(t.streamUrl, { callSid: CALL_SID, customParameters });
  caller.sendConnected();
  caller.sendStart();
  const rt = await f.mock.nextConnection();
  await rt.waitFor('response.create');
  rt.speak('r0', 'greeting', Buffer.alloc(1600, 0x2c), { transcript: 'Hello, how can I help?' });
  await caller.waitForPlayed(200);
  await caller.startTalking(Array.from({ length: 5 }, (_, k) => Buffer.alloc(160, 0x40 + k)));
  await rt.waitFor('input_audio_buffer.append', () => rt.appendedAudio().length >= 5 * 160);

  rt.responseCreated('r1');
  rt.send({
    type: 'response.function_call_arguments.done', response_id: 'r1', item_id: 'fc1', output_index: 0, call_id: 'job', name: 'save_job_request',
    arguments: JSON.stringify({ caller_name: 'Ana Lopez', callback_number: '(415) 555-0100', problem: 'Leak under the sink', urgency: 'urgent' }),
  });
  rt.responseDone('r1');
  await rt.waitFor('conversation.item.create', (e) => e.item?.call_id === 'job');
  await f.hubspot.waitForRequests(1, (r) => r.method === 'PATCH');

  f.rest.failNext(400, 21211, `The 'To' number ${CALLER} is not a valid phone number.`);
  rt.responseCreated('r2');
  rt.send({ type: 'response.function_call_arguments.done', response_id: 'r2', item_id: 'fc2', output_index: 0, call_id: 'end', name: 'end_call', arguments: '{}' });
  rt.responseDone('r2');
  await t.logs.waitFor('twilio call update failed', { callSid: CALL_SID });
  caller.sendStop();
  await rt.waitForClose();
  await t.logs.waitFor('call ended', { callSid: CALL_SID });
  await f.hubspot.waitForRequests(1, (r) => r.method === 'POST' && r.path === '/crm/v3/objects/calls');
  await t.app.get<CrmService, HubspotCrmService>(CrmService).idle();
  await t.app.get(CallLogWriter).drained();

  const auth = { authorization: `Bearer ${API_TOKEN}` };
  expect((await fetch(`${t.httpUrl}/api/calls?number=${encodeURIComponent(CALLER)}`, { headers: auth })).status).toBe(200);
  expect((await fetch(`${t.httpUrl}/api/calls/${CALL_SID}`, { headers: auth })).status).toBe(200);
  expect((await fetch(`${t.httpUrl}/api/calls?number=oops`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
  return t.logs.raw.join('\n');
}

describe.each([false, true])('the logs of a whole call with LOG_PII=%s', (logPii) => {
  let f: Fakes;
  let t: TestApp;
  let logs: string;

  beforeAll(async () => {
    f = await startFakes();
    t = await startOperator(f, logPii);
    logs = await fullCall(t, f);
    await t.close();
  });

  afterAll(async () => {
    await f.rest.close();
    await f.hubspot.close();
    await f.mock.close();
  });

  it('hold no key or token', () => {
    for (const secret of SECRETS) expect(logs).not.toContain(secret);
  });

  it('hold no audio', () => {
    expect(logs).not.toMatch(BASE64_RUN);
    expect(logs).not.toContain(Buffer.alloc(160, 0x2c).toString('base64').slice(0, 40));
  });

  if (logPii) {
    it('show the numbers, since they were asked for', () => {
      expect(logs).toContain(CALLER);
      expect(logs).toContain(BUSINESS);
    });
  } else {
    it('hold the numbers only masked, in no format', () => {
      for (const form of NUMBER_FORMS) expect(logs).not.toContain(form);
      expect(logs).toContain('+1********00');
    });
  }
});
