import { CallRegistry } from '../src/call/call-registry';
import { SessionStore } from '../src/session/session-store';
import { MockRealtimeServer, type RealtimeShape } from './support/mock-realtime-server';
import { startApp, TEST_API_KEY, type TestApp } from './support/test-app';
import { startCall } from './support/calls';
import { TwilioCaller } from './support/twilio-caller';

const FRAME = 160;
const PARAMS = { from: '+15551230000', to: '+15557650000', direction: 'inbound' };

/** Agent audio whose bytes say where they are: byte i of the reply is (seed + i) mod 251. */
function agentAudio(ms: number, seed: number): Buffer {
  const audio = Buffer.alloc(ms * 8);
  for (let i = 0; i < audio.length; i++) audio[i] = (seed + i) % 251;
  return audio;
}

/** Caller frames stamped with their index in the first two bytes. */
function callerFrames(count: number, first = 0): Buffer[] {
  return Array.from({ length: count }, (_, k) => {
    const frame = Buffer.alloc(FRAME, 0x7f);
    frame.writeUInt16BE(first + k, 0);
    return frame;
  });
}

function frameIds(audio: Buffer): number[] {
  const ids: number[] = [];
  for (let o = 0; o + FRAME <= audio.length; o += FRAME) ids.push(audio.readUInt16BE(o));
  return ids;
}



describe.each<RealtimeShape>(['ga', 'beta'])('a call through the bridge (%s Realtime shape)', (shape) => {
  let mock: MockRealtimeServer;
  let t: TestApp;

  beforeAll(async () => {
    mock = await MockRealtimeServer.start({ shape });
    t = await startApp({
      OPENAI_API_KEY: TEST_API_KEY,
      OPENAI_REALTIME_URL: mock.url,
      OPENAI_REALTIME_MODEL: shape === 'beta' ? 'gpt-4o-realtime-preview' : 'gpt-realtime',
      OPERATOR_COMPANY_NAME: 'Acme Plumbing',
    });
  });

  afterAll(async () => {
    await t.close();
    await mock.close();
  });

  it('configures the session, greets, relays audio both ways in order, and ends on stop', async () => {
    const caller = await TwilioCaller.connect(t.streamUrl, { customParameters: PARAMS });
    caller.sendConnected();
    caller.sendStart();
    const rt = await mock.nextConnection();

    expect(rt.headers.authorization).toBe(`Bearer ${TEST_API_KEY}`);
    expect(rt.model).toBe(shape === 'beta' ? 'gpt-4o-realtime-preview' : 'gpt-realtime');
    expect(rt.headers['openai-beta']).toBe(shape === 'beta' ? 'realtime=v1' : undefined);

    const update = await rt.waitFor('session.update');
    if (shape === 'ga') {
      expect(update.session.type).toBe('realtime');
      expect(update.session.audio.input.format).toEqual({ type: 'audio/pcmu' });
      expect(update.session.audio.output.format).toEqual({ type: 'audio/pcmu' });
      expect(update.session.audio.input.turn_detection).toMatchObject({ type: 'server_vad', interrupt_response: true });
    } else {
      expect(update.session).toMatchObject({ input_audio_format: 'g711_ulaw', output_audio_format: 'g711_ulaw' });
      expect(update.session.turn_detection).toMatchObject({ type: 'server_vad', interrupt_response: true });
    }
    expect(JSON.stringify(update.session)).toContain('Acme Plumbing');

    const greeting = await rt.waitFor('response.create');
    expect(greeting.response.instructions).toContain('Acme Plumbing');
    // The greeting is asked for only after the session is confirmed in mu-law.
    expect(rt.received.findIndex((e) => e.type === 'response.create')).toBeGreaterThan(rt.received.findIndex((e) => e.type === 'session.update'));

    // Agent -> caller: each delta passed on whole, as the model sent it, in order, then played.
    const reply = agentAudio(300, 1);
    rt.speak('resp_1', 'item_1', reply, { chunkBytes: 333, transcript: 'Thanks for calling Acme Plumbing.' });
    await caller.waitForPlayed(300);
    const outbound = caller.received.filter((f) => f.event === 'media');
    expect(outbound.every((f) => f.streamSid === caller.streamSid)).toBe(true);
    expect(caller.media.map((m) => m.length)).toEqual(Array.from({ length: Math.ceil(reply.length / 333) }, (_, k) => Math.min(333, reply.length - k * 333)));
    expect(Buffer.concat(caller.media)).toEqual(reply);
    expect(caller.received.some((f) => f.event === 'mark' && f.streamSid === caller.streamSid && typeof f.mark.name === 'string')).toBe(true);

    // Caller -> agent: every frame, in order.
    await caller.startTalking(callerFrames(25));
    await rt.waitFor('input_audio_buffer.append', () => rt.appendedAudio().length >= 25 * FRAME);
    expect(frameIds(rt.appendedAudio())).toEqual(Array.from({ length: 25 }, (_, k) => k));

    const registry = t.app.get(CallRegistry);
    const sessions = t.app.get(SessionStore);
    expect(registry.activeCalls).toBe(1);
    expect(await sessions.get(caller.callSid)).toMatchObject({ streamSid: caller.streamSid, from: PARAMS.from, to: PARAMS.to });

    caller.sendStop();
    await rt.waitForClose();
    await t.logs.waitFor('call ended', { callSid: caller.callSid, streamSid: caller.streamSid, reason: 'twilio_stop' });
    expect(registry.activeCalls).toBe(0);
    expect(await sessions.get(caller.callSid)).toBeUndefined();

    // Structured lines carry the call's ids; no key and no audio ever reach the logs.
    const logs = t.logs.raw.join('\n');
    expect(logs).not.toContain(TEST_API_KEY);
    expect(logs).not.toContain(reply.subarray(0, 160).toString('base64'));
    expect(logs).not.toContain(callerFrames(1)[0].toString('base64'));
    expect(t.logs.lines.filter((l) => l.component === 'call' && l.msg !== 'ignored a malformed Twilio frame').every((l) => l.callSid === caller.callSid && l.streamSid === caller.streamSid)).toBe(true);
  });

  it('stops the agent the moment the caller barges in, and truncates to what was heard', async () => {
    const { caller, rt } = await startCall(t, mock);
    rt.responseCreated('resp_1');
    rt.sendAudio('resp_1', 'item_1', agentAudio(2000, 7), 800);
    await caller.waitForPlayed(500);

    rt.speechStarted();
    const clear = await caller.waitFor('clear');
    const playedAtClear = caller.playedMs();
    expect(clear.streamSid).toBe(caller.streamSid);

    const truncate = await rt.waitFor('conversation.item.truncate');
    expect(truncate).toMatchObject({ item_id: 'item_1', content_index: 0 });
    // Never more than the caller heard (one frame of slack for the clear in flight) ...
    expect(truncate.audio_end_ms).toBeLessThanOrEqual(playedAtClear + 20);
    // ... and at least what Twilio had confirmed by echoing a mark of this reply.
    const confirmedBeforeClear = caller.echoedMarks.filter((m) => !m.flushed && m.at <= clear.at).length;
    expect(confirmedBeforeClear).toBeGreaterThan(0);
    expect(truncate.audio_end_ms).toBeGreaterThanOrEqual(Math.min(playedAtClear, 500) - 200);
    const cancel = await rt.waitFor('response.cancel');
    expect(cancel.response_id).toBe('resp_1');

    // Late deltas of the interrupted reply never reach the caller.
    const mediaAtClear = caller.media.length;
    rt.sendAudio('resp_1', 'item_1', agentAudio(400, 99), 800);
    rt.error('response_cancel_not_active', 'Cancellation failed: no active response found');
    rt.error('conversation_already_has_active_response', 'Conversation already has an active response in progress: resp_1.');
    rt.responseDone('resp_1', 'cancelled');
    // A second speech_started while the agent is silent sends nothing.
    rt.speechStarted();
    // The next reply does reach the caller; everything before it was handled first (in order).
    // (0xFE never occurs in agentAudio, so these frames are told apart from the first reply's.)
    const nextReply = Buffer.alloc(800, 0xfe);
    rt.speak('resp_2', 'item_2', nextReply);
    const first = await caller.waitFor('media', (f) => Buffer.from(f.media.payload, 'base64')[0] === 0xfe);
    // The mark the bridge sends after the reply's frames: all of them are in.
    await caller.waitFor('mark', (f) => caller.received.indexOf(f) > caller.received.indexOf(first));
    expect(Buffer.concat(caller.media.slice(mediaAtClear))).toEqual(nextReply);
    expect(caller.received.filter((f) => f.event === 'clear')).toHaveLength(1);

    // Both sockets stayed open through the benign error; a round trip proves nothing else was sent.
    caller.sendMedia(callerFrames(1, 500)[0]);
    await rt.waitFor('input_audio_buffer.append', () => frameIds(rt.appendedAudio()).includes(500));
    expect(rt.received.filter((e) => e.type === 'conversation.item.truncate')).toHaveLength(1);
    expect(rt.received.filter((e) => e.type === 'response.cancel')).toHaveLength(1);
    expect(t.logs.find('realtime race reported, not fatal', { code: 'response_cancel_not_active' })).toBeDefined();
    expect(t.logs.find('realtime race reported, not fatal', { code: 'conversation_already_has_active_response' })).toBeDefined();
    expect(t.logs.find('agent state', { callSid: caller.callSid, streamSid: caller.streamSid, from: 'speaking', to: 'interrupted' })).toBeDefined();
    caller.sendStop();
    await rt.waitForClose();
  });

  it('closes the Twilio stream when the Realtime socket drops and cannot be reopened, so Twilio runs the fallback', async () => {
    const { caller, rt } = await startCall(t, mock);
    mock.acceptConnections = false;
    rt.terminate();
    const closed = await caller.waitForClose();
    mock.acceptConnections = true;
    expect(closed.code).toBe(1011);
    await t.logs.waitFor('call ended', { callSid: caller.callSid, reason: 'realtime_reopen_failed' });
    expect(t.app.get(CallRegistry).activeCalls).toBe(0);
  });
});

describe('the bridge under bad conditions', () => {
  let mock: MockRealtimeServer;
  let t: TestApp;

  beforeAll(async () => {
    mock = await MockRealtimeServer.start();
    t = await startApp({ OPENAI_API_KEY: TEST_API_KEY, OPENAI_REALTIME_URL: mock.url, SESSION_TTL_MINUTES: '5' });
  });

  afterAll(async () => {
    await t.close();
    await mock.close();
  });

  it('buffers caller audio that arrives before the Realtime socket opens and sends it in order', async () => {
    mock.holdConnections();
    const caller = await TwilioCaller.connect(t.streamUrl, { customParameters: PARAMS });
    caller.sendConnected();
    caller.sendStart();
    await mock.waitForHeldConnection();
    const early = callerFrames(30);
    for (const frame of early) caller.sendMedia(frame);
    // Frames are handled in order: once the DTMF after them is logged, all 30 have been taken in.
    caller.sendDtmf('1');
    await t.logs.waitFor('dtmf received', { callSid: caller.callSid });
    mock.releaseConnections();
    const rt = await mock.nextConnection();
    expect(await t.logs.waitFor('realtime connected', { callSid: caller.callSid })).toMatchObject({ bufferedFrames: 30 });
    await caller.startTalking(callerFrames(5, 30));
    await rt.waitFor('input_audio_buffer.append', () => rt.appendedAudio().length >= 35 * FRAME);
    expect(frameIds(rt.appendedAudio())).toEqual(Array.from({ length: 35 }, (_, k) => k));
    // session.update goes first, so the audio is read as mu-law.
    expect(rt.received[0].type).toBe('session.update');
    caller.sendStop();
    await rt.waitForClose();
  });

  it('logs and ignores malformed frames without dropping the call', async () => {
    const caller = await TwilioCaller.connect(t.streamUrl, { customParameters: PARAMS });
    caller.sendConnected();
    caller.sendMedia(callerFrames(1)[0]); // media before start
    caller.sendRaw('{not json');
    caller.sendRaw(JSON.stringify({ event: 'close', streamSid: caller.streamSid }));
    caller.sendRaw(Buffer.from([1, 2, 3]), true);
    caller.sendRaw(JSON.stringify({ event: 'media', media: { payload: 'A'.repeat(200_000), timestamp: '0' } }));
    caller.sendStart();
    const rt = await mock.nextConnection();
    await rt.waitFor('response.create');
    caller.sendMedia(callerFrames(1, 7)[0]);
    await rt.waitFor('input_audio_buffer.append');
    expect(frameIds(rt.appendedAudio())).toEqual([7]);

    const reasons = t.logs.all('ignored a malformed Twilio frame').map((l) => l.reason);
    expect(reasons).toEqual(['media before start', 'not JSON', 'unknown event close', 'binary frame', 'frame too large']);
    // Malformed Realtime events are ignored too.
    rt.send('{"type":');
    rt.send({ type: 'response.output_audio.delta', delta: 'AAAA' });
    rt.speak('resp_1', 'item_1', agentAudio(40, 3));
    await caller.waitFor('media');
    expect(t.logs.all('ignored a malformed Realtime event')).toHaveLength(2);
    caller.sendStop();
    await rt.waitForClose();
  });

  it('ends the call when the Realtime session is not in mu-law', async () => {
    const silent = await MockRealtimeServer.start({ autoSessionUpdated: false });
    await t.close();
    t = await startApp({ OPENAI_API_KEY: TEST_API_KEY, OPENAI_REALTIME_URL: silent.url, SESSION_TTL_MINUTES: '5' });
    const caller = await TwilioCaller.connect(t.streamUrl, { customParameters: PARAMS });
    caller.sendConnected();
    caller.sendStart();
    const rt = await silent.nextConnection();
    await rt.waitFor('session.update');
    rt.send({ type: 'session.updated', session: { type: 'realtime', audio: { input: { format: { type: 'audio/pcm', rate: 24000 } }, output: { format: { type: 'audio/pcm', rate: 24000 } } } } });
    expect((await caller.waitForClose()).code).toBe(1011);
    await t.logs.waitFor('call ended', { callSid: caller.callSid, reason: 'realtime_misconfigured' });
    expect(rt.received.some((e) => e.type === 'response.create')).toBe(false);
    await silent.close();
    await t.close();
    t = await startApp({ OPENAI_API_KEY: TEST_API_KEY, OPENAI_REALTIME_URL: mock.url, SESSION_TTL_MINUTES: '5' });
  });

  it('falls back when the Realtime API refuses the connection', async () => {
    mock.acceptConnections = false;
    const caller = await TwilioCaller.connect(t.streamUrl, { customParameters: PARAMS });
    caller.sendConnected();
    caller.sendStart();
    expect((await caller.waitForClose()).code).toBe(1011);
    await t.logs.waitFor('call ended', { callSid: caller.callSid, reason: 'realtime_connect_failed' });
    mock.acceptConnections = true;
  });

  it('falls back when the Realtime socket does not open in time', async () => {
    await t.close();
    t = await startApp({ OPENAI_API_KEY: TEST_API_KEY, OPENAI_REALTIME_URL: mock.url, OPENAI_CONNECT_TIMEOUT_MS: '500', SESSION_TTL_MINUTES: '5' });
    mock.holdConnections();
    const caller = await TwilioCaller.connect(t.streamUrl, { customParameters: PARAMS });
    caller.sendConnected();
    caller.sendStart();
    await mock.waitForHeldConnection();
    expect((await caller.waitForClose()).code).toBe(1011);
    const lost = await t.logs.waitFor('realtime connection lost', { callSid: caller.callSid });
    expect(lost).toMatchObject({ reason: 'connect timeout', opened: false });
    await t.logs.waitFor('call ended', { callSid: caller.callSid, reason: 'realtime_connect_failed' });
    mock.releaseConnections();
  });

  it('expires a session idle past its TTL, closing both sockets', async () => {
    const { caller, rt } = await startCall(t, mock);
    const registry = t.app.get(CallRegistry);
    expect(registry.sweepIdle()).toEqual([]);
    t.clock.skip(5 * 60_000 + 1_000);
    expect(registry.sweepIdle()).toEqual([caller.callSid]);
    expect((await caller.waitForClose()).code).toBe(1011);
    await rt.waitForClose();
    const line = await t.logs.waitFor('call idle past its TTL: ending it', { callSid: caller.callSid, ttlMinutes: 5 });
    expect(line.idleForMs).toBeGreaterThan(5 * 60_000);
    await t.logs.waitFor('call ended', { callSid: caller.callSid, reason: 'ttl_expired' });
    expect(t.app.get(CallRegistry).activeCalls).toBe(0);
  });

  it('ends the call and frees its slot when the Twilio socket drops', async () => {
    const { caller, rt } = await startCall(t, mock);
    caller.terminate();
    await rt.waitForClose();
    await t.logs.waitFor('call ended', { callSid: caller.callSid, reason: 'twilio_closed' });
    expect(t.app.get(CallRegistry).activeCalls).toBe(0);
    expect(await t.app.get(SessionStore).list()).toEqual([]);
  });
});
