/**
 * The voice webhook as Twilio calls it: a form POST of the call's parameters, signed with
 * X-Twilio-Signature when the auth token is known, and the TwiML answer read by an XML parser.
 */
import { randomBytes } from 'node:crypto';
import { XMLParser } from 'fast-xml-parser';
import twilio from 'twilio';

export const VOICE_PATH = '/twilio/voice';

/** A clear, actionable failure of the simulated call (printed as is by the command-line tools). */
export class SimulatorError extends Error {
  override readonly name = 'SimulatorError';
}

export const newSid = (prefix: 'CA' | 'MZ' | 'AC'): string => prefix + randomBytes(16).toString('hex');

export interface IncomingCall {
  readonly callSid: string;
  readonly accountSid: string;
  readonly from: string;
  readonly to: string;
}

/** What the TwiML asks of Twilio. */
export interface VoiceAnswer {
  /** <Connect><Stream url>: where to open the media stream, with its <Parameter>s. */
  readonly stream: { readonly url: string; readonly parameters: Readonly<Record<string, string>> } | null;
  /** The verbs in order, for telling the user what Twilio would do instead (Dial, Say, Hangup...). */
  readonly verbs: readonly string[];
  readonly twiml: string;
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseAttributeValue: false,
  parseTagValue: false,
  preserveOrder: true,
  trimValues: true,
});

type Node = Record<string, unknown> & { ':@'?: Record<string, string> };

function children(node: Node, tag: string): Node[] {
  const list = node[tag];
  return Array.isArray(list) ? (list as Node[]) : [];
}

function tagOf(node: Node): string {
  return Object.keys(node).find((k) => k !== ':@') ?? '';
}

/** Reads TwiML with an XML parser. Throws SimulatorError when it is not a <Response>. */
export function parseTwiml(twiml: string): VoiceAnswer {
  let doc: Node[];
  try {
    doc = parser.parse(twiml, true) as Node[];
  } catch (err) {
    throw new SimulatorError(`the voice webhook did not answer with XML: ${(err as Error).message}`);
  }
  const response = doc.find((n) => tagOf(n) === 'Response');
  if (!response) throw new SimulatorError(`the voice webhook's answer is not TwiML (no <Response>): ${twiml.slice(0, 200)}`);
  const verbs = children(response, 'Response');
  let stream: VoiceAnswer['stream'] = null;
  for (const verb of verbs) {
    if (tagOf(verb) !== 'Connect' || stream) continue;
    const streamNode = children(verb, 'Connect').find((n) => tagOf(n) === 'Stream');
    const url = streamNode?.[':@']?.url;
    if (!streamNode || !url) continue;
    const parameters: Record<string, string> = {};
    for (const p of children(streamNode, 'Stream')) {
      const attrs = p[':@'];
      if (tagOf(p) === 'Parameter' && attrs?.name) parameters[attrs.name] = attrs.value ?? '';
    }
    stream = { url, parameters };
  }
  return { stream, verbs: verbs.map(tagOf).filter((t) => t !== '#text'), twiml };
}

/** The form Twilio posts for a new inbound call. */
export function incomingCallForm(call: IncomingCall): Record<string, string> {
  return {
    AccountSid: call.accountSid,
    ApiVersion: '2010-04-01',
    CallSid: call.callSid,
    CallStatus: 'ringing',
    Called: call.to,
    Caller: call.from,
    Direction: 'inbound',
    From: call.from,
    To: call.to,
  };
}

/** POSTs the voice webhook as Twilio does and reads its TwiML. */
export async function fetchVoiceAnswer(baseUrl: string, call: IncomingCall, authToken: string | undefined): Promise<VoiceAnswer> {
  const url = new URL(VOICE_PATH, baseUrl).toString();
  const form = incomingCallForm(call);
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'TwilioProxy/1.1 (call-operator simulator)' };
  if (authToken) headers['x-twilio-signature'] = twilio.getExpectedTwilioSignature(authToken, url, form);
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers, body: new URLSearchParams(form).toString(), signal: AbortSignal.timeout(15_000) });
  } catch (err) {
    throw new SimulatorError(`could not reach the service at ${url}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`);
  }
  const body = await res.text();
  if (res.status === 403 || res.status === 401) {
    throw new SimulatorError(`the voice webhook refused the request (${res.status}): set TWILIO_AUTH_TOKEN to the service's token so the simulator signs as Twilio does`);
  }
  if (!res.ok) throw new SimulatorError(`the voice webhook answered ${res.status}: ${body.slice(0, 200)}`);
  return parseTwiml(body);
}

/** Twilio signs a stream's upgrade over the URL exactly as the TwiML names it. */
export function streamUpgradeHeaders(streamUrl: string, authToken: string | undefined): Record<string, string> {
  return authToken ? { 'x-twilio-signature': twilio.getExpectedTwilioSignature(authToken, streamUrl, {}) } : {};
}

/**
 * Where to open the stream. Twilio opens the URL as named; a service on a plain-http address
 * without PUBLIC_BASE_URL names wss:// on its own host, which has no TLS there, so that one URL is
 * opened as ws:// (the signature still covers the URL as named).
 */
export function reachableStreamUrl(named: string, serviceUrl: string): string {
  const stream = new URL(named);
  const service = new URL(serviceUrl);
  if (stream.protocol === 'wss:' && service.protocol === 'http:' && stream.host === service.host) stream.protocol = 'ws:';
  return stream.toString();
}
