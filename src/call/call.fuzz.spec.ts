import fc from 'fast-check';
import WebSocket from 'ws';
import { callHarness as harness, CALL_SID, STREAM_SID, type CallHarness as Harness } from '../../test/support/call-harness';
import type { FakeSocket } from '../../test/support/fake-socket';
import { parseRealtimeEvent } from '../realtime/realtime-protocol';
import { parseTwilioFrame } from '../twilio/twilio-protocol';

/**
 * Property-based tests: a media stream connection (its handshake, then its Call) driven by random, malformed and out-of-order Twilio frames
 * and Realtime events, interleaved with clock advances, socket opens and closes. Whatever comes,
 * no handler throws, no promise is rejected unhandled, the agent state is always a possible one,
 * and the call ends leaving nothing behind.
 */

// ---- generators ------------------------------------------------------------------------------

const responseId = fc.constantFrom('r1', 'r2', 'r3');
const itemId = fc.constantFrom('i1', 'i2', 'i3');
const base64Audio = fc.uint8Array({ maxLength: 700 }).map((b) => Buffer.from(b).toString('base64'));
const anyJson = fc.jsonValue({ maxDepth: 3 });

/** A JSON text, a copy of it cut short, or the value under a wrong type. */
const mangled = (valid: fc.Arbitrary<object>): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 6, arbitrary: valid.map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: fc.tuple(valid, fc.nat()).map(([v, n]) => JSON.stringify(v).slice(0, n % JSON.stringify(v).length)) },
  );

const w = <T>(weight: number, arbitrary: fc.Arbitrary<T>) => ({ weight, arbitrary });

const twilioText: fc.Arbitrary<string> = fc.oneof(
  w(1, fc.constant(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }))),
  w(1, mangled(
    fc.record({
      event: fc.constant('start'),
      start: fc.record({
        streamSid: fc.constantFrom(STREAM_SID, 'MZbad'),
        callSid: fc.constantFrom(CALL_SID, CALL_SID, 'CAnot-a-sid', 'XX' + 'c'.repeat(32)),
        accountSid: fc.constant('AC' + 'd'.repeat(32)),
        customParameters: fc.dictionary(fc.constantFrom('from', 'to', 'direction', 'x'), fc.oneof(fc.string(), anyJson)),
        mediaFormat: fc.record({ encoding: fc.constantFrom('audio/x-mulaw', 'audio/l16'), sampleRate: fc.constant(8000), channels: fc.constant(1) }),
      }),
    }),
  )),
  w(8, mangled(
    fc.record({
      event: fc.constant('media'),
      media: fc.record({
        track: fc.constantFrom('inbound', 'outbound', undefined),
        timestamp: fc.oneof(fc.nat({ max: 600_000 }).map(String), fc.constantFrom('-20', 'NaN', ''), fc.double()),
        payload: fc.oneof(base64Audio, fc.string()),
      }),
    }),
  )),
  w(2, mangled(fc.record({ event: fc.constant('mark'), mark: fc.record({ name: fc.oneof(fc.string(), fc.constantFrom('0:1', '1:2', '0:3')) }) }))),
  w(1, fc.constant(JSON.stringify({ event: 'stop', stop: {} }))),
  w(1, mangled(fc.record({ event: fc.constant('dtmf'), dtmf: fc.record({ digit: fc.string({ maxLength: 2 }) }) }))),
  w(2, mangled(fc.record({ event: fc.oneof(anyJson, fc.string()), media: anyJson, start: anyJson, mark: anyJson }))),
  w(1, fc.string()),
  w(1, fc.constant('{"event":"media","media":{"payload":"' + 'A'.repeat(40_000) + '"}}')),
);

const realtimeEvent: fc.Arbitrary<object> = fc.oneof(
  w(4, fc.record({ type: fc.constant('response.created'), response: fc.record({ id: responseId }) })),
  w(8, fc.record({ type: fc.constantFrom('response.output_audio.delta', 'response.audio.delta'), response_id: responseId, item_id: itemId, delta: base64Audio })),
  w(3, fc.record({ type: fc.constant('input_audio_buffer.speech_started'), audio_start_ms: fc.oneof(fc.nat(), fc.double()), item_id: fc.option(itemId, { nil: undefined }) })),
  w(3, fc.record({
    type: fc.constant('response.function_call_arguments.done'),
    response_id: responseId,
    call_id: fc.string({ maxLength: 8 }),
    name: fc.constantFrom('note', 'hang_up', 'no_such_tool'),
    arguments: fc.oneof(fc.constant('{}'), fc.string()),
  })),
  fc.record({ type: fc.constant('response.done'), response: fc.record({ id: responseId, status: fc.constantFrom('completed', 'cancelled'), usage: fc.constant({ total_tokens: 3 }) }) }),
  fc.record({ type: fc.constantFrom('response.output_audio.done', 'response.audio.done'), response_id: responseId, item_id: itemId }),
  fc.record({ type: fc.constant('response.output_audio_transcript.delta'), response_id: responseId, item_id: itemId, delta: fc.string() }),
  fc.record({ type: fc.constant('response.output_audio_transcript.done'), response_id: responseId, item_id: itemId, transcript: fc.string() }),
  fc.record({ type: fc.constant('input_audio_buffer.speech_stopped'), audio_end_ms: fc.nat(), item_id: itemId }),
  fc.record({ type: fc.constant('conversation.item.input_audio_transcription.completed'), item_id: itemId, transcript: fc.string() }),
  fc.record({
    type: fc.constantFrom('session.updated', 'session.created'),
    session: fc.oneof(
      fc.constant({ audio: { input: { format: { type: 'audio/pcmu' } }, output: { format: { type: 'audio/pcmu' } } } }),
      fc.constant({ input_audio_format: 'g711_ulaw', output_audio_format: 'pcm16' }),
      anyJson,
    ),
  }),
  fc.record({ type: fc.constant('error'), error: fc.record({ code: fc.constantFrom('response_cancel_not_active', 'invalid_value', 7), message: fc.string() }) }),
  fc.record({ type: fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('__proto__', 'constructor', 'toString')), response: anyJson, item_id: anyJson }),
);

const realtimeText: fc.Arbitrary<string> = fc.oneof(w(12, mangled(realtimeEvent)), w(1, fc.string()));

type Action =
  | { kind: 'twilio'; text: string }
  | { kind: 'twilioBinary'; bytes: Uint8Array }
  | { kind: 'echoMark'; pick: number }
  | { kind: 'realtime'; text: string }
  | { kind: 'realtimeBinary' }
  | { kind: 'realtimeOpen' }
  | { kind: 'advance'; ms: number }
  | { kind: 'settle' }
  | { kind: 'twilioClose'; code: number }
  | { kind: 'realtimeClose'; code: number };

const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 16, arbitrary: twilioText.map((text) => ({ kind: 'twilio' as const, text })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => ({ kind: 'twilioBinary' as const, bytes })) },
  { weight: 8, arbitrary: fc.nat().map((pick) => ({ kind: 'echoMark' as const, pick })) },
  { weight: 24, arbitrary: realtimeText.map((text) => ({ kind: 'realtime' as const, text })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'realtimeBinary' as const }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'realtimeOpen' as const }) },
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 3_000 }).map((ms) => ({ kind: 'advance' as const, ms })) },
  { weight: 2, arbitrary: fc.constant({ kind: 'settle' as const }) },
  { weight: 1, arbitrary: fc.constantFrom(1000, 1001, 1006, 1011).map((code) => ({ kind: 'twilioClose' as const, code })) },
  { weight: 1, arbitrary: fc.constantFrom(1000, 1006, 1011, 4000).map((code) => ({ kind: 'realtimeClose' as const, code })) },
);

/** The start frames and an open Realtime socket come first often enough to reach deep states. */
const prologue = fc.nat({ max: 4 }).map((n) => n > 0).map((full): Action[] =>
  full
    ? [
        { kind: 'twilio', text: JSON.stringify({ event: 'connected' }) },
        { kind: 'twilio', text: JSON.stringify({ event: 'start', start: { streamSid: STREAM_SID, callSid: CALL_SID, customParameters: { from: '+15551230000' } } }) },
        { kind: 'realtimeOpen' },
        { kind: 'realtime', text: JSON.stringify({ type: 'session.updated', session: { audio: { input: { format: { type: 'audio/pcmu' } }, output: { format: { type: 'audio/pcmu' } } } } }) },
      ]
    : [],
);

// ---- driving and checking ----------------------------------------------------------------------

/** Lets promise chains started by the call (tools, store writes) run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function sentMarks(socket: FakeSocket): string[] {
  const names: string[] = [];
  for (const frame of socket.sent) {
    const parsed = JSON.parse(frame) as { event: string; mark?: { name: string } };
    if (parsed.event === 'mark' && parsed.mark) names.push(parsed.mark.name);
  }
  return names;
}

async function apply(h: Harness, a: Action): Promise<void> {
  const rt = h.connector.sockets[h.connector.sockets.length - 1];
  switch (a.kind) {
    case 'twilio':
      return h.twilio.receive(a.text);
    case 'twilioBinary':
      return h.twilio.receive(Buffer.from(a.bytes), true);
    case 'echoMark': {
      const marks = sentMarks(h.twilio);
      if (marks.length > 0) h.twilio.receive(JSON.stringify({ event: 'mark', streamSid: STREAM_SID, mark: { name: marks[a.pick % marks.length] } }));
      return;
    }
    case 'realtime':
      return rt?.receive(a.text);
    case 'realtimeBinary':
      return rt?.receive(Buffer.from([0, 1, 2]), true);
    case 'realtimeOpen':
      return rt?.emitOpen();
    case 'advance':
      return h.scheduler.advance(a.ms);
    case 'settle':
      return settle();
    case 'twilioClose':
      return h.twilio.peerClose(a.code);
    case 'realtimeClose':
      return rt?.peerClose(a.code);
  }
}

/**
 * The agent states that can exist, in terms of the state machine's own facts:
 * - speaking exactly while agent audio is pending at Twilio (marks not yet echoed);
 * - responding / interrupted only with a response in progress and nothing pending;
 * - listening with no response and nothing pending;
 * - once the call has ended: state ended, no response, nothing pending, and nothing more sent;
 * - tool outputs waiting never exceed the bound on pending tool calls.
 */
function checkState(h: Harness): void {
  const call = h.call;
  if (call === null) return;
  const machine = call['parts'].machine;
  const ended = call['ended'];
  const { state, hasPendingAudio, activeResponse } = machine;
  expect(state === 'ended').toBe(ended);
  expect(state === 'speaking').toBe(!ended && hasPendingAudio);
  if (state === 'responding' || state === 'interrupted') expect(activeResponse).not.toBeNull();
  if (state === 'listening') expect(activeResponse).toBeNull();
  if (ended) {
    expect(activeResponse).toBeNull();
    expect(hasPendingAudio).toBe(false);
  }
  const running = call['tools'].runningCount;
  expect(running).toBeGreaterThanOrEqual(0);
  expect(running + call['sequencer'].pendingOutputs).toBeLessThanOrEqual(16);
}

/** Every frame to Twilio is well-formed JSON for this stream; every media payload is non-empty base64. */
function checkOutboundFrames(socket: FakeSocket): void {
  for (const frame of socket.sent) {
    const parsed = JSON.parse(frame) as { event: string; streamSid: string; media?: { payload: string } };
    expect(parsed.streamSid).toBe(STREAM_SID);
    if (parsed.event !== 'media') continue;
    const payload = parsed.media?.payload ?? '';
    expect(payload).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
    expect(payload.length % 4).toBe(0);
  }
}

async function run(actions: Action[]): Promise<void> {
  const h = harness({ LOG_LEVEL: 'silent' });
  let sentAtEnd: { twilio: number; realtime: number } | null = null;
  for (const a of actions) {
    await apply(h, a);
    checkState(h);
    const rt = h.connector.sockets[0];
    if (h.call?.['ended'] === true) {
      // Nothing is even attempted on either side once the call is over.
      const attempts = { twilio: h.twilio.sent.length + h.twilio.sentWhileClosed, realtime: rt ? rt.sent.length + rt.sentWhileClosed : 0 };
      sentAtEnd ??= attempts;
      expect(attempts).toEqual(sentAtEnd);
    }
  }
  // However the sequence ended, Twilio hangs up in the end.
  h.twilio.peerClose(1000);
  checkState(h);
  for (let i = 0; i < 3; i++) await settle();
  await h.writer.drained();

  if (h.call !== null) expect(h.call['ended']).toBe(true);
  expect(h.registry.activeCalls).toBe(0);
  expect(await h.sessions.list()).toEqual([]);
  expect(h.twilio.readyState).toBe(WebSocket.CLOSED);
  // The first socket, its connect retry, and one reopen after a drop (at most one per 10 minutes,
  // far more than a run's clock advances); no run gets near the session cap's rollover.
  expect(h.connector.sockets.length).toBeLessThanOrEqual(3);
  // The call closed the Realtime socket itself (or the server did): nothing is left open.
  for (const rt of h.connector.sockets) expect(rt.readyState === WebSocket.CLOSING || rt.readyState === WebSocket.CLOSED).toBe(true);
  checkOutboundFrames(h.twilio);
}

describe('A call under random and malformed input', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => void unhandled.push(reason);
  beforeAll(() => process.on('unhandledRejection', onUnhandled));
  afterAll(() => process.off('unhandledRejection', onUnhandled));

  it('never throws, stays in a possible state and cleans up after itself', async () => {
    await fc.assert(
      fc.asyncProperty(prologue, fc.array(action, { minLength: 10, maxLength: 80, size: 'max' }), async (start, actions) => {
        await run([...start, ...actions]);
      }),
      { numRuns: 150 },
    );
    await settle();
    expect(unhandled).toEqual([]);
  });
});

describe('the wire parsers', () => {
  it('parseTwilioFrame never throws and returns well-typed frames', () => {
    fc.assert(
      fc.property(fc.oneof(twilioText, fc.string(), anyJson.map((v) => JSON.stringify(v))), (text) => {
        const frame = parseTwilioFrame(text);
        switch (frame.event) {
          case 'media':
            expect(typeof frame.payload).toBe('string');
            expect(Number.isFinite(frame.timestamp) && frame.timestamp >= 0).toBe(true);
            break;
          case 'start':
            expect(frame.streamSid).toMatch(/^MZ/);
            expect(Object.values(frame.customParameters).every((v) => typeof v === 'string')).toBe(true);
            break;
          case 'mark':
            expect(typeof frame.name).toBe('string');
            break;
          case 'invalid':
            expect(typeof frame.reason).toBe('string');
            break;
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('parseRealtimeEvent never throws and returns well-typed events', () => {
    fc.assert(
      fc.property(fc.oneof(realtimeText, fc.string(), anyJson.map((v) => JSON.stringify(v))), (text) => {
        const event = parseRealtimeEvent(text);
        expect(typeof event.type).toBe('string');
        if ('responseId' in event) expect(typeof event.responseId).toBe('string');
        if ('itemId' in event && event.type !== 'input_audio_buffer.speech_started' && event.type !== 'input_audio_buffer.speech_stopped') {
          expect(typeof event.itemId).toBe('string');
        }
        if ('delta' in event) expect(typeof event.delta).toBe('string');
        if ('audioStartMs' in event) expect(Number.isFinite(event.audioStartMs)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
