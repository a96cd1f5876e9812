import { CallLogWriter } from '../src/call-log/call-log-writer';
import { CallLogRepository } from '../src/call-log/call-record';
import { CallRegistry } from '../src/call/call-registry';
import { REOPEN_MIN_INTERVAL_MS } from '../src/realtime/realtime-link';
import { ROLLOVER_MARGIN_MS, ROLLOVER_PREPARE_MS } from '../src/call/session-rollover';
import { AppConfig } from '../src/config/app-config';
import { callerFrames, frameIds, range } from './support/caller-frames';
import { startCall, CALL_PARAMS } from './support/calls';
import { FakeTwilioRest } from './support/fake-twilio-rest';
import { MockRealtimeServer, type MockRealtimeConnection } from './support/mock-realtime-server';
import { startApp, TEST_API_KEY, type TestApp } from './support/test-app';
import { TwilioCaller } from './support/twilio-caller';

/** An agent reply the caller hears in full: `ms` of audio, then its transcript. */
function speak(rt: MockRealtimeConnection, n: number, ms: number, transcript: string): void {
  rt.speak(`resp_${n}`, `item_${n}`, Buffer.alloc(ms * 8, 0x2a), { transcript });
}

/** Resolves once the agent has been heard out `times` times in this call (its last mark echoed). */
function agentHeardOut(t: TestApp, caller: TwilioCaller, times: number): Promise<unknown> {
  return t.logs.waitForCount('agent state', { callSid: caller.callSid, to: 'listening', cause: 'mark_echoed' }, times);
}

/** Sends caller frames and resolves once the Realtime connection has all of them. */
async function talk(caller: TwilioCaller, rt: MockRealtimeConnection, frames: Buffer[]): Promise<void> {
  const last = frames[frames.length - 1].readUInt16BE(0);
  for (const frame of frames) caller.sendMedia(frame);
  await rt.waitFor('input_audio_buffer.append', () => frameIds(rt.appendedAudio()).includes(last));
}

describe('Realtime connect faults', () => {
  let mock: MockRealtimeServer;
  let t: TestApp;

  beforeAll(async () => {
    mock = await MockRealtimeServer.start();
    t = await startApp({ OPENAI_API_KEY: TEST_API_KEY, OPENAI_REALTIME_URL: mock.url, OPENAI_CONNECT_TIMEOUT_MS: '500', SILENCE_PROMPT_SECONDS: '0' });
  });

  afterAll(async () => {
    await t.close();
    await mock.close();
  });

  it('retries a first connect that hangs, and the caller audio of the wait arrives whole and in order', async () => {
    mock.holdConnections(1);
    const caller = await TwilioCaller.connect(t.streamUrl, { customParameters: CALL_PARAMS });
    caller.sendConnected();
    caller.sendStart();
    await mock.waitForHeldConnection();
    for (const frame of callerFrames(10)) caller.sendMedia(frame);
    await t.logs.waitFor('realtime connect failed; retrying', { callSid: caller.callSid, reason: 'connect timeout' });
    // Audio keeps coming during the pause before the retry.
    for (const frame of callerFrames(10, 10)) caller.sendMedia(frame);
    const rt = await mock.nextConnection();
    await t.logs.waitFor('realtime connected', { callSid: caller.callSid });
    await rt.waitFor('response.create');
    await talk(caller, rt, callerFrames(5, 20));
    expect(frameIds(rt.appendedAudio())).toEqual(range(0, 25));
    expect(rt.received[0].type).toBe('session.update');
    expect(t.logs.find('realtime connection lost', { callSid: caller.callSid })).toBeUndefined();
    caller.sendStop();
    await rt.waitForClose();
    mock.releaseConnections();
  });

  it('closes the stream with a failure code when the retry fails too, so Twilio runs the fallback', async () => {
    mock.acceptConnections = false;
    const caller = await TwilioCaller.connect(t.streamUrl, { customParameters: CALL_PARAMS });
    caller.sendConnected();
    caller.sendStart();
    expect((await caller.waitForClose()).code).toBe(1011);
    mock.acceptConnections = true;
    expect(t.logs.all('realtime connect failed; retrying').filter((l) => l.callSid === caller.callSid)).toHaveLength(1);
    expect(await t.logs.waitFor('realtime connection lost', { callSid: caller.callSid })).toMatchObject({ opened: false, change: 'connected' });
    await t.logs.waitFor('call ended', { callSid: caller.callSid, reason: 'realtime_connect_failed' });
    await t.app.get(CallLogWriter).drained();
    expect(await t.app.get(CallLogRepository).get(caller.callSid)).toMatchObject({ status: 'failed', endReason: 'realtime_connect_failed' });
  });
});

describe('a Realtime socket dropping mid-call', () => {
  const ACCOUNT_SID = 'AC' + 'c'.repeat(32);
  const AUTH_TOKEN = 'twilio-auth-token-0123456789';
  let mock: MockRealtimeServer;
  let rest: FakeTwilioRest;
  let t: TestApp;

  beforeAll(async () => {
    mock = await MockRealtimeServer.start();
    rest = await FakeTwilioRest.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
    t = await startApp({
      OPENAI_API_KEY: TEST_API_KEY,
      OPENAI_REALTIME_URL: mock.url,
      OPERATOR_COMPANY_NAME: 'Acme Plumbing',
      SILENCE_PROMPT_SECONDS: '0',
      TWILIO_ACCOUNT_SID: ACCOUNT_SID,
      TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      TWILIO_API_BASE_URL: rest.baseUrl,
    });
  });

  afterAll(async () => {
    await t.close();
    await rest.close();
    await mock.close();
  });

  it('drops the result of a tool the dead session asked for, while the tool itself completes', async () => {
    const { caller, rt } = await startCall(t, mock);
    // The agent says goodbye and calls end_call, which waits for the goodbye to play.
    rt.responseCreated('resp_bye');
    rt.sendAudio('resp_bye', 'item_bye', Buffer.alloc(3200, 0x2a));
    rt.audioDone('resp_bye', 'item_bye');
    rt.send({ type: 'response.function_call_arguments.done', response_id: 'resp_bye', item_id: 'fc', output_index: 1, call_id: 'c_end', name: 'end_call', arguments: '{}' });
    await t.logs.waitFor('tool called', { callSid: caller.callSid, tool: 'end_call' });
    rt.terminate();
    const rt2 = await mock.nextConnection();
    await rt2.waitFor('session.update');
    // The goodbye already at Twilio plays out, then the call is hung up as asked.
    const hangUp = await rest.waitForRequest((r) => r.callSid === caller.callSid);
    expect(hangUp.form).toEqual({ Status: 'completed' });
    expect(caller.playedMs()).toBeGreaterThanOrEqual(400);
    await t.logs.waitFor('tool output dropped: the session that asked for it is gone', { callSid: caller.callSid, callId: 'c_end' });
    await talk(caller, rt2, callerFrames(1));
    expect(rt2.received.filter((e) => e.type === 'conversation.item.create')).toEqual([]);
    caller.sendStop();
    await rt2.waitForClose();
    await t.logs.waitFor('call ended', { callSid: caller.callSid });
    await t.app.get(CallLogWriter).drained();
    expect(await t.app.get(CallLogRepository).get(caller.callSid)).toMatchObject({ status: 'completed', endReason: 'hangup' });
  });

  it('is reopened with the session configuration and a summary, and the call carries on as one call', async () => {
    const { caller, rt } = await startCall(t, mock);
    const config = t.app.get(AppConfig);
    const firstUpdate = rt.received.find((e) => e.type === 'session.update');
    // The caller describes the problem; the agent saves it and speaks.
    await talk(caller, rt, callerFrames(5));
    rt.send({ type: 'conversation.item.input_audio_transcription.completed', item_id: 'item_user_1', content_index: 0, transcript: 'My basement is flooding.' });
    rt.responseCreated('resp_1');
    rt.send({
      type: 'response.function_call_arguments.done',
      response_id: 'resp_1',
      item_id: 'fc_1',
      output_index: 0,
      call_id: 'call_1',
      name: 'save_job_request',
      arguments: JSON.stringify({ problem: 'flooded basement', urgency: 'emergency' }),
    });
    rt.responseDone('resp_1');
    await rt.waitFor('conversation.item.create', (e) => e.item?.call_id === 'call_1');
    await rt.waitFor('response.create', (e) => e.response === undefined);
    // The follow-up response starts speaking, and the connection drops in the middle of it.
    rt.responseCreated('resp_2');
    rt.transcriptDone('resp_2', 'item_2', 'I will send someone right away.');
    rt.sendAudio('resp_2', 'item_2', Buffer.alloc(1600, 0x2a));
    await caller.waitFor('media');
    rt.terminate();
    await t.logs.waitFor('realtime connection dropped; reopening', { callSid: caller.callSid });
    // Caller audio during the reconnect is kept.
    for (const frame of callerFrames(10, 5)) caller.sendMedia(frame);

    const rt2 = await mock.nextConnection();
    const update = await rt2.waitFor('session.update');
    const { instructions, ...rest } = update.session;
    const { instructions: firstInstructions, ...firstRest } = firstUpdate.session;
    expect(rest).toEqual(firstRest);
    expect(instructions.startsWith(firstInstructions)).toBe(true);
    expect(instructions).toContain('Do not greet the caller again');
    expect(instructions).toContain('Caller: My basement is flooding.');
    expect(instructions).toContain('You: I will send someone right away.');
    expect(instructions).toContain('- problem: flooded basement');
    // Picks up with the configured line, not the greeting.
    const resume = await rt2.waitFor('response.create');
    expect(resume.response.instructions).toBe(config.operator.reconnectInstruction);
    expect(JSON.stringify(resume)).not.toContain('Acme Plumbing');

    await talk(caller, rt2, callerFrames(5, 15));
    expect(frameIds(rt2.appendedAudio())).toEqual(range(5, 20));
    // Nothing of the dead session is left pending: after the tool turn and the dropped reply, the
    // agent is listening again (that would wait for a response.done that never comes otherwise).
    await t.logs.waitForCount('agent state', { callSid: caller.callSid, to: 'listening' }, 2);
    speak(rt2, 3, 200, 'Sorry, I lost you for a moment.');
    await t.logs.waitForCount('agent state', { callSid: caller.callSid, to: 'listening' }, 3);
    caller.sendStop();
    await rt2.waitForClose();
    await t.logs.waitFor('call ended', { callSid: caller.callSid, reason: 'twilio_stop' });
    await t.app.get(CallLogWriter).drained();
    const page = await t.app.get(CallLogRepository).list({ limit: 100, offset: 0 });
    expect(page.items.filter((c) => c.callSid === caller.callSid)).toHaveLength(1);
    const record = await t.app.get(CallLogRepository).get(caller.callSid);
    expect(record).toMatchObject({ status: 'completed', endReason: 'twilio_stop', details: { jobRequest: { problem: 'flooded basement' } } });
    expect(record!.transcript.map((turn) => turn.text)).toEqual(
      expect.arrayContaining(['My basement is flooding.', 'Sorry, I lost you for a moment.']),
    );
  });

  it('closes the stream with a failure code when the reopen fails', async () => {
    const { caller, rt } = await startCall(t, mock);
    mock.acceptConnections = false;
    rt.close(1011, 'server error');
    expect((await caller.waitForClose()).code).toBe(1011);
    mock.acceptConnections = true;
    expect(await t.logs.waitFor('realtime connection lost', { callSid: caller.callSid })).toMatchObject({ opened: false, change: 'reopened' });
    await t.logs.waitFor('call ended', { callSid: caller.callSid, reason: 'realtime_reopen_failed' });
    expect(t.app.get(CallRegistry).activeCalls).toBe(0);
  });

  it(`falls back on a second drop within ${REOPEN_MIN_INTERVAL_MS / 60_000} minutes of a reopen`, async () => {
    const { caller, rt } = await startCall(t, mock);
    rt.terminate();
    const rt2 = await mock.nextConnection();
    await rt2.waitFor('response.create');
    rt2.terminate();
    expect((await caller.waitForClose()).code).toBe(1011);
    await t.logs.waitFor('call ended', { callSid: caller.callSid, reason: 'realtime_closed' });
    expect(t.logs.all('realtime connection dropped; reopening').filter((l) => l.callSid === caller.callSid)).toHaveLength(1);
  });
});

describe('the Realtime session cap', () => {
  let mock: MockRealtimeServer;
  let t: TestApp;

  beforeAll(async () => {
    mock = await MockRealtimeServer.start();
    t = await startApp({
      OPENAI_API_KEY: TEST_API_KEY,
      OPENAI_REALTIME_URL: mock.url,
      OPERATOR_COMPANY_NAME: 'Acme Plumbing',
      REALTIME_SESSION_MAX_MINUTES: '60',
      SESSION_TTL_MINUTES: '600',
      SILENCE_PROMPT_SECONDS: '0',
    });
  });

  afterAll(async () => {
    await t.close();
    await mock.close();
  });

  it('moves the call to a fresh session with a summary before the cap, without a gap or a second greeting', async () => {
    const { caller, rt } = await startCall(t, mock);
    speak(rt, 1, 200, 'Thanks for calling Acme Plumbing.');
    await agentHeardOut(t, caller, 1);
    await talk(caller, rt, callerFrames(5));

    t.clock.skip(60 * 60_000 - ROLLOVER_PREPARE_MS);
    caller.sendMedia(callerFrames(1, 5)[0]);
    await t.logs.waitFor('next realtime session ready', { callSid: caller.callSid });
    const rt2 = await mock.nextConnection();
    // Until the switch, audio still goes to the old session; the next frame's tick makes the switch.
    expect(rt2.received.filter((e) => e.type === 'input_audio_buffer.append')).toEqual([]);
    caller.sendMedia(callerFrames(1, 6)[0]);

    const update = await rt2.waitFor('session.update');
    expect(update.session.instructions).toContain('Do not greet the caller again');
    expect(update.session.instructions).toContain('You: Thanks for calling Acme Plumbing.');
    expect(await rt.waitForClose()).toMatchObject({ code: 1000 });
    await talk(caller, rt2, callerFrames(5, 7));
    // Every frame reached exactly one session, in order.
    expect([...frameIds(rt.appendedAudio()), ...frameIds(rt2.appendedAudio())]).toEqual(range(0, 12));
    expect(frameIds(rt2.appendedAudio())[0]).toBe(7);
    // The new session neither greets nor is asked to speak; the old socket's close is no drop.
    expect(rt2.received.filter((e) => e.type === 'response.create')).toEqual([]);
    expect(t.logs.find('realtime connection dropped; reopening', { callSid: caller.callSid })).toBeUndefined();
    expect(await t.logs.waitFor('realtime session replaced', { callSid: caller.callSid })).toMatchObject({ change: 'rolled_over', bufferedFrames: 0 });
    // The new session carries the conversation on.
    speak(rt2, 2, 200, 'Anything else?');
    await agentHeardOut(t, caller, 2);
    caller.sendStop();
    await rt2.waitForClose();
    await t.logs.waitFor('call ended', { callSid: caller.callSid, reason: 'twilio_stop' });
    expect(mock.connections).toHaveLength(2);
  });
});

describe('the Realtime session cap while the agent keeps talking', () => {
  let mock: MockRealtimeServer;
  let t: TestApp;

  beforeAll(async () => {
    mock = await MockRealtimeServer.start();
    t = await startApp({ OPENAI_API_KEY: TEST_API_KEY, OPENAI_REALTIME_URL: mock.url, SESSION_TTL_MINUTES: '600', SILENCE_PROMPT_SECONDS: '0' });
  });

  afterAll(async () => {
    await t.close();
    await mock.close();
  });

  it(`waits for a quiet moment, switching ${ROLLOVER_MARGIN_MS / 1000} s before the cap at the latest`, async () => {
    const { caller, rt } = await startCall(t, mock);
    rt.responseCreated('resp_long');
    rt.sendAudio('resp_long', 'item_long', Buffer.alloc(3_000 * 8, 0x2a));
    await t.logs.waitFor('agent state', { callSid: caller.callSid, to: 'speaking' });

    t.clock.skip(60 * 60_000 - ROLLOVER_PREPARE_MS);
    caller.sendMedia(callerFrames(1)[0]);
    await t.logs.waitFor('next realtime session ready', { callSid: caller.callSid });
    const rt2 = await mock.nextConnection();
    // The agent is still speaking: the call stays on the old session.
    await talk(caller, rt, callerFrames(1, 1));
    expect(rt2.received).toEqual([]);

    t.clock.skip(ROLLOVER_PREPARE_MS - ROLLOVER_MARGIN_MS);
    caller.sendMedia(callerFrames(1, 2)[0]);
    await rt2.waitFor('session.update');
    expect(await rt.waitForClose()).toMatchObject({ code: 1000 });
    await talk(caller, rt2, callerFrames(1, 3));
    // The old session's response is not left pending; the audio already at Twilio plays on.
    expect(t.logs.find('agent state', { callSid: caller.callSid, from: 'speaking', to: 'listening' })).toBeUndefined();
    await t.logs.waitFor('agent state', { callSid: caller.callSid, from: 'speaking', to: 'listening', cause: 'mark_echoed' });
    caller.sendStop();
    await rt2.waitForClose();
  });
});

describe('a silent caller', () => {
  const ACCOUNT_SID = 'AC' + 'b'.repeat(32);
  const AUTH_TOKEN = 'twilio-auth-token-0123456789';
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
      SILENCE_PROMPT_SECONDS: '12',
    });
  });

  afterAll(async () => {
    await t.close();
    await rest.close();
    await mock.close();
  });

  it('is asked whether they are still there, then said goodbye to and hung up on', async () => {
    const config = t.app.get(AppConfig);
    const { caller, rt } = await startCall(t, mock);
    speak(rt, 1, 200, 'Thanks for calling.');
    await agentHeardOut(t, caller, 1);

    // Silence counts from the end of the agent's audio as played.
    t.clock.skip(11_000);
    await talk(caller, rt, callerFrames(1));
    expect(rt.received.filter((e) => e.type === 'response.create')).toHaveLength(1);
    t.clock.skip(1_000);
    caller.sendMedia(callerFrames(1, 1)[0]);
    const ask = await rt.waitFor('response.create', (e) => e.response?.instructions === config.operator.silencePrompt);
    expect(ask).toBeDefined();

    // The question is spoken; the second silence counts from when it has played.
    speak(rt, 2, 200, 'Are you still there?');
    await agentHeardOut(t, caller, 2);
    t.clock.skip(11_000);
    await talk(caller, rt, callerFrames(1, 2));
    expect(rt.received.filter((e) => e.type === 'response.create')).toHaveLength(2);
    t.clock.skip(1_000);
    caller.sendMedia(callerFrames(1, 3)[0]);
    await rt.waitFor('response.create', (e) => e.response?.instructions === config.operator.silenceGoodbye);

    // The goodbye plays in full before the hang-up.
    speak(rt, 3, 400, 'Goodbye.');
    const hangUp = await rest.waitForRequest((r) => r.callSid === caller.callSid);
    expect(t.logs.find('goodbye played; ending the call', { callSid: caller.callSid })).toMatchObject({ departure: 'caller_silent', restHangUp: true });
    expect(hangUp.form).toEqual({ Status: 'completed' });
    expect(caller.playedMs()).toBeGreaterThanOrEqual(800);
    caller.sendStop();
    await rt.waitForClose();
    await t.logs.waitFor('call ended', { callSid: caller.callSid });
    await t.app.get(CallLogWriter).drained();
    expect(await t.app.get(CallLogRepository).get(caller.callSid)).toMatchObject({ status: 'completed', endReason: 'caller_silent' });
  });

  it('is not hung up on when they speak up during the goodbye', async () => {
    const config = t.app.get(AppConfig);
    const { caller, rt } = await startCall(t, mock);
    speak(rt, 1, 200, 'Thanks for calling.');
    await agentHeardOut(t, caller, 1);
    t.clock.skip(12_000);
    caller.sendMedia(callerFrames(1)[0]);
    await rt.waitFor('response.create', (e) => e.response?.instructions === config.operator.silencePrompt);
    speak(rt, 2, 200, 'Are you still there?');
    await agentHeardOut(t, caller, 2);
    t.clock.skip(12_000);
    caller.sendMedia(callerFrames(1, 1)[0]);
    await rt.waitFor('response.create', (e) => e.response?.instructions === config.operator.silenceGoodbye);
    rt.responseCreated('resp_3');
    rt.sendAudio('resp_3', 'item_3', Buffer.alloc(16_000, 0x2a));
    await t.logs.waitForCount('agent state', { callSid: caller.callSid, to: 'speaking' }, 3);
    rt.speechStarted(0);
    await t.logs.waitFor('caller barged in', { callSid: caller.callSid });
    rt.responseDone('resp_3', 'cancelled');
    await t.logs.waitFor('agent state', { callSid: caller.callSid, to: 'listening', cause: 'response_done' });
    // The hang-up would have been decided when the response ended, before this frame was handled.
    await talk(caller, rt, callerFrames(1, 2));
    expect(t.logs.find('goodbye played; ending the call', { callSid: caller.callSid })).toBeUndefined();
    expect(rest.requests.filter((r) => r.callSid === caller.callSid)).toEqual([]);
    caller.sendStop();
    await rt.waitForClose();
    await t.logs.waitFor('call ended', { callSid: caller.callSid, reason: 'twilio_stop' });
  });

  it('starts over when the caller speaks', async () => {
    const config = t.app.get(AppConfig);
    const { caller, rt } = await startCall(t, mock);
    speak(rt, 1, 200, 'Thanks for calling.');
    await agentHeardOut(t, caller, 1);
    t.clock.skip(12_000);
    caller.sendMedia(callerFrames(1)[0]);
    await rt.waitFor('response.create', (e) => e.response?.instructions === config.operator.silencePrompt);
    speak(rt, 2, 200, 'Are you still there?');
    await agentHeardOut(t, caller, 2);
    // The caller answers; the count restarts from the end of their speech, and asks again rather than hanging up.
    rt.speechStarted(0);
    await t.logs.waitFor('caller speech started', { callSid: caller.callSid });
    t.clock.skip(30_000);
    await talk(caller, rt, callerFrames(1, 1));
    rt.speechStopped(500);
    await t.logs.waitFor('caller speech stopped', { callSid: caller.callSid });
    t.clock.skip(11_000);
    await talk(caller, rt, callerFrames(1, 2));
    expect(rt.received.filter((e) => e.type === 'response.create')).toHaveLength(2);
    t.clock.skip(1_000);
    caller.sendMedia(callerFrames(1, 3)[0]);
    await rt.waitFor('response.create', (e) => e.response?.instructions === config.operator.silencePrompt);
    expect(rt.received.some((e) => e.type === 'response.create' && e.response?.instructions === config.operator.silenceGoodbye)).toBe(false);
    caller.sendStop();
    await rt.waitForClose();
  });
});

describe('a silent caller without Twilio REST credentials', () => {
  let mock: MockRealtimeServer;
  let t: TestApp;

  beforeAll(async () => {
    mock = await MockRealtimeServer.start();
    t = await startApp({ OPENAI_API_KEY: TEST_API_KEY, OPENAI_REALTIME_URL: mock.url, SILENCE_PROMPT_SECONDS: '12' });
  });

  afterAll(async () => {
    await t.close();
    await mock.close();
  });

  it('is said goodbye to, then the stream is closed normally', async () => {
    const config = t.app.get(AppConfig);
    const { caller, rt } = await startCall(t, mock);
    speak(rt, 1, 200, 'Thanks for calling.');
    await agentHeardOut(t, caller, 1);
    t.clock.skip(12_000);
    caller.sendMedia(callerFrames(1)[0]);
    await rt.waitFor('response.create', (e) => e.response?.instructions === config.operator.silencePrompt);
    speak(rt, 2, 200, 'Are you still there?');
    await agentHeardOut(t, caller, 2);
    t.clock.skip(12_000);
    caller.sendMedia(callerFrames(1, 1)[0]);
    await rt.waitFor('response.create', (e) => e.response?.instructions === config.operator.silenceGoodbye);
    speak(rt, 3, 400, 'Goodbye.');
    expect((await caller.waitForClose()).code).toBe(1000);
    expect(caller.playedMs()).toBeGreaterThanOrEqual(800);
    await rt.waitForClose();
    await t.logs.waitFor('call ended', { callSid: caller.callSid, reason: 'caller_silent' });
    await t.app.get(CallLogWriter).drained();
    expect(await t.app.get(CallLogRepository).get(caller.callSid)).toMatchObject({ status: 'completed', endReason: 'caller_silent' });
  });
});
