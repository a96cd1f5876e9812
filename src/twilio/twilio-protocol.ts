/**
 * Twilio Media Streams wire protocol (bidirectional <Connect><Stream>): the frames Twilio sends
 * us, the frames we send back, and a parser that turns untrusted text into one of them or a
 * reason to ignore it. Numeric-looking fields arrive as strings and are converted here once.
 */
import type { RawData } from 'ws';
import { wsBytes } from '../common/ws-text';

export interface TwilioConnected {
  readonly event: 'connected';
}

export interface TwilioStart {
  readonly event: 'start';
  readonly streamSid: string;
  readonly callSid: string;
  readonly accountSid: string;
  readonly customParameters: Readonly<Record<string, string>>;
}

export interface TwilioMedia {
  readonly event: 'media';
  /** Base64 mu-law 8 kHz, passed on as received. */
  readonly payload: string;
  /** Milliseconds since the stream started, on Twilio's media clock. */
  readonly timestamp: number;
}

export interface TwilioMark {
  readonly event: 'mark';
  readonly name: string;
}

export interface TwilioDtmf {
  readonly event: 'dtmf';
  readonly digit: string;
}

export interface TwilioStop {
  readonly event: 'stop';
}

export type TwilioInbound = TwilioConnected | TwilioStart | TwilioMedia | TwilioMark | TwilioDtmf | TwilioStop;

export type TwilioParseResult = TwilioInbound | { readonly event: 'invalid'; readonly reason: string };

const SID = /^[A-Z]{2}[0-9a-fA-F]{32}$/;
/** A Twilio Call SID: what identifies a call in webhooks, file names and the API. */
export const CALL_SID = /^CA[0-9a-fA-F]{32}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const MAX_PARAMETERS = 32;
const MAX_PARAMETER_LENGTH = 500;

function invalid(reason: string): TwilioParseResult {
  return { event: 'invalid', reason };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseStart(msg: Record<string, unknown>): TwilioParseResult {
  const start = msg.start;
  if (!isObject(start)) return invalid('start without start object');
  const streamSid = start.streamSid ?? msg.streamSid;
  const { callSid, accountSid } = start;
  if (typeof streamSid !== 'string' || !SID.test(streamSid)) return invalid('start with a malformed streamSid');
  if (typeof callSid !== 'string' || !SID.test(callSid)) return invalid('start with a malformed callSid');
  const params: Record<string, string> = {};
  if (isObject(start.customParameters)) {
    const entries = Object.entries(start.customParameters);
    if (entries.length > MAX_PARAMETERS) return invalid('start with too many customParameters');
    for (const [k, v] of entries) {
      if (typeof v === 'string' && k.length + v.length < MAX_PARAMETER_LENGTH) params[k] = v;
    }
  }
  const format = start.mediaFormat;
  if (isObject(format) && format.encoding !== undefined && format.encoding !== 'audio/x-mulaw') {
    return invalid(`start with unsupported encoding ${typeof format.encoding === 'string' ? format.encoding.slice(0, 40) : typeof format.encoding}`);
  }
  return {
    event: 'start',
    streamSid,
    callSid,
    accountSid: typeof accountSid === 'string' ? accountSid : '',
    customParameters: params,
  };
}

function parseMedia(msg: Record<string, unknown>): TwilioParseResult {
  const media = msg.media;
  if (!isObject(media)) return invalid('media without media object');
  const { payload, track } = media;
  if (track !== undefined && track !== 'inbound') return invalid('media on a track other than inbound');
  if (typeof payload !== 'string' || payload.length === 0 || payload.length % 4 !== 0 || !BASE64.test(payload)) {
    return invalid('media with a payload that is not base64');
  }
  const timestamp = Number(media.timestamp);
  if (!Number.isFinite(timestamp) || timestamp < 0) return invalid('media with a malformed timestamp');
  return { event: 'media', payload, timestamp };
}

/**
 * Twilio sends 20 ms frames of a few hundred bytes; anything this large is not Twilio audio and is
 * dropped before parsing. (Messages over WS_MAX_PAYLOAD_BYTES never arrive: ws closes with 1009.)
 */
export const MAX_FRAME_BYTES = 32 * 1024;

/** Reads one WebSocket message from Twilio: binary or oversized messages are invalid frames. Never throws. */
export function readTwilioMessage(data: RawData, isBinary: boolean): TwilioParseResult {
  if (isBinary) return invalid('binary frame');
  const bytes = wsBytes(data);
  // Measured before decoding: an oversized message costs no string.
  if (bytes.length > MAX_FRAME_BYTES) return invalid('frame too large');
  return parseTwilioFrame(bytes.toString('utf8'));
}

/**
 * A caller media frame exactly as Twilio writes it (fields in Twilio's order, inbound track,
 * base64 payload): read by one regular expression instead of a JSON parse, 50 times a second per
 * call. Anything else, however valid, goes through the full parser.
 */
const MEDIA_FRAME =
  /^\{"event":"media","sequenceNumber":"\d{1,12}","media":\{"track":"inbound","chunk":"\d{1,12}","timestamp":"(\d{1,12})","payload":"([A-Za-z0-9+/]+={0,2})"\},"streamSid":"MZ[0-9a-fA-F]{32}"\}$/;

/**
 * A mark echo exactly as Twilio writes it, whose name holds no escape (the names this service gives
 * its marks never do): one comes back for every delta played, so it is read the same way.
 */
// eslint-disable-next-line no-control-regex -- JSON escapes control characters: text with one is no fast-path text
const MARK_FRAME = /^\{"event":"mark","sequenceNumber":"\d{1,12}","streamSid":"MZ[0-9a-fA-F]{32}","mark":\{"name":"([^"\\\u0000-\u001f]{0,256})"\}\}$/;

/** Parses one text frame from Twilio. Never throws. */
export function parseTwilioFrame(text: string): TwilioParseResult {
  const media = MEDIA_FRAME.exec(text);
  if (media !== null && media[2].length % 4 === 0) return { event: 'media', payload: media[2], timestamp: Number(media[1]) };
  const mark = MARK_FRAME.exec(text);
  if (mark !== null) return { event: 'mark', name: mark[1] };
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return invalid('not JSON');
  }
  if (!isObject(msg)) return invalid('not a JSON object');
  switch (msg.event) {
    case 'media':
      return parseMedia(msg);
    case 'mark': {
      const mark = msg.mark;
      if (!isObject(mark) || typeof mark.name !== 'string' || mark.name.length > 256) return invalid('mark without a name');
      return { event: 'mark', name: mark.name };
    }
    case 'start':
      return parseStart(msg);
    case 'connected':
      return { event: 'connected' };
    case 'stop':
      return { event: 'stop' };
    case 'dtmf': {
      const dtmf = msg.dtmf;
      if (!isObject(dtmf) || typeof dtmf.digit !== 'string' || !/^[0-9*#A-D]$/.test(dtmf.digit)) return invalid('dtmf without a digit');
      return { event: 'dtmf', digit: dtmf.digit };
    }
    default:
      return invalid(`unknown event ${typeof msg.event === 'string' ? msg.event.slice(0, 40) : typeof msg.event}`);
  }
}

/** Outbound frames. Built as strings: they are sent every 20 ms per call, and streamSid is validated. */
export class TwilioOutbound {
  private readonly mediaPrefix: string;
  private readonly markPrefix: string;
  private readonly clearFrame: string;

  constructor(streamSid: string) {
    const sid = JSON.stringify(streamSid);
    this.mediaPrefix = `{"event":"media","streamSid":${sid},"media":{"payload":"`;
    this.markPrefix = `{"event":"mark","streamSid":${sid},"mark":{"name":`;
    this.clearFrame = `{"event":"clear","streamSid":${sid}}`;
  }

  /** `payload` must already be base64 (it is never user text). */
  media(payload: string): string {
    return this.mediaPrefix + payload + '"}}';
  }

  mark(name: string): string {
    return this.markPrefix + JSON.stringify(name) + '}}';
  }

  clear(): string {
    return this.clearFrame;
  }
}
