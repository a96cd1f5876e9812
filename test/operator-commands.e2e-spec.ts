import { CallLogWriter } from '../src/call-log/call-log-writer';
import { CallLogRepository } from '../src/call-log/call-record';
import { CALL_PARAMS, startCall } from './support/calls';
import { FakeTwilioRest } from './support/fake-twilio-rest';
import { MockRealtimeServer } from './support/mock-realtime-server';
import { startApp, TEST_API_KEY, type TestApp } from './support/test-app';

const ACCOUNT_SID = 'AC' + 'b'.repeat(32);
const AUTH_TOKEN = 'twilio-auth-token-operator-0123';
const API_TOKEN = 'test-api-token-0123456789';
const auth = { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' };
const UNKNOWN = 'CA' + 'f'.repeat(32);

/** One instance, no Redis: the operator API on the embedded defaults. */
describe('operator commands and live calls on one instance', () => {
  let mock: MockRealtimeServer;
  let rest: FakeTwilioRest;
  let t: TestApp;

  beforeAll(async () => {
    mock = await MockRealtimeServer.start();
    rest = await FakeTwilioRest.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
    t = await startApp({
      OPENAI_API_KEY: TEST_API_KEY,
      OPENAI_REALTIME_URL: mock.url,
      TWILIO_ACCOUNT_SID: ACCOUNT_SID,
      TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      TWILIO_API_BASE_URL: rest.baseUrl,
      API_TOKEN,
      INSTANCE_ID: 'solo',
      MAX_FLEET_CALLS: '1',
    });
  });

  afterAll(async () => {
    await t.close();
    await rest.close();
    await mock.close();
  });

  const post = (callSid: string, action: string, body: unknown = {}, headers: Record<string, string> = auth) =>
    fetch(`${t.httpUrl}/api/calls/${callSid}/${action}`, { method: 'POST', headers, body: JSON.stringify(body) });
  const live = async () => (await (await fetch(`${t.httpUrl}/api/calls/live`, { headers: auth })).json()) as { items: Array<Record<string, unknown>>; total: number };

  it('lists the live call, naming this instance, and has the agent say what the operator sends', async () => {
    const { caller, rt } = await startCall(t, mock);
    rt.responseCreated('resp_greeting');
    rt.responseDone('resp_greeting');

    const listed = await live();
    expect(listed.total).toBe(1);
    expect(listed.items[0]).toMatchObject({ callSid: caller.callSid, instanceId: 'solo', from: CALL_PARAMS.from, to: CALL_PARAMS.to, direction: 'inbound', state: 'listening' });
    expect(Date.parse(listed.items[0].startedAt as string)).not.toBeNaN();

    const res = await post(caller.callSid, 'say', { text: 'A plumber will call you back within ten minutes.' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ callSid: caller.callSid, action: 'say', said: 'now', waiting: 0 });
    const asked = await rt.waitFor('response.create', (e) => String(e.response?.instructions).includes('within ten minutes'));
    expect(asked.response.tool_choice).toBe('none');

    caller.sendStop();
    await rt.waitForClose();
    await t.logs.waitFor('call ended', { callSid: caller.callSid });
    expect((await live()).total).toBe(0);
  });

  it('transfers and hangs up through the Twilio REST API; the record says how the call ended', async () => {
    let { caller, rt } = await startCall(t, mock);
    let res = await post(caller.callSid, 'transfer', { to: '+15552223333' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ callSid: caller.callSid, action: 'transfer', transferredTo: '+15552223333' });
    const transfer = await rest.waitForRequest((r) => r.callSid === caller.callSid && r.form.Twiml !== undefined);
    expect(transfer.form.Twiml).toContain('<Dial>+15552223333</Dial>');
    // A second command while the transfer is under way cannot be carried out.
    expect((await post(caller.callSid, 'hangup')).status).toBe(409);
    caller.sendStop();
    await rt.waitForClose();
    await t.logs.waitFor('call ended', { callSid: caller.callSid });

    ({ caller, rt } = await startCall(t, mock));
    res = await post(caller.callSid, 'hangup');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ callSid: caller.callSid, action: 'hangup', hungUp: true });
    await rest.waitForRequest((r) => r.callSid === caller.callSid && r.form.Status === 'completed');
    caller.sendStop();
    await rt.waitForClose();
    await t.logs.waitFor('call ended', { callSid: caller.callSid });
    await t.app.get(CallLogWriter).drained();
    const record = await t.app.get(CallLogRepository).get(caller.callSid);
    expect(record).toMatchObject({ status: 'completed', endReason: 'hangup', details: { operatorCommands: [{ action: 'hangup' }] } });
  });

  it('answers 502 when Twilio refuses, and the call goes on', async () => {
    const { caller, rt } = await startCall(t, mock);
    rest.failNext(400, 21220, 'Call is not in-progress. Cannot redirect.');
    const res = await post(caller.callSid, 'hangup');
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ statusCode: 502, message: expect.stringContaining('Call is not in-progress') });
    caller.sendMedia(Buffer.alloc(160, 0x7f));
    await rt.waitFor('input_audio_buffer.append');
    caller.sendStop();
    await rt.waitForClose();
    await t.logs.waitFor('call ended', { callSid: caller.callSid });
  });

  it('answers 404 for a call that is not live, 400 for a bad SID or body, 401 without the token', async () => {
    expect((await post(UNKNOWN, 'hangup')).status).toBe(404);
    expect(await (await post(UNKNOWN, 'say', { text: 'hi' })).json()).toEqual({ statusCode: 404, message: 'No such live call.' });
    expect((await post('CA123', 'hangup')).status).toBe(400);
    expect((await post(UNKNOWN, 'say', {})).status).toBe(400);
    expect((await post(UNKNOWN, 'say', { text: 'x'.repeat(501) })).status).toBe(400);
    expect((await post(UNKNOWN, 'say', { text: 'hi', mode: 'shout' })).status).toBe(400);
    expect((await post(UNKNOWN, 'transfer', { to: '555-1234' })).status).toBe(400);
    expect((await post(UNKNOWN, 'transfer', { to: '+15552223333', extra: 1 })).status).toBe(400);
    expect((await post(UNKNOWN, 'hangup', {}, { 'content-type': 'application/json' })).status).toBe(401);
    expect((await fetch(`${t.httpUrl}/api/calls/live`)).status).toBe(401);
  });

  it('sends calls over MAX_FLEET_CALLS to the fallback', async () => {
    const { caller, rt } = await startCall(t, mock);
    const webhook = await fetch(`${t.httpUrl}/twilio/voice`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ CallSid: UNKNOWN, From: '+15551230000', To: '+15557650000', Direction: 'inbound' }),
    });
    const twiml = await webhook.text();
    expect(twiml).not.toContain('<Stream');
    expect(t.logs.lines.find((l) => l.msg === 'call not taken by the agent: answering with the fallback' && l.callSid === UNKNOWN)).toMatchObject({ refusal: 'fleet_at_capacity' });
    caller.sendStop();
    await rt.waitForClose();
    await t.logs.waitFor('call ended', { callSid: caller.callSid });
  });
});
