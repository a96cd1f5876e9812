import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SystemClock } from '../common/clock';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import { receiverOf, WebhookSender } from './webhook-sender';

const HEADERS = { 'webhook-id': 'evt_1', 'webhook-timestamp': '1700000000', 'webhook-signature': 'v1,abc=' };

describe('WebhookSender', () => {
  let server: Server;
  let base: string;
  let handle: (req: IncomingMessage, body: string, res: ServerResponse) => void;
  const sender = new WebhookSender(new AppConfig(validateEnvironment({ WEBHOOK_TIMEOUT_MS: '1000' })), new SystemClock());

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => handle(req, body, res));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('POSTs the body as JSON with the signature headers, and reports the status', async () => {
    let seen: { method?: string; headers: IncomingMessage['headers']; body: string } | undefined;
    handle = (req, body, res) => {
      seen = { method: req.method, headers: req.headers, body };
      res.writeHead(202).end('a body nobody reads');
    };
    expect(await sender.send(`${base}/hook?token=x`, HEADERS, '{"type":"call.ended"}')).toEqual({ kind: 'response', status: 202, retryAfterMs: null });
    expect(seen).toMatchObject({ method: 'POST', body: '{"type":"call.ended"}' });
    expect(seen!.headers).toMatchObject({ ...HEADERS, 'content-type': 'application/json', 'user-agent': expect.stringMatching(/^call-operator\//) });
  });

  it('reads Retry-After', async () => {
    handle = (_req, _body, res) => res.writeHead(503, { 'retry-after': '30' }).end();
    expect(await sender.send(base, HEADERS, '{}')).toEqual({ kind: 'response', status: 503, retryAfterMs: 30_000 });
  });

  it('does not follow a redirect', async () => {
    let hits = 0;
    handle = (_req, _body, res) => {
      hits++;
      res.writeHead(307, { location: `${base}/elsewhere` }).end();
    };
    expect(await sender.send(base, HEADERS, '{}')).toMatchObject({ kind: 'response', status: 307 });
    expect(hits).toBe(1);
  });

  it('gives up after the timeout', async () => {
    handle = () => undefined; // never answers
    expect(await sender.send(base, HEADERS, '{}')).toEqual({ kind: 'error', error: 'timed out after 1000 ms' });
  });

  it('gives up when cancelled (shutdown)', async () => {
    handle = () => undefined; // never answers
    const cancel = new AbortController();
    const sending = sender.send(base, HEADERS, '{}', cancel.signal);
    cancel.abort();
    expect(await sending).toEqual({ kind: 'error', error: 'given up at shutdown' });
  });

  it('reports a refused connection without the URL', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const result = await sender.send(`http://127.0.0.1:${port}/secret-path`, HEADERS, '{}');
    expect(result).toEqual({ kind: 'error', error: 'no answer: ECONNREFUSED' });
  });

  it('names receivers by origin only', () => {
    expect(receiverOf('https://hooks.example.com/catch/123/abc?token=t')).toBe('https://hooks.example.com');
    expect(receiverOf('not a url')).toBe('(invalid URL)');
  });
});
