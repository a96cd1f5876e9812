import { CallLogWriter } from '../src/call-log/call-log-writer';
import { FakeTwilioRest, type RecordedTwilioRequest } from './support/fake-twilio-rest';
import { MockRealtimeServer, type MockRealtimeConnection } from './support/mock-realtime-server';
import { callToolAndReply, SignedTwilio } from './support/signed-twilio';
import { startApp, TEST_API_KEY, type TestApp } from './support/test-app';

const ACCOUNT_SID = 'AC' + 'f'.repeat(32);
const AUTH_TOKEN = 'twilio-auth-token-warm-0123456';
const API_TOKEN = 'test-api-token-warm-0123456789ab';
const PUBLIC_BASE_URL = 'https://calls.example.com';
const BUSINESS = '+15557650000';
const TIMEOUT_SECONDS = 30;
const auth = { authorization: `Bearer ${API_TOKEN}` };

const alice = { id: 'alice', name: 'Alice Jones', mobile: '+15551230001' };
const bob = { id: 'bob', name: 'Bob Smith', mobile: '+15551230002' };
const EVERY_DAY = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const ROTA = { timezone: 'America/New_York', people: [alice, bob], windows: [{ days: EVERY_DAY, start: '00:00', end: '00:00', people: ['alice', 'bob'] }] };
const EMERGENCY = { caller_name: 'Dana Smith', callback_number: '(415) 555-2671', service_address: '12 Elm Street, Springfield', problem: 'Burst pipe in the basement', urgency: 'emergency' };
const SUMMARY = 'Emergency call from Dana Smith at 12 Elm Street: burst pipe in the basement.';
const CONFERENCE = (id: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><Response><Dial><Conference endConferenceOnExit="true" beep="false">transfer-${id}</Conference></Dial></Response>`;

describe('warm transfer to the on-call person', () => {
  let rest: FakeTwilioRest;
  let mock: MockRealtimeServer;
  let t: TestApp;

  beforeAll(async () => {
    rest = await FakeTwilioRest.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
    mock = await MockRealtimeServer.start();
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
      WARM_TRANSFER_TIMEOUT_SECONDS: String(TIMEOUT_SECONDS),
    });
  });

  afterAll(async () => {
    await t?.close();
    await mock?.close();
    await rest?.close();
  });

  const twilioSide = () => new SignedTwilio(t, AUTH_TOKEN, PUBLIC_BASE_URL);
  const startCall = () => twilioSide().startCall(mock, { customParameters: { from: '+14155550000', to: BUSINESS, direction: 'inbound' } });

  /** The model calls a tool, then speaks about its result; the tool's output. */
  const callTool = (rt: MockRealtimeConnection, name: string, args: Record<string, string>) => callToolAndReply(t, rt, name, args);

  /** A webhook of the on-call leg, signed by Twilio over the public URL with its query. */
  const webhook = (url: string, params: Record<string, string>) => twilioSide().post(url, params);

  const record = async (callSid: string) => (await (await fetch(`${t.httpUrl}/api/calls/${callSid}`, { headers: auth })).json()) as Record<string, any>;

  /** The call placed to `person` since request number `since`. */
  async function dialled(person: { mobile: string }, since: number): Promise<{ create: RecordedTwilioRequest; id: string }> {
    const create = await rest.waitForRequest((r) => r.definitionProblems !== null && r.form.To === person.mobile && rest.requests.indexOf(r) >= since, 5000);
    const id = new URL(create.form.Url).searchParams.get('transfer')!;
    return { create, id };
  }

  it('offers connect_to_on_call', async () => {
    const { caller, rt } = await startCall();
    const names = (rt.received.find((e) => e.type === 'session.update').session.tools as Array<{ name: string }>).map((x) => x.name);
    expect(names).toContain('connect_to_on_call');
    caller.sendStop();
    await rt.waitForClose();
  });

  it('dials the on-call person, whispers the summary, and bridges the caller when they press 1', async () => {
    const { caller, rt } = await startCall();
    const since = rest.requests.length;
    await callTool(rt, 'save_job_request', EMERGENCY);
    const output = await callTool(rt, 'connect_to_on_call', { summary: SUMMARY });
    expect(output).toMatchObject({ connecting: true, onCall: 'Alice Jones', instruction: expect.stringContaining('connecting them to Alice Jones') });

    const { create, id } = await dialled(alice, since);
    expect(create.definitionProblems).toEqual([]);
    expect(create.form).toMatchObject({
      To: alice.mobile,
      From: BUSINESS,
      Url: `${PUBLIC_BASE_URL}/twilio/warm-transfer/whisper?call=${caller.callSid}&transfer=${id}`,
      StatusCallback: `${PUBLIC_BASE_URL}/twilio/warm-transfer/status?call=${caller.callSid}&transfer=${id}`,
      Timeout: String(TIMEOUT_SECONDS),
    });
    const legSid = create.callSid!;

    const whisper = await webhook(create.form.Url, { AccountSid: ACCOUNT_SID, CallSid: legSid, CallStatus: 'in-progress' });
    expect(whisper.status).toBe(200);
    expect(whisper.text).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Response>' +
        `<Gather numDigits="1" action="${PUBLIC_BASE_URL}/twilio/warm-transfer/answer?call=${caller.callSid}&amp;transfer=${id}" method="POST" timeout="8">` +
        `<Say>Call Operator Pro Plumbing: a caller is waiting to be connected to you. ${SUMMARY} Press 1 to take the call, 2 to decline.</Say></Gather>` +
        '<Say>No answer received. Goodbye.</Say><Hangup/></Response>',
    );

    // Unsigned, the key is refused.
    const forged = await fetch(`${t.httpUrl}/twilio/warm-transfer/answer?call=${caller.callSid}&transfer=${id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ Digits: '1' }),
    });
    expect(forged.status).toBe(403);

    const answer = await webhook(`${PUBLIC_BASE_URL}/twilio/warm-transfer/answer?call=${caller.callSid}&transfer=${id}`, { AccountSid: ACCOUNT_SID, CallSid: legSid, Digits: '1' });
    expect(answer.text).toBe(CONFERENCE(id));
    const update = await rest.waitForRequest((r) => r.callSid === caller.callSid && r.form.Twiml !== undefined, 5000);
    expect(update.form.Twiml).toBe(CONFERENCE(id));

    // Twilio then stops the caller's stream.
    caller.sendStop();
    await rt.waitForClose();
    await t.logs.waitFor('call ended', { callSid: caller.callSid });
    await t.app.get(CallLogWriter).drained();
    await t.logs.waitFor('warm transfer', { callSid: caller.callSid, to: 'bridged' });
    const done = await record(caller.callSid);
    expect(done).toMatchObject({ status: 'completed', endReason: 'transferred' });
    expect(done.details.warmTransfer).toEqual({
      to: 'Alice Jones',
      personId: 'alice',
      status: 'bridged',
      startedAt: expect.any(String),
      answeredAt: expect.any(String),
      bridgedAt: expect.any(String),
      endedAt: expect.any(String),
    });
    // The answered transfer acknowledged the emergency's page.
    await t.logs.waitFor('warm transfer: the emergency page is acknowledged', { callSid: caller.callSid });
    expect((await record(caller.callSid)).details.paging).toMatchObject({ status: 'acknowledged', ackedBy: 'alice', ackedVia: 'transfer' });
  });

  it('hands the caller back to the agent for a callback time when nobody answers in time, and cancels the ringing leg', async () => {
    const { caller, rt } = await startCall();
    const since = rest.requests.length;
    const output = await callTool(rt, 'connect_to_on_call', { summary: SUMMARY });
    expect(output).toMatchObject({ connecting: true, onCall: 'Alice Jones' });
    const { create } = await dialled(alice, since);
    const legSid = create.callSid!;

    // On hold, the caller hears the hold chime: 2 s chunks, each followed by its mark.
    const held = await caller.waitFor('mark', (f) => typeof f.mark?.name === 'string' && f.mark.name.startsWith('hold-'));
    const chime = caller.received[caller.received.indexOf(held) - 1];
    expect(chime.event).toBe('media');
    expect(Buffer.from(chime.media.payload as string, 'base64')).toHaveLength(16_000);
    const framesBefore = caller.received.length;
    const heardSince = rt.received.length;
    // The caller waits in silence: past SILENCE_PROMPT_SECONDS (15 s), nobody asks whether they are still there.
    t.clock.skip(20_000);
    caller.sendMedia(Buffer.alloc(160, 0xff));
    t.clock.skip(TIMEOUT_SECONDS * 1000 - 20_000);
    caller.sendMedia(Buffer.alloc(160, 0xff));
    const cancel = await rest.waitForRequest((r) => r.callSid === legSid && r.form.Status !== undefined, 5000);
    expect(cancel.form.Status).toBe('canceled');
    const ask = await rt.waitFor('response.create', (e) => typeof e.response?.instructions === 'string' && e.response.instructions.includes('call them back'));
    expect(ask.response.instructions).toContain('nobody could answer right now');
    expect(rt.received.slice(heardSince).filter((e) => e.type === 'response.create')).toEqual([ask]);
    // The hold audio is cleared before the agent speaks again.
    expect(caller.received.slice(framesBefore).some((f) => f.event === 'clear')).toBe(true);
    // The caller never left the agent.
    expect(rest.requests.some((r) => r.callSid === caller.callSid)).toBe(false);

    caller.sendStop();
    await rt.waitForClose();
    await t.logs.waitFor('call ended', { callSid: caller.callSid });
    await t.app.get(CallLogWriter).drained();
    expect((await record(caller.callSid)).details.warmTransfer).toMatchObject({ to: 'Alice Jones', status: 'timed-out', endedAt: expect.any(String) });
    expect((await record(caller.callSid)).endReason).not.toBe('transferred');
  });

  it('hands the caller back to the agent when the on-call person declines (presses 2), and ends their leg', async () => {
    const { caller, rt } = await startCall();
    const since = rest.requests.length;
    await callTool(rt, 'connect_to_on_call', { summary: SUMMARY });
    const { create, id } = await dialled(alice, since);
    const legSid = create.callSid!;
    expect((await webhook(create.form.Url, { AccountSid: ACCOUNT_SID, CallSid: legSid, CallStatus: 'in-progress' })).status).toBe(200);

    const declined = await webhook(`${PUBLIC_BASE_URL}/twilio/warm-transfer/answer?call=${caller.callSid}&transfer=${id}`, { AccountSid: ACCOUNT_SID, CallSid: legSid, Digits: '2' });
    expect(declined.status).toBe(200);
    expect(declined.text).not.toContain('<Conference');
    expect(declined.text).toContain('<Hangup/>');
    const ask = await rt.waitFor('response.create', (e) => typeof e.response?.instructions === 'string' && e.response.instructions.includes('call them back'));
    expect(ask.response.instructions).toContain('nobody could answer right now');
    // The caller stays with the agent.
    expect(rest.requests.some((r) => r.callSid === caller.callSid)).toBe(false);

    caller.sendStop();
    await rt.waitForClose();
    await t.logs.waitFor('call ended', { callSid: caller.callSid });
    await t.app.get(CallLogWriter).drained();
    expect((await record(caller.callSid)).details.warmTransfer).toMatchObject({ to: 'Alice Jones', status: 'declined', answeredAt: expect.any(String), endedAt: expect.any(String) });
  });

  it('cancels the on-call leg when the caller hangs up on hold', async () => {
    const { caller, rt } = await startCall();
    const since = rest.requests.length;
    await callTool(rt, 'connect_to_on_call', { summary: SUMMARY });
    const { create } = await dialled(alice, since);
    caller.sendStop();
    await rt.waitForClose();
    const cancel = await rest.waitForRequest((r) => r.callSid === create.callSid && r.form.Status !== undefined, 5000);
    expect(cancel.form.Status).toBe('canceled');
  });
});

