import { callHarness, CALL_SID, STREAM_SID, type CallHarness } from '../../test/support/call-harness';
import { FakeCallControl } from '../../test/support/fake-call-control';
import { histogramValue, metricValue } from '../../test/support/metric-value';
import type { FakeSocket } from '../../test/support/fake-socket';
import { TwilioCallControlError } from '../twilio/twilio-call-control';
import { GOODBYE_MAX_MS, HANGUP_MAX_MS, type Call } from './call';

const MU_LAW_SESSION = { type: 'session.updated', session: { audio: { input: { format: { type: 'audio/pcmu' } }, output: { format: { type: 'audio/pcmu' } } } } };

/** Lets promise chains started by the call (tools, REST) run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function events(socket: FakeSocket, type: string): Array<Record<string, any>> {
  return socket.sent.map((s) => JSON.parse(s) as Record<string, any>).filter((e) => e.type === type);
}

/** The call started, its Realtime session open and configured; returns the Realtime socket. */
function started(h: CallHarness, parameters: Record<string, string> = { from: '+15551230000', to: '+15557650000' }): FakeSocket {
  h.twilio.receive(JSON.stringify({ event: 'start', start: { streamSid: STREAM_SID, callSid: CALL_SID, customParameters: parameters } }));
  const rt = h.connector.sockets[0];
  rt.emitOpen();
  rt.receive(JSON.stringify(MU_LAW_SESSION));
  return rt;
}

/** The model says `ms` of audio in response `id` (created, audio, done). */
function say(rt: FakeSocket, id: string, ms = 100, done = true): void {
  rt.receive(JSON.stringify({ type: 'response.created', response: { id } }));
  const delta = Buffer.alloc(ms * 8, 0x55).toString('base64');
  rt.receive(JSON.stringify({ type: 'response.output_audio.delta', response_id: id, item_id: `item_${id}`, delta }));
  rt.receive(JSON.stringify({ type: 'response.output_audio.done', response_id: id, item_id: `item_${id}` }));
  if (done) rt.receive(JSON.stringify({ type: 'response.done', response: { id, status: 'completed' } }));
}

/** Twilio has played everything sent so far: every mark echoed. */
function played(h: CallHarness): void {
  const marks = h.twilio.sent.map((s) => JSON.parse(s) as { event: string; mark?: { name: string } }).filter((f) => f.event === 'mark');
  for (const mark of marks) h.twilio.receive(JSON.stringify({ event: 'mark', streamSid: STREAM_SID, mark: mark.mark }));
}

function toolCall(rt: FakeSocket, responseId: string, callId: string, name: string): void {
  rt.receive(JSON.stringify({ type: 'response.function_call_arguments.done', response_id: responseId, call_id: callId, name, arguments: '{}' }));
}

function callOf(h: CallHarness): Call {
  if (h.call === null) throw new Error('the stream has not started');
  return h.call;
}

async function record(h: CallHarness) {
  await h.writer.drained();
  const [only] = h.records();
  return only;
}

describe('Call', () => {
  it('sends each delta whole, as the model sent it, and its mark in one corked write', () => {
    const h = callHarness();
    const rt = started(h);
    rt.receive(JSON.stringify({ type: 'response.created', response: { id: 'r1' } }));
    // 100 ms of audio: one media message and one mark, which must leave in one write.
    const delta = Buffer.alloc(800, 0x55).toString('base64');
    rt.receive(JSON.stringify({ type: 'response.output_audio.delta', response_id: 'r1', item_id: 'i1', output_index: 0, content_index: 0, delta }));

    const sent = h.twilio.sent.map((s) => JSON.parse(s) as { event: string; media?: { payload: string } });
    expect(sent.map((f) => f.event)).toEqual(['media', 'mark']);
    expect(sent[0].media?.payload).toBe(delta);
    expect(h.twilio.sentCorked).toBe(2);
    expect(h.twilio.corks).toBe(0);
  });

  it('counts what it relays and how it ended in the metrics: frames each way, a barge-in, the end', async () => {
    const h = callHarness();
    const rt = started(h);
    const metric = (name: string, labels?: Record<string, string>) => metricValue(h.metrics.registry, name, labels);
    expect(await metric('call_operator_active_calls')).toBe(1);
    say(rt, 'r1', 300, false);
    for (let ms = 0; ms < 60; ms += 20) {
      h.twilio.receive(JSON.stringify({ event: 'media', media: { track: 'inbound', timestamp: String(ms), payload: Buffer.alloc(160, 0xff).toString('base64') } }));
    }
    rt.receive(JSON.stringify({ type: 'input_audio_buffer.speech_started', audio_start_ms: 40, item_id: 'caller_1' }));
    rt.receive(JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', code: 'response_cancel_not_active', message: 'no' } }));
    h.twilio.receive(JSON.stringify({ event: 'stop' }));
    expect((await record(h)).endReason).toBe('twilio_stop');

    expect(await metric('call_operator_media_messages_total', { direction: 'caller_to_model' })).toBe(3);
    expect(await metric('call_operator_media_messages_total', { direction: 'model_to_caller' })).toBe(1);
    expect(await metric('call_operator_barge_ins_total')).toBe(1);
    expect(await metric('call_operator_realtime_errors_total', { code: 'response_cancel_not_active' })).toBe(1);
    expect(await metric('call_operator_active_calls')).toBe(0);
    expect(await metric('call_operator_calls_ended_total', { status: 'completed', reason: 'twilio_stop' })).toBe(1);
    // No phone numbers or call ids in any label.
    expect(await h.metrics.registry.metrics()).not.toMatch(/CA[0-9a-f]{32}|\+1555/);
  });

  it("times the agent's first audio and its reply to a caller's turn on the call's clock, and counts the truncation", async () => {
    const h = callHarness();
    h.clock.advance(1_000); // the call is built now
    const rt = started(h);
    h.clock.advance(700);
    say(rt, 'greeting', 300, false);
    h.clock.advance(100);
    // The caller talks over the greeting: barge-in, truncate, and no reply timed yet.
    rt.receive(JSON.stringify({ type: 'input_audio_buffer.speech_started', audio_start_ms: 40, item_id: 'caller_1' }));
    h.clock.advance(1_200);
    rt.receive(JSON.stringify({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: 1_240, item_id: 'caller_1' }));
    h.clock.advance(450);
    say(rt, 'reply', 200, false);
    h.clock.advance(100);
    say(rt, 'reply', 200);

    expect(await histogramValue(h.metrics.registry, 'call_operator_first_audio_seconds')).toEqual({ count: 1, sum: 0.7 });
    expect(await histogramValue(h.metrics.registry, 'call_operator_response_latency_seconds')).toEqual({ count: 1, sum: 0.45 });
    expect(await metricValue(h.metrics.registry, 'call_operator_truncations_total')).toBe(1);
    expect(events(rt, 'conversation.item.truncate')).toHaveLength(1);
  });

  it('ignores an audio delta that is not base64: nothing of it reaches Twilio', () => {
    const h = callHarness();
    const rt = started(h);
    rt.receive(JSON.stringify({ type: 'response.created', response: { id: 'r1' } }));
    rt.receive(JSON.stringify({ type: 'response.output_audio.delta', response_id: 'r1', item_id: 'i1', delta: 'AAAA"}},{"event":"clear' }));
    expect(h.twilio.sent).toEqual([]);
    expect(h.logs.find((l) => l.msg === 'ignored a malformed Realtime event')).toMatchObject({ reason: 'response.output_audio.delta with a delta that is not base64' });
  });

  it("speaks for the business of its profile: the session's instructions and voice, the greeting, the record's profile", async () => {
    const h = callHarness({ OPERATOR_COMPANY_NAME: 'Drip Fixers', OPENAI_VOICE: 'verse', OPERATOR_GREETING: 'Drip Fixers, how can I help?' });
    const rt = started(h);
    const [update] = events(rt, 'session.update');
    expect(update.session.audio.output.voice).toBe('verse');
    expect(update.session.instructions).toContain('Drip Fixers');
    const [greeting] = events(rt, 'response.create');
    expect(greeting.response.instructions).toContain('Drip Fixers, how can I help?');
    h.twilio.peerClose();
    expect(await record(h)).toMatchObject({ callSid: CALL_SID, profile: 'default', status: 'completed', endReason: 'twilio_closed' });
  });

  it('asks for a follow-up once the response that called a tool is done', async () => {
    const h = callHarness();
    const rt = started(h);
    say(rt, 'r1', 100, false);
    toolCall(rt, 'r1', 'c1', 'note');
    await settle();
    expect(events(rt, 'conversation.item.create')).toHaveLength(0);
    rt.receive(JSON.stringify({ type: 'response.done', response: { id: 'r1', status: 'completed' } }));
    expect(events(rt, 'conversation.item.create').map((e) => e.item.call_id)).toEqual(['c1']);
    // The greeting, then the follow-up.
    expect(events(rt, 'response.create')).toHaveLength(2);
  });

  it('asks the model for nothing more once a tool has hung up the call', async () => {
    const h = callHarness();
    const rt = started(h);
    say(rt, 'r1', 100, false);
    toolCall(rt, 'r1', 'c_hang', 'hang_up');
    rt.receive(JSON.stringify({ type: 'response.done', response: { id: 'r1', status: 'completed' } }));
    const creates = events(rt, 'response.create').length;
    // The goodbye plays, the tool acts and returns its result...
    played(h);
    await h.writer.drained();
    await settle();
    expect(h.logs.find((l) => l.msg === 'tool finished')).toMatchObject({ callId: 'c_hang', ok: true });
    // ...which goes nowhere: a reply nobody would hear is not asked for.
    expect(events(rt, 'conversation.item.create')).toEqual([]);
    expect(events(rt, 'response.create')).toHaveLength(creates);
    h.twilio.receive(JSON.stringify({ event: 'stop' }));
    expect(await record(h)).toMatchObject({ status: 'completed', endReason: 'hangup' });
  });

  it('answers the model again when a transfer failed and was taken back', async () => {
    const h = callHarness();
    const rt = started(h);
    const context = callOf(h)['tools']['context'];
    say(rt, 'r1', 100, false);
    context.call.markOutcome('transferred');
    context.call.markOutcome(null);
    toolCall(rt, 'r1', 'c_note', 'note');
    await settle();
    rt.receive(JSON.stringify({ type: 'response.done', response: { id: 'r1', status: 'completed' } }));
    expect(events(rt, 'conversation.item.create').map((e) => e.item.call_id)).toEqual(['c_note']);
  });

  describe('shutdown', () => {
    function shutdownHarness(available = true) {
      const control = new FakeCallControl(available);
      const h = callHarness({}, { control });
      // Twilio stops the stream of a call hung up over REST.
      control.onHangUp = () => h.twilio.receive(JSON.stringify({ event: 'stop' }));
      return { h, control };
    }

    it('has the agent say the goodbye, then hangs up over REST once it has played', async () => {
      const { h, control } = shutdownHarness();
      const rt = started(h);
      say(rt, 'greeting');
      played(h);
      const ended = callOf(h).endWithGoodbye();
      const goodbye = events(rt, 'response.create').at(-1);
      expect(goodbye?.response).toMatchObject({ tool_choice: 'none' });
      expect(goodbye?.response.instructions).toContain("I'm sorry, I have to end this call now.");
      say(rt, 'bye');
      await settle();
      expect(control.hungUp).toEqual([]);
      played(h);
      await ended;
      expect(control.hungUp).toEqual([CALL_SID]);
      expect(await record(h)).toMatchObject({ status: 'completed', endReason: 'shutdown' });
    });

    it('waits for the response in progress before asking for the goodbye', () => {
      const { h } = shutdownHarness();
      const rt = started(h);
      say(rt, 'greeting', 100, false);
      const before = events(rt, 'response.create').length;
      void callOf(h).endWithGoodbye();
      expect(events(rt, 'response.create')).toHaveLength(before);
      rt.receive(JSON.stringify({ type: 'response.done', response: { id: 'greeting', status: 'completed' } }));
      expect(events(rt, 'response.create')).toHaveLength(before + 1);
    });

    it('hangs up anyway when the goodbye has not played in time', async () => {
      const { h, control } = shutdownHarness();
      started(h);
      const ended = callOf(h).endWithGoodbye();
      h.scheduler.advance(GOODBYE_MAX_MS - 1);
      await settle();
      expect(control.hungUp).toEqual([]);
      h.scheduler.advance(1);
      await ended;
      expect(control.hungUp).toEqual([CALL_SID]);
    });

    it('leaves a call that is already being hung up to its own bound', async () => {
      const { h, control } = shutdownHarness();
      control.onHangUp = () => undefined;
      started(h);
      // A silent caller's goodbye has played and the hang-up was sent; Twilio has not stopped the stream yet.
      callOf(h)['depart']('caller_silent');
      await settle();
      const ended = callOf(h).endWithGoodbye();
      h.scheduler.advance(HANGUP_MAX_MS);
      await ended;
      expect(control.hungUp).toEqual([CALL_SID]);
      expect(h.twilio.closedWith).toEqual({ code: 1000, reason: 'caller_silent' });
    });

    it('hangs up at once when no Realtime session is open to say goodbye', async () => {
      const { h, control } = shutdownHarness();
      h.twilio.receive(JSON.stringify({ event: 'start', start: { streamSid: STREAM_SID, callSid: CALL_SID, customParameters: {} } }));
      await callOf(h).endWithGoodbye();
      expect(control.hungUp).toEqual([CALL_SID]);
    });

    it('closes the stream itself when Twilio never stops it, when the hang-up fails, and without REST credentials', async () => {
      let { h, control } = shutdownHarness();
      control.onHangUp = () => undefined;
      started(h);
      let ended = callOf(h).endWithGoodbye();
      h.scheduler.advance(GOODBYE_MAX_MS);
      await settle();
      h.scheduler.advance(HANGUP_MAX_MS - 1);
      expect(h.twilio.closedWith).toBeNull();
      h.scheduler.advance(1);
      await ended;
      expect(h.twilio.closedWith).toEqual({ code: 1000, reason: 'shutdown' });

      ({ h, control } = shutdownHarness());
      control.failure = new TwilioCallControlError('Twilio hang up of call failed: HTTP 500');
      started(h);
      ended = callOf(h).endWithGoodbye();
      h.scheduler.advance(GOODBYE_MAX_MS);
      await ended;
      expect(h.twilio.closedWith).toEqual({ code: 1000, reason: 'shutdown' });
      expect(h.logs.find((l) => l.msg === 'hang-up failed; closing the stream')).toBeDefined();

      ({ h, control } = shutdownHarness(false));
      const rt = started(h);
      say(rt, 'greeting');
      played(h);
      ended = callOf(h).endWithGoodbye();
      say(rt, 'bye');
      played(h);
      await ended;
      expect(control.hungUp).toEqual([]);
      expect(h.twilio.closedWith).toEqual({ code: 1000, reason: 'shutdown' });
      expect(await record(h)).toMatchObject({ status: 'completed', endReason: 'shutdown' });
    });
  });

  describe('a silent caller', () => {
    const frame = (h: CallHarness, ms: number) =>
      h.twilio.receive(JSON.stringify({ event: 'media', media: { track: 'inbound', timestamp: String(ms), payload: Buffer.alloc(160, 0xff).toString('base64') } }));
    /** Caller frames every 20 ms for `ms`, time moving with them. */
    const silence = (h: CallHarness, fromMs: number, ms: number) => {
      for (let t = fromMs; t < fromMs + ms; t += 20) {
        h.scheduler.advance(20);
        frame(h, t);
      }
      return fromMs + ms;
    };

    it('is asked whether they are there, then said goodbye to and hung up on, over the same path as shutdown', async () => {
      const control = new FakeCallControl();
      const h = callHarness({ SILENCE_PROMPT_SECONDS: '5' }, { control });
      control.onHangUp = () => h.twilio.receive(JSON.stringify({ event: 'stop' }));
      const rt = started(h);
      say(rt, 'greeting');
      played(h);
      let t = silence(h, 0, 5_020);
      expect(events(rt, 'response.create').at(-1)?.response.instructions).toContain('still there');
      say(rt, 'ask');
      played(h);
      t = silence(h, t, 5_020);
      expect(events(rt, 'response.create').at(-1)?.response.instructions).toContain('goodbye');
      say(rt, 'goodbye');
      await settle();
      expect(control.hungUp).toEqual([]);
      played(h);
      await settle();
      expect(control.hungUp).toEqual([CALL_SID]);
      expect(h.logs.find((l) => l.msg === 'goodbye played; ending the call')).toMatchObject({ departure: 'caller_silent', restHangUp: true });
      expect(await record(h)).toMatchObject({ status: 'completed', endReason: 'caller_silent' });
      expect(t).toBeGreaterThan(10_000);
    });

    it('is not hung up on after speaking up during the goodbye, nor when its deadline passes', async () => {
      const control = new FakeCallControl();
      const h = callHarness({ SILENCE_PROMPT_SECONDS: '5' }, { control });
      const rt = started(h);
      say(rt, 'greeting');
      played(h);
      let t = silence(h, 0, 5_020);
      say(rt, 'ask');
      played(h);
      t = silence(h, t, 5_020);
      say(rt, 'goodbye', 100, false);
      rt.receive(JSON.stringify({ type: 'input_audio_buffer.speech_started', audio_start_ms: t, item_id: 'caller_1' }));
      rt.receive(JSON.stringify({ type: 'response.done', response: { id: 'goodbye', status: 'cancelled' } }));
      silence(h, t, GOODBYE_MAX_MS + 1_000);
      await settle();
      expect(control.hungUp).toEqual([]);
      expect(h.twilio.closedWith).toBeNull();
    });
  });

  it('is ended by the registry once Twilio has been silent past the TTL, and not before', async () => {
    const h = callHarness({ SESSION_TTL_MINUTES: '5' });
    started(h);
    h.scheduler.advance(5 * 60_000);
    expect(h.registry.sweepIdle()).toEqual([]);
    h.scheduler.advance(1);
    expect(h.registry.sweepIdle()).toEqual([CALL_SID]);
    expect(h.twilio.closedWith).toEqual({ code: 1011, reason: 'ttl_expired' });
    expect(await record(h)).toMatchObject({ status: 'failed', endReason: 'ttl_expired' });
    expect(await h.sessions.list()).toEqual([]);
  });

  describe("an operator's commands", () => {
    function operated(env: Record<string, string> = {}, available = true) {
      const control = new FakeCallControl(available);
      const h = callHarness(env, { control });
      // Twilio stops the stream of a call hung up or transferred over REST.
      control.onHangUp = () => h.twilio.receive(JSON.stringify({ event: 'stop' }));
      const rt = started(h);
      say(rt, 'greeting');
      played(h);
      return { h, control, rt, call: callOf(h) };
    }

    it('hangs up over REST at once, and the record says an operator did', async () => {
      const { h, control, call } = operated();
      expect(await call.command({ action: 'hangup' })).toEqual({ status: 200, body: { hungUp: true } });
      expect(control.hungUp).toEqual([CALL_SID]);
      expect(h.twilio.closedWith).toEqual({ code: 1000, reason: 'twilio_stop' });
      const r = await record(h);
      expect(r).toMatchObject({ status: 'completed', endReason: 'hangup' });
      expect(r.details.operatorCommands).toEqual([{ action: 'hangup', at: expect.any(Number) }]);
      expect(await call.command({ action: 'hangup' })).toEqual({ status: 404, body: { message: 'The call has ended.' } });
    });

    it("transfers to the number given, or else the line's transfer number; with neither it cannot", async () => {
      let { control, call } = operated({ OPERATOR_TRANSFER_NUMBER: '+15550001111' });
      expect(await call.command({ action: 'transfer', to: '+15552223333' })).toEqual({ status: 200, body: { transferredTo: '+15552223333' } });
      expect(control.transfers).toEqual([{ callSid: CALL_SID, to: '+15552223333' }]);
      expect((await call.command({ action: 'hangup' })).status).toBe(409);

      ({ control, call } = operated({ OPERATOR_TRANSFER_NUMBER: '+15550001111' }));
      expect(await call.command({ action: 'transfer' })).toEqual({ status: 200, body: { transferredTo: '+15550001111' } });
      expect(control.transfers).toEqual([{ callSid: CALL_SID, to: '+15550001111' }]);

      ({ control, call } = operated());
      expect((await call.command({ action: 'transfer' })).status).toBe(409);
      expect(control.transfers).toEqual([]);
    });

    it('answers 502 when Twilio refuses, and the call goes on with the agent', async () => {
      const { h, control, rt, call } = operated();
      control.failure = new TwilioCallControlError('Twilio hang up of call failed: HTTP 500');
      expect(await call.command({ action: 'hangup' })).toEqual({ status: 502, body: { message: 'Twilio refused: Twilio hang up of call failed: HTTP 500' } });
      expect(h.twilio.closedWith).toBeNull();
      // It can still be spoken to, and hung up once Twilio answers again.
      expect((await call.command({ action: 'say', text: 'One moment please.', mode: 'sentence' })).status).toBe(200);
      expect(events(rt, 'response.create').at(-1)?.response.instructions).toContain('One moment please.');
    });

    it('cannot hang up or transfer without REST credentials (409), but can speak', async () => {
      const { call, control } = operated({}, false);
      expect((await call.command({ action: 'hangup' })).status).toBe(409);
      expect((await call.command({ action: 'transfer', to: '+15552223333' })).status).toBe(409);
      expect(control.hungUp).toEqual([]);
      expect((await call.command({ action: 'say', text: 'Hello', mode: 'sentence' })).status).toBe(200);
    });

    it('says a sentence as written, or follows an instruction: now when the agent is quiet, else after what it is saying', async () => {
      const { rt, call } = operated();
      expect(await call.command({ action: 'say', text: 'Our plumber is on the way.', mode: 'sentence' })).toEqual({ status: 200, body: { said: 'now', waiting: 0 } });
      const sentence = events(rt, 'response.create').at(-1)!.response;
      expect(sentence).toEqual({ instructions: 'Say exactly this to the caller now, then carry on with the call as before: "Our plumber is on the way."', tool_choice: 'none' });

      expect(await call.command({ action: 'say', text: 'Ask whether they have a shut-off valve.', mode: 'instruction' })).toEqual({
        status: 200,
        body: { said: 'next', waiting: 1 },
      });
      const before = events(rt, 'response.create').length;
      say(rt, 'r_sentence');
      expect(events(rt, 'response.create')).toHaveLength(before + 1);
      expect(events(rt, 'response.create').at(-1)!.response).toEqual({ instructions: 'Ask whether they have a shut-off valve.' });
    });

    it('takes no message once the agent is saying goodbye, and nothing once the call is being hung up (409)', async () => {
      const { h, control, call } = operated();
      control.onHangUp = () => undefined;
      void call.endWithGoodbye();
      expect((await call.command({ action: 'say', text: 'x', mode: 'sentence' })).status).toBe(409);
      expect(await call.command({ action: 'hangup' })).toEqual({ status: 200, body: { hungUp: true } });
      expect((await call.command({ action: 'transfer', to: '+15552223333' })).status).toBe(409);
      expect((await call.command({ action: 'hangup' })).status).toBe(409);
      expect(control.hungUp).toEqual([CALL_SID]);
      expect(h.twilio.closedWith).toBeNull();
    });
  });
});
