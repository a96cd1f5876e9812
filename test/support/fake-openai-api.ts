/**
 * A fake of OpenAI's HTTP API on 127.0.0.1: POST /v1/responses (the Responses API, non-streaming),
 * as the official SDK calls it. It records each request (headers and JSON body) and answers what
 * the test scripted: a message whose text is the summary, an HTTP error with OpenAI's error body,
 * an incomplete response, a refusal, or nothing until released (a model that takes its time). Its
 * answers are typed by the SDK's own `Response` (less `output_text`, which the SDK adds itself),
 * so the fake cannot drift from what the SDK parses. It runs on its own port, or inside the mock
 * Realtime server's HTTP server (MockRealtimeServer.serveHttp), which is where the app's derived
 * base URL points.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Response as OpenAiResponse, ResponseCreateParamsNonStreaming } from 'openai/resources/responses/responses';
import { DEFAULT_TIMEOUT_MS, Waiters } from './wait';

export interface FakeApiRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The body, parsed: what the SDK sent for responses.create. */
  readonly body: ResponseCreateParamsNonStreaming;
  readonly raw: string;
}

export type FakeReply =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'error'; readonly status: number; readonly code?: string; readonly message?: string }
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'refusal' }
  /** No answer until release() (or the client gives up). */
  | { readonly kind: 'hold' };

/** The body of a completed response holding one assistant message, as the API sends it. */
export function responseBody(model: string, content: OpenAiResponse['output'], over: Partial<OpenAiResponse> = {}): Omit<OpenAiResponse, 'output_text'> {
  return {
    id: `resp_fake_${Math.random().toString(16).slice(2, 10)}`,
    object: 'response',
    created_at: 1_796_159_861,
    status: 'completed',
    error: null,
    incomplete_details: null,
    instructions: null,
    metadata: {},
    model,
    output: content,
    parallel_tool_calls: true,
    temperature: 1,
    tool_choice: 'auto',
    tools: [],
    top_p: 1,
    max_output_tokens: null,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    text: { format: { type: 'text' } },
    truncation: 'disabled',
    usage: { input_tokens: 812, input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 }, output_tokens: 64, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 876 },
    ...over,
  };
}

function message(part: { type: 'output_text'; text: string } | { type: 'refusal'; refusal: string }): OpenAiResponse['output'] {
  const content = part.type === 'output_text' ? [{ type: 'output_text' as const, text: part.text, annotations: [] }] : [part];
  return [{ id: 'msg_fake_1', type: 'message', role: 'assistant', status: 'completed', content }];
}

export class FakeOpenAiApi {
  readonly requests: FakeApiRequest[] = [];
  /** The summary a request gets when nothing is scripted. */
  text = 'Dana Reyes called about a burst pipe under the sink at 12 Elm St, an emergency. The water is shut off for now. The on-call plumber will call her back tonight.';
  private readonly script: FakeReply[] = [];
  private readonly held: Array<(reply: FakeReply) => void> = [];
  private readonly waiters = new Waiters('FakeOpenAiApi');
  private server: Server | undefined;

  /** Answers the requests of an HTTP server it does not own. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (raw += chunk));
    req.on('end', () => this.answer(req, res, raw));
  };

  /** On a port of its own: `baseUrl` is what the SDK is given. */
  static async start(): Promise<FakeOpenAiApi> {
    const fake = new FakeOpenAiApi();
    const server = createServer(fake.handle);
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fake.server = server;
    return fake;
  }

  get baseUrl(): string {
    if (!this.server) throw new Error('this fake runs inside another server');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  /** The next requests get these answers, in order; then `text`. */
  reply(...replies: FakeReply[]): void {
    this.script.push(...replies);
  }

  /** Answers every held request with `reply`. */
  release(reply: FakeReply = { kind: 'text', text: this.text }): void {
    for (const answer of this.held.splice(0)) answer(reply);
  }

  get heldCount(): number {
    return this.held.length;
  }

  waitForRequests(count: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<FakeApiRequest[]> {
    return this.waiters.until(
      `${count} request(s)`,
      () => (this.requests.length >= count ? this.requests.slice(0, count) : undefined),
      () => `${this.requests.length} request(s)`,
      timeoutMs,
    );
  }

  waitForHeld(count = 1, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    return this.waiters
      .until(`${count} held request(s)`, () => (this.held.length >= count ? true : undefined), () => `${this.held.length} held`, timeoutMs)
      .then(() => undefined);
  }

  async close(): Promise<void> {
    this.waiters.fail('closed');
    this.held.splice(0);
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server!.close(resolve));
  }

  private answer(req: IncomingMessage, res: ServerResponse, raw: string): void {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'POST' || path !== '/v1/responses') {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'Not found', type: 'invalid_request_error', code: null, param: null } }));
      return;
    }
    this.requests.push({ method: req.method, path, headers: req.headers, body: JSON.parse(raw) as ResponseCreateParamsNonStreaming, raw });
    const reply = this.script.shift() ?? { kind: 'text', text: this.text };
    const model = String((JSON.parse(raw) as { model?: unknown }).model);
    const send = (r: FakeReply): void => {
      if (res.writableEnded || res.destroyed) return;
      const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': 'req_fake' }).end(JSON.stringify(body));
      switch (r.kind) {
        case 'text':
          return void json(200, responseBody(model, message({ type: 'output_text', text: r.text })));
        case 'refusal':
          return void json(200, responseBody(model, message({ type: 'refusal', refusal: "I'm sorry, I can't help with that." })));
        case 'incomplete':
          return void json(200, responseBody(model, [], { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } }));
        case 'error':
          return void json(r.status, { error: { message: r.message ?? `fake error ${r.status}`, type: r.status === 429 ? 'rate_limit_error' : 'server_error', code: r.code ?? null, param: null } });
        case 'hold':
          this.held.push(send);
          this.waiters.notify();
          return;
      }
    };
    send(reply);
    this.waiters.notify();
  }
}
