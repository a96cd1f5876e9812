/**
 * OpenAI Realtime wire protocol, GA and beta shapes. Client events are built here for either
 * shape; server events of both shapes are normalised into one vocabulary (the GA names), so the
 * call code never asks which shape it is talking to.
 */
import type { RealtimeApiShape } from '../config/app-config';

export interface RealtimeUsage {
  readonly total_tokens?: number;
  readonly input_tokens?: number;
  readonly output_tokens?: number;
  readonly input_token_details?: Record<string, unknown>;
  readonly output_token_details?: Record<string, unknown>;
}

export type RealtimeServerEvent =
  | { readonly type: 'session.created' }
  | { readonly type: 'session.updated'; readonly outputFormat: string | undefined; readonly inputFormat: string | undefined }
  | { readonly type: 'response.created'; readonly responseId: string }
  | {
      readonly type: 'response.done';
      readonly responseId: string;
      readonly status: string;
      readonly usage: RealtimeUsage | undefined;
    }
  | { readonly type: 'response.output_audio.delta'; readonly responseId: string; readonly itemId: string; readonly delta: string }
  | { readonly type: 'response.output_audio.done'; readonly responseId: string; readonly itemId: string }
  | { readonly type: 'response.output_audio_transcript.delta'; readonly responseId: string; readonly itemId: string; readonly delta: string }
  | { readonly type: 'response.output_audio_transcript.done'; readonly responseId: string; readonly itemId: string; readonly transcript: string }
  | { readonly type: 'input_audio_buffer.speech_started'; readonly audioStartMs: number; readonly itemId: string | undefined }
  | { readonly type: 'input_audio_buffer.speech_stopped'; readonly audioEndMs: number; readonly itemId: string | undefined }
  | { readonly type: 'conversation.item.input_audio_transcription.completed'; readonly itemId: string; readonly transcript: string }
  | { readonly type: 'conversation.item.truncated'; readonly itemId: string; readonly audioEndMs: number }
  | {
      readonly type: 'response.function_call_arguments.done';
      readonly responseId: string;
      readonly callId: string;
      readonly name: string;
      readonly arguments: string;
    }
  | { readonly type: 'error'; readonly code: string | null; readonly errorType: string | null; readonly message: string }
  /** A well-formed event the bridge has no use for (rate_limits.updated, transcript deltas, ...). */
  | { readonly type: 'ignored'; readonly name: string }
  | { readonly type: 'invalid'; readonly reason: string };

/** Beta event names and the GA names they are read as. */
const BETA_TO_GA: Readonly<Record<string, string>> = {
  'response.audio.delta': 'response.output_audio.delta',
  'response.audio.done': 'response.output_audio.done',
  'response.audio_transcript.delta': 'response.output_audio_transcript.delta',
  'response.audio_transcript.done': 'response.output_audio_transcript.done',
  'response.text.delta': 'response.output_text.delta',
  'response.text.done': 'response.output_text.done',
  'conversation.item.created': 'conversation.item.added',
};

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

function invalid(reason: string): RealtimeServerEvent {
  return { type: 'invalid', reason };
}

function formatName(v: unknown): string | undefined {
  // GA: { type: 'audio/pcmu' }; beta and early GA: 'g711_ulaw'.
  if (typeof v === 'string') return v;
  if (isObject(v)) return str(v.type);
  return undefined;
}

function readSession(session: unknown): RealtimeServerEvent {
  if (!isObject(session)) return { type: 'session.updated', outputFormat: undefined, inputFormat: undefined };
  const audio = isObject(session.audio) ? session.audio : undefined;
  const input = audio && isObject(audio.input) ? audio.input : undefined;
  const output = audio && isObject(audio.output) ? audio.output : undefined;
  return {
    type: 'session.updated',
    outputFormat: formatName(output?.format ?? session.output_audio_format),
    inputFormat: formatName(input?.format ?? session.input_audio_format),
  };
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function isBase64(text: string): boolean {
  return text.length % 4 === 0 && BASE64.test(text);
}

/** True for the mu-law format Twilio speaks, in either shape's spelling. */
export function isMuLaw(format: string | undefined): boolean {
  return format === 'audio/pcmu' || format === 'g711_ulaw';
}

/**
 * An audio delta exactly as the API writes it (GA or beta name, fields in the API's order, plain
 * ids, a base64 delta): read by one regular expression instead of a JSON parse, several times a
 * second per call. Anything else goes through the full parser.
 */
const AUDIO_DELTA =
  /^\{"type":"response\.(?:output_audio|audio)\.delta","event_id":"[\w-]{0,128}","response_id":"([\w-]{1,128})","item_id":"([\w-]{1,128})","output_index":\d{1,6},"content_index":\d{1,6},"delta":"([A-Za-z0-9+/]*={0,2})"\}$/;

/**
 * A transcript delta as the API writes it, whose text holds no escape (no quote, backslash or
 * control character): it comes with every audio delta when transcripts are on, so it is read the
 * same way. Text with escapes goes through the full parser.
 */
const TRANSCRIPT_DELTA =
  // eslint-disable-next-line no-control-regex -- JSON escapes control characters: text with one is no fast-path text
  /^\{"type":"response\.(?:output_audio_transcript|audio_transcript)\.delta","event_id":"[\w-]{0,128}","response_id":"([\w-]{1,128})","item_id":"([\w-]{1,128})","output_index":\d{1,6},"content_index":\d{1,6},"delta":"([^"\\\u0000-\u001f]*)"\}$/;

/** Parses and normalises one server event. Never throws. */
export function parseRealtimeEvent(text: string): RealtimeServerEvent {
  const audio = AUDIO_DELTA.exec(text);
  if (audio !== null && audio[3].length % 4 === 0) {
    return { type: 'response.output_audio.delta', responseId: audio[1], itemId: audio[2], delta: audio[3] };
  }
  const transcript = TRANSCRIPT_DELTA.exec(text);
  if (transcript !== null) {
    return { type: 'response.output_audio_transcript.delta', responseId: transcript[1], itemId: transcript[2], delta: transcript[3] };
  }
  let ev: unknown;
  try {
    ev = JSON.parse(text);
  } catch {
    return invalid('not JSON');
  }
  if (!isObject(ev) || typeof ev.type !== 'string') return invalid('event without a type');
  // Own keys only: a type such as "__proto__" must not reach Object.prototype.
  const type = Object.hasOwn(BETA_TO_GA, ev.type) ? BETA_TO_GA[ev.type] : ev.type;
  switch (type) {
    case 'response.output_audio.delta':
    case 'response.output_audio_transcript.delta': {
      const responseId = str(ev.response_id);
      const itemId = str(ev.item_id);
      const delta = str(ev.delta);
      if (responseId === undefined || itemId === undefined || delta === undefined) return invalid(`${type} missing ids or delta`);
      // Audio is passed on to Twilio as it came: it must be base64, nothing that could break a frame.
      if (type === 'response.output_audio.delta' && !isBase64(delta)) return invalid(`${type} with a delta that is not base64`);
      return { type, responseId, itemId, delta };
    }
    case 'response.output_audio.done': {
      const responseId = str(ev.response_id);
      const itemId = str(ev.item_id);
      if (responseId === undefined || itemId === undefined) return invalid(`${type} missing ids`);
      return { type, responseId, itemId };
    }
    case 'response.output_audio_transcript.done': {
      const responseId = str(ev.response_id);
      const itemId = str(ev.item_id);
      if (responseId === undefined || itemId === undefined) return invalid(`${type} missing ids`);
      return { type, responseId, itemId, transcript: str(ev.transcript) ?? '' };
    }
    case 'input_audio_buffer.speech_started':
      return { type, audioStartMs: num(ev.audio_start_ms) ?? 0, itemId: str(ev.item_id) };
    case 'input_audio_buffer.speech_stopped':
      return { type, audioEndMs: num(ev.audio_end_ms) ?? 0, itemId: str(ev.item_id) };
    case 'response.created':
    case 'response.done': {
      const response = ev.response;
      if (!isObject(response) || typeof response.id !== 'string') return invalid(`${type} without response.id`);
      if (type === 'response.created') return { type, responseId: response.id };
      return {
        type,
        responseId: response.id,
        status: str(response.status) ?? 'unknown',
        usage: isObject(response.usage) ? response.usage : undefined,
      };
    }
    case 'session.created':
      return { type };
    case 'session.updated':
      return readSession(ev.session);
    case 'conversation.item.input_audio_transcription.completed': {
      const itemId = str(ev.item_id);
      if (itemId === undefined) return invalid(`${type} without item_id`);
      return { type, itemId, transcript: str(ev.transcript) ?? '' };
    }
    case 'conversation.item.truncated': {
      const itemId = str(ev.item_id);
      if (itemId === undefined) return invalid(`${type} without item_id`);
      return { type, itemId, audioEndMs: num(ev.audio_end_ms) ?? 0 };
    }
    case 'response.function_call_arguments.done': {
      const responseId = str(ev.response_id);
      const callId = str(ev.call_id);
      const name = str(ev.name);
      if (responseId === undefined || callId === undefined || name === undefined) return invalid(`${type} missing ids or name`);
      return { type, responseId, callId, name, arguments: str(ev.arguments) ?? '' };
    }
    case 'error': {
      const error = isObject(ev.error) ? ev.error : {};
      return {
        type,
        code: str(error.code) ?? null,
        errorType: str(error.type) ?? null,
        message: (str(error.message) ?? '').slice(0, 500),
      };
    }
    default:
      return { type: 'ignored', name: type.slice(0, 80) };
  }
}

/** Errors that are races between our commands and the server, not faults. */
export const NON_FATAL_ERROR_CODES: ReadonlySet<string> = new Set([
  'response_cancel_not_active',
  'conversation_already_has_active_response',
]);

export interface FunctionTool {
  readonly type: 'function';
  readonly name: string;
  readonly description: string;
  readonly parameters: Record<string, unknown>;
}

export interface SessionSettings {
  readonly tools?: readonly FunctionTool[];
  readonly model: string;
  readonly instructions: string;
  readonly voice: string;
  readonly transcriptionModel: string | undefined;
  readonly vad: { readonly threshold: number; readonly prefixPaddingMs: number; readonly silenceDurationMs: number };
}

/*
 * Client event types. Type aliases, not interfaces: an object type alias is assignable to the
 * Record<string, unknown> that RealtimeClient.send takes, an interface is not. Arrays are mutable
 * because the SDK's event types declare Array<...>, which a readonly array does not satisfy.
 * realtime-protocol.sdk.spec.ts checks each against the official SDK's client event types.
 */

/** server_vad turn detection; spelled the same in GA and beta. */
export type ServerVad = {
  readonly type: 'server_vad';
  readonly threshold: number;
  readonly prefix_padding_ms: number;
  readonly silence_duration_ms: number;
  readonly create_response: boolean;
  readonly interrupt_response: boolean;
};

export type TranscriptionConfig = { readonly model: string };

/** Present only when the call has tools: an empty tools list is not sent. */
type SessionTools = { readonly tools?: FunctionTool[]; readonly tool_choice?: 'auto' };

export type GaSessionUpdate = {
  readonly type: 'session.update';
  readonly session: {
    readonly type: 'realtime';
    readonly model: string;
    readonly instructions: string;
    readonly output_modalities: ['audio'];
    readonly audio: {
      readonly input: {
        readonly format: { readonly type: 'audio/pcmu' };
        /** Absent when transcription is off: the API's default is off, and it takes no null here. */
        readonly transcription?: TranscriptionConfig;
        readonly turn_detection: ServerVad;
      };
      readonly output: { readonly format: { readonly type: 'audio/pcmu' }; readonly voice: string };
    };
  } & SessionTools;
};

export type BetaSessionUpdate = {
  readonly type: 'session.update';
  readonly session: {
    readonly modalities: ['audio', 'text'];
    readonly instructions: string;
    readonly voice: string;
    readonly input_audio_format: 'g711_ulaw';
    readonly output_audio_format: 'g711_ulaw';
    /** Absent when transcription is off, as in GA. */
    readonly input_audio_transcription?: TranscriptionConfig;
    readonly turn_detection: ServerVad;
  } & SessionTools;
};

export type SessionUpdate = GaSessionUpdate | BetaSessionUpdate;

/** response.create; the same shape in GA and beta. */
export type ResponseCreate = {
  readonly type: 'response.create';
  readonly response?: { readonly instructions: string; readonly tool_choice?: 'none' };
};

export type ItemTruncate = {
  readonly type: 'conversation.item.truncate';
  readonly item_id: string;
  readonly content_index: number;
  readonly audio_end_ms: number;
};

export type FunctionCallOutputCreate = {
  readonly type: 'conversation.item.create';
  readonly item: { readonly type: 'function_call_output'; readonly call_id: string; readonly output: string };
};

export type ResponseCancel = { readonly type: 'response.cancel'; readonly response_id: string };

/** What appendAudioFrame's string encodes. */
export type AudioAppend = { readonly type: 'input_audio_buffer.append'; readonly audio: string };

/** Every client event built here (session.update in either shape). */
export type RealtimeClientEvent = SessionUpdate | ResponseCreate | ItemTruncate | FunctionCallOutputCreate | ResponseCancel | AudioAppend;

/** session.update for a Twilio call: mu-law in and out, server VAD that interrupts, input transcription. */
export function buildSessionUpdate(shape: 'ga', s: SessionSettings): GaSessionUpdate;
export function buildSessionUpdate(shape: 'beta', s: SessionSettings): BetaSessionUpdate;
export function buildSessionUpdate(shape: RealtimeApiShape, s: SessionSettings): SessionUpdate;
export function buildSessionUpdate(shape: RealtimeApiShape, s: SessionSettings): SessionUpdate {
  const turnDetection: ServerVad = {
    type: 'server_vad',
    threshold: s.vad.threshold,
    prefix_padding_ms: s.vad.prefixPaddingMs,
    silence_duration_ms: s.vad.silenceDurationMs,
    create_response: true,
    interrupt_response: true,
  };
  const transcription: TranscriptionConfig | undefined = s.transcriptionModel ? { model: s.transcriptionModel } : undefined;
  // Function tools have the same shape in both APIs; copied because the SDK types want a mutable array.
  const tools: SessionTools = s.tools && s.tools.length > 0 ? { tools: [...s.tools], tool_choice: 'auto' } : {};
  if (shape === 'beta') {
    return {
      type: 'session.update',
      session: {
        modalities: ['audio', 'text'],
        instructions: s.instructions,
        voice: s.voice,
        input_audio_format: 'g711_ulaw',
        output_audio_format: 'g711_ulaw',
        ...(transcription && { input_audio_transcription: transcription }),
        turn_detection: turnDetection,
        ...tools,
      },
    };
  }
  return {
    type: 'session.update',
    session: {
      type: 'realtime',
      model: s.model,
      instructions: s.instructions,
      output_modalities: ['audio'],
      audio: {
        input: { format: { type: 'audio/pcmu' }, ...(transcription && { transcription }), turn_detection: turnDetection },
        output: { format: { type: 'audio/pcmu' }, voice: s.voice },
      },
      ...tools,
    },
  };
}

/** The opening line, so the caller hears the company's name first. Same shape in GA and beta. */
export function buildGreeting(greeting: string): ResponseCreate {
  return {
    type: 'response.create',
    response: {
      instructions: `Greet the caller now by saying exactly this, then wait for their answer: "${greeting}"`,
    },
  };
}

/** A sentence an operator sent through the API, said as written; the conversation then goes on. */
export function buildOperatorSentence(sentence: string): ResponseCreate {
  return {
    type: 'response.create',
    response: { instructions: `Say exactly this to the caller now, then carry on with the call as before: "${sentence}"`, tool_choice: 'none' },
  };
}

/** A response that follows a one-off instruction (a check-in, a goodbye, picking up after a reconnect). */
export function buildInstructedResponse(instructions: string): ResponseCreate {
  return { type: 'response.create', response: { instructions } };
}

export function buildTruncate(itemId: string, audioEndMs: number): ItemTruncate {
  return { type: 'conversation.item.truncate', item_id: itemId, content_index: 0, audio_end_ms: audioEndMs };
}

/** The tool's result, then (separately) response.create so the model speaks about it. */
export function buildFunctionOutput(callId: string, output: string): FunctionCallOutputCreate {
  return { type: 'conversation.item.create', item: { type: 'function_call_output', call_id: callId, output } };
}

/** Shutdown's last words to a caller: said as given, with no tool call. */
export function buildGoodbye(goodbye: string): ResponseCreate {
  return {
    type: 'response.create',
    response: {
      instructions: `The call has to end now. Say exactly this to the caller and nothing more: "${goodbye}"`,
      tool_choice: 'none',
    },
  };
}

export function buildResponseCreate(): ResponseCreate {
  return { type: 'response.create' };
}

export function buildCancel(responseId: string): ResponseCancel {
  return { type: 'response.cancel', response_id: responseId };
}

/** input_audio_buffer.append, built as a string: it runs for every 20 ms caller frame. */
export function appendAudioFrame(base64Payload: string): string {
  return '{"type":"input_audio_buffer.append","audio":"' + base64Payload + '"}';
}
