/**
 * A whole emergency call, end to end, as the business lives it at 2 a.m.: the caller reports a
 * burst pipe; the agent saves the job as an emergency and the on-call person is paged at once; the
 * agent tries a warm transfer, which nobody answers, so the caller is back with the agent and hangs
 * up; after the call the text model writes its summary, the caller gets a text telling the problem
 * in the summary's words, the owner's webhook gets the call.ended event with the summary, and, the
 * first page not being taken, the next person is paged with the summary and takes it with YES.
 * Every step is on the call's record.
 */
import { randomBytes } from 'node:crypto';
import { CallLogWriter } from '../src/call-log/call-log-writer';
import { summaryWhat } from '../src/call-log/call-summary';
import { OnCallPager, PAGE_QUEUE } from '../src/on-call/on-call-pager';
import { SmsConfirmations } from '../src/sms/sms-confirmations';
import { callEndedEventId } from '../src/webhooks/call-ended-event';
import { FakeOpenAiApi } from './support/fake-openai-api';
import { FakeTwilioRest } from './support/fake-twilio-rest';
import { MockRealtimeServer, type MockRealtimeConnection } from './support/mock-realtime-server';
import { callToolAndReply, SignedTwilio } from './support/signed-twilio';
import { startApp, TEST_API_KEY, type TestApp } from './support/test-app';
import { WebhookReceiver } from './support/webhook-receiver';

jest.setTimeout(60_000);

const ACCOUNT_SID = 'AC' + 'e'.repeat(32);
const AUTH_TOKEN = 'twilio-auth-token-emergency-0123';
const API_TOKEN = 'test-api-token-emergency-0123456';
const WEBHOOK_SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const PUBLIC_BASE_URL = 'https://calls.example.com';
const BUSINESS = '+15557650000';
const CALLER_ID = '+14155550000';
const ACK_MINUTES = 5;
const auth = { authorization: `Bearer ${API_TOKEN}` };

const alice = { id: 'alice', name: 'Alice Jones', mobile: '+15551230001' };
const bob = { id: 'bob', name: 'Bob Smith', mobile: '+15551230002' };
const EVERY_DAY = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const ROTA = { timezone: 'America/New_York', people: [alice, bob], windows: [{ days: EVERY_DAY, start: '00:00', end: '00:00', people: ['alice', 'bob'] }] };

const CALLER_WORDS = "Help, a pipe burst in my basement at 12 Elm Street and it's flooding. I'm Dana Smith.";
const EMERGENCY = { caller_name: 'Dana Smith', callback_number: '(415) 555-2671', service_address: '12 Elm Street, Springfield', problem: 'Burst pipe in the basement', urgency: 'emergency' };
const CALLBACK = '+14155552671';
const SUMMARY =
  'Dana Smith called from 12 Elm Street, Springfield. A burst pipe is flooding her basement, an emergency. The on-call plumber will call her back within 20 minutes.';

describe('a whole emergency call', () => {
  let rest: FakeTwilioRest;
  let mock: MockRealtimeServer;
  let openai: FakeOpenAiApi;
  let receiver: WebhookReceiver;
  let t: TestApp;

  beforeAll(async () => {
    rest = await FakeTwilioRest.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
    mock = await MockRealtimeServer.start();
    openai = new FakeOpenAiApi();
    openai.text = SUMMARY;
    mock.serveHttp(openai.handle);
    receiver = await WebhookReceiver.start(WEBHOOK_SECRET);
    t = await startApp({
      API_TOKEN,
      OPENAI_API_KEY: TEST_API_KEY,
      OPENAI_REALTIME_URL: mock.url,
      TWILIO_ACCOUNT_SID: ACCOUNT_SID,
      TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      TWILIO_API_BASE_URL: rest.baseUrl,
      TWILIO_VALIDATE_SIGNATURE: 'true',
      PUBLIC_BASE_URL,
      SMS_FROM_NUMBER: BUSINESS,
      ON_CALL_ROTA: JSON.stringify(ROTA),
      ON_CALL_ACK_MINUTES: String(ACK_MINUTES),
      ON_CALL_CALLBACK_MINUTES: '20',
      WARM_TRANSFER_TIMEOUT_SECONDS: '30',
      SUMMARY_ENABLED: 'true',
      SUMMARY_TIMEOUT_MS: '5000',
      WEBHOOK_URLS: receiver.url(),
      WEBHOOK_SECRET,
      JOBS_POLL_SECONDS: '1',
    });
  });

  afterAll(async () => {
    await t?.close();
    await receiver?.close();
    await mock?.close();
    await rest?.close();
  });

  const twilioSide = () => new SignedTwilio(t, AUTH_TOKEN, PUBLIC_BASE_URL);
  /** The model calls a tool, then speaks about its result; the tool's output. */
  const callTool = (rt: MockRealtimeConnection, name: string, args: Record<string, string>) => callToolAndReply(t, rt, name, args);

  const record = async (callSid: string) => (await (await fetch(`${t.httpUrl}/api/calls/${callSid}`, { headers: auth })).json()) as Record<string, any>;

  it('pages, tries the transfer, texts the caller, tells the owner, escalates with the summary, and keeps it all on the record', async () => {
    // 1. The call comes in, signed, and the caller says what is wrong.
    const { caller, rt } = await twilioSide().startCall(mock, { customParameters: { from: CALLER_ID, to: BUSINESS, direction: 'inbound' } });
    const { callSid } = caller;
    caller.sendMedia(Buffer.alloc(160, 0x7f));
    await rt.waitFor('input_audio_buffer.append');
    rt.speechStarted(20, 'item_u1');
    rt.send({ type: 'conversation.item.input_audio_transcription.completed', item_id: 'item_u1', content_index: 0, transcript: CALLER_WORDS });

    // 2. The agent saves the job as an emergency: the on-call person is paged within 30 s, and the agent says so.
    const saved = await callTool(rt, 'save_job_request', EMERGENCY);
    expect(saved.onCall).toMatchObject({ alerted: true });
    const firstPage = await rest.waitForMessage((m) => m.to === alice.mobile && m.body.includes(callSid));
    expect(firstPage.body).toContain('EMERGENCY Call Operator Pro Plumbing: Dana Smith, call back +14155552671. 12 Elm Street, Springfield. Burst pipe in the basement.');
    const paged = (await record(callSid)).details.paging as Record<string, any>;
    expect(Date.parse(paged.pages[0].sentAt) - Date.parse(paged.startedAt)).toBeLessThanOrEqual(30_000);

    // 3. The agent offers to connect the caller now; the on-call person is dialled and does not pick up.
    const since = rest.requests.length;
    const connecting = await callTool(rt, 'connect_to_on_call', { summary: 'Burst pipe flooding the basement at 12 Elm Street.' });
    expect(connecting).toMatchObject({ connecting: true, onCall: 'Alice Jones' });
    const leg = await rest.waitForRequest((r) => r.definitionProblems !== null && r.form.To === alice.mobile && rest.requests.indexOf(r) >= since, 5000);
    expect(leg.definitionProblems).toEqual([]);
    const legStatus = await twilioSide().post(leg.form.StatusCallback, { AccountSid: ACCOUNT_SID, CallSid: leg.callSid!, CallStatus: 'no-answer' });
    expect(legStatus.status).toBe(204);
    // Back with the agent, who takes a callback time instead; the caller never left it.
    await rt.waitFor('response.create', (e) => typeof e.response?.instructions === 'string' && e.response.instructions.includes('nobody could answer right now'));
    expect(rest.requests.some((r) => r.callSid === callSid)).toBe(false);

    // 4. The caller hangs up.
    caller.sendStop();
    await rt.waitForClose();
    await t.logs.waitFor('call ended', { callSid });

    // 5. After the call: the summary is made and attached, and the caller's text and the webhook, held for it, carry it.
    await t.logs.waitFor('call summary made', { callSid });
    const text = await rest.waitForMessage((m) => m.to === CALLBACK);
    expect(text.body).toBe(
      `Call Operator Pro Plumbing: we have your request for 12 Elm Street, Springfield. ${summaryWhat(SUMMARY)} Ref R-${callSid.slice(-6).toUpperCase()}. ` +
        'Our on-call plumber will call you back within 20 minutes. Reply STOP to opt out, HELP for help.',
    );
    const eventId = callEndedEventId(callSid);
    await receiver.waitForProcessed([eventId]);
    const [hook] = receiver.requests.filter((r) => r.headers['webhook-id'] === eventId);
    expect(hook.verified).toBe(true);
    expect(hook.event).toMatchObject({
      type: 'call.ended',
      data: {
        callSid,
        outcome: 'job_request',
        summary: SUMMARY,
        jobRequest: { callerName: 'Dana Smith', callbackNumber: CALLBACK, urgency: 'emergency' },
      },
    });
    expect(hook.rawBody).not.toContain(AUTH_TOKEN);
    expect(hook.rawBody).not.toContain(TEST_API_KEY);

    // 6. Nobody answered the first page: once the ack time is up, the next person is paged, with the summary.
    await t.app.get(CallLogWriter).drained();
    t.clock.skip(ACK_MINUTES * 60_000);
    await t.app.get(OnCallPager).due({ id: 'job-escalate', name: PAGE_QUEUE, data: { callSid, step: 1 }, retryCount: 0, signal: new AbortController().signal });
    const secondPage = await rest.waitForMessage((m) => m.to === bob.mobile && m.body.includes(callSid));
    expect(secondPage.body).toContain(`12 Elm Street, Springfield. ${summaryWhat(SUMMARY)!.replace(/\.$/, '')}. Reply YES`);
    const yes = { AccountSid: ACCOUNT_SID, MessageSid: 'SM' + randomBytes(16).toString('hex'), From: bob.mobile, To: BUSINESS, Body: 'YES', NumMedia: '0' };
    expect((await twilioSide().post(`${PUBLIC_BASE_URL}/twilio/sms`, yes)).text).toContain('Thanks Bob Smith, it is yours');

    // 7. The record tells the whole story.
    await t.app.get(SmsConfirmations).idle();
    const done = await record(callSid);
    expect(done).toMatchObject({ status: 'completed' });
    expect(done.details).toMatchObject({
      jobRequest: { urgency: 'emergency', serviceAddress: '12 Elm Street, Springfield' },
      onCall: { alerted: true, person: { id: 'alice', name: 'Alice Jones' }, callbackWithinMinutes: 20 },
      warmTransfer: { to: 'Alice Jones', status: 'no-answer' },
      summary: { status: 'ready', text: SUMMARY },
      smsConfirmation: { status: 'sent', messageSid: text.sid },
      paging: {
        status: 'acknowledged',
        ackedBy: 'bob',
        ackedVia: 'sms',
        pages: [
          { step: 0, personId: 'alice', status: 'sent', answer: null },
          { step: 1, personId: 'bob', status: 'sent', answer: 'accepted' },
        ],
      },
    });
    // One text to the caller, two pages, no more.
    expect(rest.messages.filter((m) => m.to === CALLBACK)).toHaveLength(1);
    expect(rest.messages.filter((m) => m.body.includes(callSid))).toHaveLength(2);
  });
});
