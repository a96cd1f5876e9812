import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Waiters } from './wait';

/**
 * The manual verification recipe of the README (Post-call webhooks), with the receiver's clock
 * given: the key is the base64 after `whsec_`, decoded; the signed content is
 * `<webhook-id>.<webhook-timestamp>.<raw body>`; `webhook-signature` holds space-separated
 * `v1,<base64 HMAC-SHA256>` entries, one of which must match; the timestamp must be within 5 minutes.
 */
export function verifyWebhook(secret: string, headers: IncomingHttpHeaders, rawBody: string, nowMs: number = Date.now()): boolean {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string') return false;
  if (!/^\d+$/.test(timestamp) || Math.abs(nowMs / 1000 - Number(timestamp)) > 5 * 60) return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${rawBody}`).digest();
  return signatures.split(' ').some((entry) => {
    const [version, signature] = entry.split(',');
    const given = Buffer.from(signature ?? '', 'base64');
    return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
  });
}

export interface ReceivedWebhook {
  readonly headers: IncomingHttpHeaders;
  readonly rawBody: string;
  /** What the receiver answered. */
  readonly status: number;
  /** The signature checked out (verifyWebhook, with the receiver's clock). */
  readonly verified: boolean;
  /** The body parsed. */
  readonly event: { type: string; timestamp: string; data: Record<string, unknown> };
}

/**
 * A webhook receiver on 127.0.0.1, as a business would run one: it checks each request's
 * signature, answers what the test scripted (else 2xx), and processes each event id once however
 * often it comes. It can go down (connections refused) and come back on the same port.
 */
export class WebhookReceiver {
  readonly requests: ReceivedWebhook[] = [];
  /** Event ids processed (answered 2xx, signature valid), in order; each at most once. */
  readonly processed: string[] = [];
  /** Times a 2xx was answered per event id (a well-behaved sender makes it 1). */
  readonly accepted = new Map<string, number>();
  private readonly waiters = new Waiters('WebhookReceiver');
  private readonly script: number[] = [];
  private server: Server;
  private port = 0;

  private constructor(
    private readonly secret: string,
    /** The receiver's clock, for the timestamp check. */
    private readonly now: () => number,
  ) {
    this.server = this.create();
  }

  static async start(secret: string, now: () => number = Date.now): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver(secret, now);
    await receiver.up();
    return receiver;
  }

  url(path = '/hooks/call-ended'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** The next `count` requests are answered `status`. */
  answer(status: number, count = 1): void {
    for (let i = 0; i < count; i++) this.script.push(status);
  }

  /** Stops listening: attempts meet a refused connection. */
  async down(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
    this.server = this.create();
  }

  /** Listens again, on the port it had. */
  async up(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  waitForRequests(count: number, predicate: (r: ReceivedWebhook) => boolean = () => true, timeoutMs?: number): Promise<ReceivedWebhook[]> {
    return this.waiters.until(
      `${count} webhook request(s)`,
      () => {
        const matching = this.requests.filter(predicate);
        return matching.length >= count ? matching : undefined;
      },
      () => this.requests.map((r) => `${String(r.headers['webhook-id'])} → ${r.status}`).join(', ') || '(nothing)',
      timeoutMs,
    );
  }

  /** Resolves once every one of `eventIds` has been processed. */
  waitForProcessed(eventIds: readonly string[], timeoutMs?: number): Promise<void> {
    return this.waiters.until(
      `events ${eventIds.join(', ')} processed`,
      () => (eventIds.every((id) => this.processed.includes(id)) ? true : undefined),
      () => `processed ${this.processed.join(', ') || '(nothing)'}`,
      timeoutMs,
    ).then(() => undefined);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    if (this.server.listening) await new Promise((resolve) => this.server.close(resolve));
  }

  private create(): Server {
    return createServer((req, res) => {
      let raw = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (raw += chunk));
      req.on('end', () => {
        const verified = verifyWebhook(this.secret, req.headers, raw, this.now());
        const status = !verified ? 401 : (this.script.shift() ?? 204);
        const id = String(req.headers['webhook-id']);
        if (status >= 200 && status < 300) {
          this.accepted.set(id, (this.accepted.get(id) ?? 0) + 1);
          if (!this.processed.includes(id)) this.processed.push(id);
        }
        this.requests.push({ headers: req.headers, rawBody: raw, status, verified, event: JSON.parse(raw) as ReceivedWebhook['event'] });
        res.writeHead(status).end();
        this.waiters.notify();
      });
    });
  }
}
