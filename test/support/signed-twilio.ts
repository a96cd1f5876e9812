/**
 * Twilio's side of the service's HTTP webhooks and its media stream upgrade, signed as Twilio signs
 * them (X-Twilio-Signature over the public URL, query included, and the form), for e2e tests of an
 * app that checks signatures (TWILIO_VALIDATE_SIGNATURE=true) behind PUBLIC_BASE_URL.
 */
import twilio from 'twilio';
import type { LogCapture } from './log-capture';
import type { MockRealtimeConnection, MockRealtimeServer } from './mock-realtime-server';
import { TwilioCaller, type TwilioCallerOptions } from './twilio-caller';

export interface TwilioAnswer {
  readonly status: number;
  readonly text: string;
}

export class SignedTwilio {
  constructor(
    private readonly app: { readonly httpUrl: string; readonly streamUrl: string },
    private readonly authToken: string,
    /** PUBLIC_BASE_URL, without a trailing slash. */
    private readonly publicBaseUrl: string,
  ) {}

  /** POSTs `params` as a form to `publicUrl` (a URL under PUBLIC_BASE_URL, or a path), signed unless `signed` is false. */
  async post(publicUrl: string, params: Record<string, string>, signed = true): Promise<TwilioAnswer> {
    const url = publicUrl.startsWith('/') ? `${this.publicBaseUrl}${publicUrl}` : publicUrl;
    if (!url.startsWith(this.publicBaseUrl)) throw new Error(`${url} is not under ${this.publicBaseUrl}`);
    const signature = twilio.getExpectedTwilioSignature(this.authToken, url, params);
    const res = await fetch(`${this.app.httpUrl}${url.slice(this.publicBaseUrl.length)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(signed ? { 'x-twilio-signature': signature } : {}) },
      body: new URLSearchParams(params),
    });
    return { status: res.status, text: await res.text() };
  }

  /** A call's media stream, its upgrade signed, started (connected, start) and up to the greeting's request. */
  async startCall(mock: MockRealtimeServer, options: TwilioCallerOptions): Promise<{ caller: TwilioCaller; rt: MockRealtimeConnection }> {
    const streamUrl = `${this.publicBaseUrl.replace(/^http/, 'ws')}/twilio/stream`;
    const signature = twilio.getExpectedTwilioSignature(this.authToken, streamUrl, {});
    const caller = await TwilioCaller.connect(this.app.streamUrl, { ...options, headers: { 'x-twilio-signature': signature, ...options.headers } });
    caller.sendConnected();
    caller.sendStart();
    const rt = await mock.nextConnection();
    await rt.waitFor('response.create');
    return { caller, rt };
  }
}

let toolCalls = 0;

/**
 * The model calls tool `name` with `args` in a response of its own; resolves with the tool's output
 * once the service has given it back (conversation.item.create).
 */
export async function callTool(rt: MockRealtimeConnection, name: string, args: Record<string, unknown>): Promise<Record<string, any>> {
  const id = `call_${++toolCalls}`;
  rt.responseCreated(`resp_${id}`);
  rt.send({ type: 'response.function_call_arguments.done', response_id: `resp_${id}`, item_id: `item_${id}`, output_index: 0, call_id: id, name, arguments: JSON.stringify(args) });
  rt.responseDone(`resp_${id}`);
  const created = await rt.waitFor('conversation.item.create', (e) => e.item?.call_id === id);
  return JSON.parse(created.item.output as string) as Record<string, any>;
}

let replies = 0;

/** callTool, then the agent's reply about the result, which the service asks for, comes and goes. */
export async function callToolAndReply(app: { readonly logs: LogCapture }, rt: MockRealtimeConnection, name: string, args: Record<string, unknown>): Promise<Record<string, any>> {
  const output = await callTool(rt, name, args);
  await rt.waitFor('response.create');
  const reply = `resp_reply_${++replies}`;
  rt.responseCreated(reply);
  rt.responseDone(reply);
  await app.logs.waitFor('response done', { responseId: reply });
  return output;
}
