import fc from 'fast-check';
import {
  appendAudioFrame,
  buildCancel,
  buildFunctionOutput,
  buildGoodbye,
  buildGreeting,
  buildInstructedResponse,
  buildResponseCreate,
  buildSessionUpdate,
  buildTruncate,
  isMuLaw,
  parseRealtimeEvent,
  type FunctionTool,
  type RealtimeClientEvent,
  type SessionSettings,
} from './realtime-protocol';

const settings: SessionSettings = {
  model: 'gpt-realtime',
  instructions: 'Be brief.',
  voice: 'alloy',
  transcriptionModel: 'gpt-4o-mini-transcribe',
  vad: { threshold: 0.5, prefixPaddingMs: 300, silenceDurationMs: 500 },
};

describe('parseRealtimeEvent', () => {
  const ids = { response_id: 'resp_1', item_id: 'item_1', output_index: 0, content_index: 0 };

  it.each([
    ['GA', 'response.output_audio.delta'],
    ['beta', 'response.audio.delta'],
  ])('normalises the %s audio delta', (_shape, type) => {
    expect(parseRealtimeEvent(JSON.stringify({ type, ...ids, delta: '//8=' }))).toEqual({
      type: 'response.output_audio.delta',
      responseId: 'resp_1',
      itemId: 'item_1',
      delta: '//8=',
    });
  });

  it.each([
    ['a quote that would break out of a Twilio frame', 'AAAA"}}'],
    ['a backslash', 'AA\\A'],
    ['a length that is not a multiple of 4', '//8'],
    ['characters outside base64', '@@@@'],
  ])('refuses an audio delta with %s: it is passed on to Twilio as it comes', (_what, delta) => {
    expect(parseRealtimeEvent(JSON.stringify({ type: 'response.output_audio.delta', ...ids, delta }))).toEqual({
      type: 'invalid',
      reason: 'response.output_audio.delta with a delta that is not base64',
    });
  });

  it.each([
    ['response.output_audio.done', 'response.audio.done'],
    ['response.output_audio_transcript.delta', 'response.audio_transcript.delta'],
    ['response.output_audio_transcript.done', 'response.audio_transcript.done'],
  ])('reads %s and its beta twin %s as the same event', (ga, beta) => {
    const a = parseRealtimeEvent(JSON.stringify({ type: ga, ...ids, transcript: 'hi', delta: 'h' }));
    const b = parseRealtimeEvent(JSON.stringify({ type: beta, ...ids, transcript: 'hi', delta: 'h' }));
    expect(a.type).toBe(ga);
    expect(b).toEqual(a);
  });

  it('reads the audio formats of session.updated in both shapes', () => {
    const ga = parseRealtimeEvent(
      JSON.stringify({ type: 'session.updated', session: { audio: { input: { format: { type: 'audio/pcmu' } }, output: { format: { type: 'audio/pcm', rate: 24000 } } } } }),
    );
    expect(ga).toEqual({ type: 'session.updated', inputFormat: 'audio/pcmu', outputFormat: 'audio/pcm' });
    const beta = parseRealtimeEvent(
      JSON.stringify({ type: 'session.updated', session: { input_audio_format: 'g711_ulaw', output_audio_format: 'g711_ulaw' } }),
    );
    expect(beta).toEqual({ type: 'session.updated', inputFormat: 'g711_ulaw', outputFormat: 'g711_ulaw' });
    expect(isMuLaw('audio/pcmu') && isMuLaw('g711_ulaw') && !isMuLaw('audio/pcm') && !isMuLaw(undefined)).toBe(true);
  });

  it('reads response lifecycle, speech and error events', () => {
    expect(parseRealtimeEvent('{"type":"response.created","response":{"id":"r1","status":"in_progress"}}')).toEqual({ type: 'response.created', responseId: 'r1' });
    expect(parseRealtimeEvent('{"type":"response.done","response":{"id":"r1","status":"cancelled","usage":{"total_tokens":3}}}')).toEqual({
      type: 'response.done',
      responseId: 'r1',
      status: 'cancelled',
      usage: { total_tokens: 3 },
    });
    expect(parseRealtimeEvent('{"type":"input_audio_buffer.speech_started","audio_start_ms":1200,"item_id":"u1"}')).toEqual({
      type: 'input_audio_buffer.speech_started',
      audioStartMs: 1200,
      itemId: 'u1',
    });
    expect(parseRealtimeEvent('{"type":"error","error":{"type":"invalid_request_error","code":"response_cancel_not_active","message":"no","event_id":null}}')).toEqual({
      type: 'error',
      code: 'response_cancel_not_active',
      errorType: 'invalid_request_error',
      message: 'no',
    });
  });

  it.each([
    ['{oops', 'not JSON'],
    ['{"no":"type"}', 'event without a type'],
    ['{"type":"response.output_audio.delta","delta":"AA=="}', 'response.output_audio.delta missing ids or delta'],
    ['{"type":"response.created","response":{}}', 'response.created without response.id'],
  ])('reports %s as invalid', (text, reason) => {
    expect(parseRealtimeEvent(text)).toEqual({ type: 'invalid', reason });
  });

  it('passes over events the bridge does not use', () => {
    expect(parseRealtimeEvent('{"type":"rate_limits.updated","rate_limits":[]}')).toEqual({ type: 'ignored', name: 'rate_limits.updated' });
  });

  // Found by the fuzz test (call-bridge.fuzz.spec.ts): the beta-name lookup reached Object.prototype and threw.
  it('reads inherited property names as plain unknown types', () => {
    for (const type of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      expect(parseRealtimeEvent(JSON.stringify({ type, response: [], item_id: false }))).toEqual({ type: 'ignored', name: type });
    }
  });
});

describe('client events', () => {
  it('builds the GA session.update with mu-law both ways, server VAD and transcription', () => {
    expect(buildSessionUpdate('ga', settings)).toEqual({
      type: 'session.update',
      session: {
        type: 'realtime',
        model: 'gpt-realtime',
        instructions: 'Be brief.',
        output_modalities: ['audio'],
        audio: {
          input: {
            format: { type: 'audio/pcmu' },
            transcription: { model: 'gpt-4o-mini-transcribe' },
            turn_detection: {
              type: 'server_vad',
              threshold: 0.5,
              prefix_padding_ms: 300,
              silence_duration_ms: 500,
              create_response: true,
              interrupt_response: true,
            },
          },
          output: { format: { type: 'audio/pcmu' }, voice: 'alloy' },
        },
      },
    });
  });

  it('builds the beta session.update with g711_ulaw and no GA-only fields', () => {
    const update = buildSessionUpdate('beta', settings);
    expect(update.session).toMatchObject({
      modalities: ['audio', 'text'],
      voice: 'alloy',
      input_audio_format: 'g711_ulaw',
      output_audio_format: 'g711_ulaw',
      input_audio_transcription: { model: 'gpt-4o-mini-transcribe' },
      turn_detection: { type: 'server_vad', interrupt_response: true },
    });
    expect(update.session).not.toHaveProperty('type');
    expect(update.session).not.toHaveProperty('audio');
  });

  // DEFECT 4: transcription off was sent as null, which neither shape's session.update accepts
  // (the SDK types it as an optional object); off is the API default, so the key is left out.
  it('leaves the transcription key out, not null, when transcription is off', () => {
    const off = { ...settings, transcriptionModel: undefined };
    const ga = buildSessionUpdate('ga', off);
    expect(ga.session.audio.input).not.toHaveProperty('transcription');
    expect(ga.session.audio.input).toMatchObject({ format: { type: 'audio/pcmu' }, turn_detection: { type: 'server_vad' } });
    const beta = buildSessionUpdate('beta', off);
    expect(beta.session).not.toHaveProperty('input_audio_transcription');
    expect(beta.session).toMatchObject({ input_audio_format: 'g711_ulaw', turn_detection: { type: 'server_vad' } });
  });

  it('offers tools with tool_choice auto only when there are tools', () => {
    const tool: FunctionTool = { type: 'function', name: 'end_call', description: 'Hang up.', parameters: { type: 'object', properties: {} } };
    for (const shape of ['ga', 'beta'] as const) {
      expect(buildSessionUpdate(shape, { ...settings, tools: [tool] }).session).toMatchObject({ tools: [tool], tool_choice: 'auto' });
      for (const tools of [undefined, []]) {
        const session = buildSessionUpdate(shape, { ...settings, tools }).session;
        expect(session).not.toHaveProperty('tools');
        expect(session).not.toHaveProperty('tool_choice');
      }
    }
  });

  it('puts no null anywhere in any client event, for every option', () => {
    const tool: FunctionTool = { type: 'function', name: 't', description: 'd', parameters: {} };
    const events: RealtimeClientEvent[] = [
      buildGreeting('Hi.'),
      buildInstructedResponse('Check in.'),
      buildTruncate('item_1', 1200),
      buildFunctionOutput('call_1', '{}'),
      buildGoodbye('Bye.'),
      buildResponseCreate(),
      buildCancel('resp_1'),
    ];
    for (const shape of ['ga', 'beta'] as const) {
      for (const transcriptionModel of ['gpt-4o-mini-transcribe', undefined]) {
        for (const tools of [undefined, [tool]]) events.push(buildSessionUpdate(shape, { ...settings, transcriptionModel, tools }));
      }
    }
    const nulls = (v: unknown, path: string): string[] =>
      v === null ? [path] : typeof v === 'object' ? Object.entries(v).flatMap(([k, x]) => nulls(x, `${path}.${k}`)) : [];
    expect(events.flatMap((e, i) => nulls(e, `${i}:${e.type}`))).toEqual([]);
  });

  it('builds events that RealtimeClient.send takes as they are', () => {
    // Compile-time: the precise types stay assignable to send()'s parameter type.
    const sendable: Array<string | Record<string, unknown>> = [
      buildSessionUpdate('ga', settings),
      buildSessionUpdate('beta', settings),
      buildGreeting('Hi.'),
      buildTruncate('item_1', 0),
      buildFunctionOutput('call_1', '{}'),
      buildCancel('resp_1'),
      appendAudioFrame('//8='),
    ];
    expect(sendable.map((e) => (typeof e === 'string' ? (JSON.parse(e) as { type: string }) : e).type)).toEqual([
      'session.update',
      'session.update',
      'response.create',
      'conversation.item.truncate',
      'conversation.item.create',
      'response.cancel',
      'input_audio_buffer.append',
    ]);
  });

  it('asks for a greeting that carries the given words', () => {
    const greeting = buildGreeting('Thanks for calling Acme Plumbing.') as { response: { instructions: string } };
    expect(greeting).toMatchObject({ type: 'response.create' });
    expect(greeting.response.instructions).toContain('Thanks for calling Acme Plumbing.');
  });

  it('builds the append frame as valid JSON', () => {
    expect(JSON.parse(appendAudioFrame('//8='))).toEqual({ type: 'input_audio_buffer.append', audio: '//8=' });
  });
});

describe('parseRealtimeEvent on audio deltas as the API writes them', () => {
  /** An audio delta with the API's field order, which the parser reads without a JSON parse. */
  const asTheApiWrites = (type: string, delta: string, ids = { response: 'resp_CbA12x', item: 'item_CbA12y' }) =>
    `{"type":"${type}","event_id":"event_CbA12z","response_id":"${ids.response}","item_id":"${ids.item}","output_index":0,"content_index":0,"delta":"${delta}"}`;
  /** The same event in another order, which only the full parser reads. */
  const reordered = (type: string, delta: string) =>
    JSON.stringify({ delta, content_index: 0, output_index: 0, item_id: 'item_CbA12y', response_id: 'resp_CbA12x', event_id: 'event_CbA12z', type });

  it.each(['response.output_audio.delta', 'response.audio.delta'])('reads %s exactly as the full parser reads the same event', (type) => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4_800 }), (bytes) => {
        const delta = Buffer.from(bytes).toString('base64');
        const event = parseRealtimeEvent(asTheApiWrites(type, delta));
        expect(event).toEqual({ type: 'response.output_audio.delta', responseId: 'resp_CbA12x', itemId: 'item_CbA12y', delta });
        expect(event).toEqual(parseRealtimeEvent(reordered(type, delta)));
      }),
      { numRuns: 300 },
    );
  });

  it('leaves ids with escapes, and deltas that are not base64, to the full parser', () => {
    expect(parseRealtimeEvent(asTheApiWrites('response.output_audio.delta', '//8=', { response: 'r\\"1', item: 'i' }))).toMatchObject({ responseId: 'r"1' });
    expect(parseRealtimeEvent(asTheApiWrites('response.output_audio.delta', '//8'))).toEqual({
      type: 'invalid',
      reason: 'response.output_audio.delta with a delta that is not base64',
    });
  });
});

describe('parseRealtimeEvent on transcript deltas as the API writes them', () => {
  const asTheApiWrites = (type: string, deltaJson: string) =>
    `{"type":"${type}","event_id":"event_CbA12z","response_id":"resp_CbA12x","item_id":"item_CbA12y","output_index":0,"content_index":0,"delta":${deltaJson}}`;
  const reordered = (type: string, delta: string) =>
    JSON.stringify({ delta, content_index: 0, output_index: 0, item_id: 'item_CbA12y', response_id: 'resp_CbA12x', event_id: 'event_CbA12z', type });

  it.each(['response.output_audio_transcript.delta', 'response.audio_transcript.delta'])(
    'reads %s with any text exactly as the full parser reads the same event (text with escapes through the full parser)',
    (type) => {
      fc.assert(
        fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 40 })), (delta) => {
          const event = parseRealtimeEvent(asTheApiWrites(type, JSON.stringify(delta)));
          expect(event).toEqual({ type: 'response.output_audio_transcript.delta', responseId: 'resp_CbA12x', itemId: 'item_CbA12y', delta });
          expect(event).toEqual(parseRealtimeEvent(reordered(type, delta)));
        }),
        { numRuns: 500 },
      );
    },
  );

  it('reads text without escapes without a JSON parse', () => {
    const parse = jest.spyOn(JSON, 'parse');
    try {
      const event = parseRealtimeEvent(asTheApiWrites('response.output_audio_transcript.delta', '"Thanks for calling — how can I help?"'));
      expect(event).toMatchObject({ delta: 'Thanks for calling — how can I help?' });
      expect(parse).not.toHaveBeenCalled();
    } finally {
      parse.mockRestore();
    }
  });
});
