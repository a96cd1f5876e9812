import { CallLogWriter } from '../src/call-log/call-log-writer';
import { CallLogRepository } from '../src/call-log/call-record';
import { FakeTwilioRest } from './support/fake-twilio-rest';
import { MockRealtimeServer, type MockRealtimeConnection } from './support/mock-realtime-server';
import { startApp, TEST_API_KEY, type TestApp } from './support/test-app';
import { startCall } from './support/calls';
import { TwilioCaller } from './support/twilio-caller';

const ACCOUNT_SID = 'AC' + 'a'.repeat(32);
const AUTH_TOKEN = 'twilio-auth-token-0123456789';
const PARAMS = { from: '+15551230000', to: '+15557650000', direction: 'inbound' };

describe('transfer and end_call through the Twilio REST API', () => {
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
      OPERATOR_TRANSFER_NUMBER: '+15550001111',
    });
  });

  afterAll(async () => {
    await t.close();
    await rest.close();
    await mock.close();
  });


  /** The agent says its last words (400 ms of audio) and calls the tool in the same response. */
  function lastWordsThen(rt: MockRealtimeConnection, tool: string): void {
    rt.responseCreated('resp_bye');
    rt.sendAudio('resp_bye', 'item_bye', Buffer.alloc(3200, 0x2a), 800);
    rt.audioDone('resp_bye', 'item_bye');
    rt.send({ type: 'response.function_call_arguments.done', response_id: 'resp_bye', item_id: 'fc', output_index: 1, call_id: `c_${tool}`, name: tool, arguments: '{}' });
    rt.responseDone('resp_bye');
  }

  it('offers both tools', async () => {
    const { caller, rt } = await startCall(t, mock);
    const names = (rt.received.find((e) => e.type === 'session.update').session.tools as Array<{ name: string }>).map((x) => x.name);
    expect(names).toEqual(expect.arrayContaining(['save_job_request', 'transfer_to_human', 'end_call']));
    caller.sendStop();
    await rt.waitForClose();
  });

  it('transfers only after the last sentence has played, and records the transfer', async () => {
    const { caller, rt } = await startCall(t, mock);
    lastWordsThen(rt, 'transfer_to_human');
    const request = await rest.waitForRequest((r) => r.callSid === caller.callSid, 5000);
    // The caller had heard the whole sentence when the call was moved.
    expect(caller.playedMs()).toBeGreaterThanOrEqual(400);
    expect(request.form.Twiml).toBe('<?xml version="1.0" encoding="UTF-8"?><Response><Dial>+15550001111</Dial></Response>');
    expect(request).toMatchObject({ accountSid: ACCOUNT_SID, authorized: true });
    // Twilio then stops the stream.
    caller.sendStop();
    await rt.waitForClose();
    await t.logs.waitFor('call ended', { callSid: caller.callSid });
    await t.app.get(CallLogWriter).drained();
    expect(await t.app.get(CallLogRepository).get(caller.callSid)).toMatchObject({ status: 'completed', endReason: 'transferred' });
  });

  it('hangs up after the goodbye has played', async () => {
    const { caller, rt } = await startCall(t, mock);
    lastWordsThen(rt, 'end_call');
    const request = await rest.waitForRequest((r) => r.callSid === caller.callSid && r.form.Status === 'completed', 5000);
    expect(caller.playedMs()).toBeGreaterThanOrEqual(400);
    expect(request.form.Twiml).toBeUndefined();
    caller.sendStop();
    await rt.waitForClose();
    await t.logs.waitFor('call ended', { callSid: caller.callSid });
    await t.app.get(CallLogWriter).drained();
    expect(await t.app.get(CallLogRepository).get(caller.callSid)).toMatchObject({ status: 'completed', endReason: 'hangup' });
  });

  it('tells the model when Twilio refuses, and the call goes on', async () => {
    const { caller, rt } = await startCall(t, mock);
    rest.failNext(400, 21220, 'Call is not in-progress. Cannot redirect.');
    lastWordsThen(rt, 'end_call');
    const output = await rt.waitFor('conversation.item.create', (e) => e.item?.call_id === 'c_end_call');
    expect(JSON.parse(output.item.output as string)).toMatchObject({ error: expect.stringContaining('Call is not in-progress') });
    caller.sendMedia(Buffer.alloc(160, 0x7f));
    await rt.waitFor('input_audio_buffer.append');
    caller.sendStop();
    await rt.waitForClose();
    await t.logs.waitFor('call ended', { callSid: caller.callSid, reason: 'twilio_stop' });
  });
});

describe('without Twilio REST credentials', () => {
  it('offers neither transfer nor end_call', async () => {
    const mock = await MockRealtimeServer.start();
    const t = await startApp({ OPENAI_API_KEY: TEST_API_KEY, OPENAI_REALTIME_URL: mock.url, OPERATOR_TRANSFER_NUMBER: '+15550001111' });
    const caller = await TwilioCaller.connect(t.streamUrl, { customParameters: PARAMS });
    caller.sendConnected();
    caller.sendStart();
    const rt = await mock.nextConnection();
    const update = await rt.waitFor('session.update');
    expect((update.session.tools as Array<{ name: string }>).map((x) => x.name)).toEqual(['save_job_request', 'add_to_do_not_call']);
    caller.sendStop();
    await rt.waitForClose();
    await t.close();
    await mock.close();
  });
});
