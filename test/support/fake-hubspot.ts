import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_TIMEOUT_MS, Waiters } from './wait';

export interface RecordedRequest {
  readonly method: string;
  /** Path and query, e.g. /crm/v3/objects/contacts/search. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** Parsed JSON body; undefined when empty. */
  readonly body: any;
  /** Epoch ms when the request arrived. */
  readonly at: number;
  /** What the fake answered; undefined while it hangs. */
  status?: number;
}

export interface FakeRecord {
  readonly id: string;
  properties: Record<string, string>;
  readonly associations?: unknown;
}

interface Failure {
  readonly status: number;
  readonly retryAfter?: string | number;
}

/**
 * An in-memory HubSpot speaking the CRM v3 endpoints the service uses, on 127.0.0.1. Every
 * request is recorded; failures and hangs can be scripted; waits are event-driven.
 */
export class FakeHubspot {
  readonly requests: RecordedRequest[] = [];
  readonly contacts = new Map<string, FakeRecord>();
  readonly calls = new Map<string, FakeRecord>();
  private readonly waiters = new Waiters('FakeHubspot');
  private readonly failures: Failure[] = [];
  private failAlways: Failure | undefined;
  private hanging = false;
  private nextId = 1000;

  private constructor(
    private readonly server: Server,
    readonly token: string,
  ) {}

  static async start(token = 'test-hubspot-token'): Promise<FakeHubspot> {
    const server = createServer();
    // Longer than any test: a client reusing a kept-alive socket must not race its closing.
    server.keepAliveTimeout = 60_000;
    const fake = new FakeHubspot(server, token);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => fake.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get baseUrl(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /** The next `n` requests get `status` (with Retry-After when given). */
  failNext(n: number, status: number, options: { retryAfter?: string | number } = {}): void {
    for (let i = 0; i < n; i++) this.failures.push({ status, retryAfter: options.retryAfter });
  }

  failAll(status: number, options: { retryAfter?: string | number } = {}): void {
    this.failAlways = { status, retryAfter: options.retryAfter };
  }

  /** Requests are recorded but never answered (until recover()). */
  hang(): void {
    this.hanging = true;
  }

  recover(): void {
    this.failAlways = undefined;
    this.failures.length = 0;
    this.hanging = false;
  }

  addContact(properties: Record<string, string>): string {
    const id = String(this.nextId++);
    this.contacts.set(id, { id, properties: { ...properties } });
    return id;
  }

  /** Resolves with the matching requests once at least `count` of them have arrived. */
  waitForRequests(
    count: number,
    predicate: (r: RecordedRequest) => boolean = () => true,
    timeoutMs: number = DEFAULT_TIMEOUT_MS,
  ): Promise<RecordedRequest[]> {
    return this.waiters.until(
      `${count} matching request(s)`,
      () => {
        const matching = this.requests.filter(predicate);
        return matching.length >= count ? matching : undefined;
      },
      () => this.requests.map((r) => `${r.method} ${r.path} ${r.status ?? '-'}`).join(', ') || '(nothing)',
      timeoutMs,
    );
  }

  async close(): Promise<void> {
    this.waiters.fail('fake closed');
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = text;
      }
      const recorded: RecordedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, at: Date.now() };
      this.requests.push(recorded);
      if (this.hanging) {
        this.waiters.notify();
        return;
      }
      const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
        recorded.status = status;
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(payload));
        this.waiters.notify();
      };
      const failure = this.failures.shift() ?? this.failAlways;
      if (failure) {
        const headers: Record<string, string> = failure.retryAfter !== undefined ? { 'retry-after': String(failure.retryAfter) } : {};
        send(failure.status, { status: 'error', category: failure.status === 429 ? 'RATE_LIMITS' : 'INTERNAL_ERROR' }, headers);
        return;
      }
      if (req.headers.authorization !== `Bearer ${this.token}`) {
        send(401, { status: 'error', category: 'INVALID_AUTHENTICATION' });
        return;
      }
      this.route(recorded, send);
    });
  }

  private route(r: RecordedRequest, send: (status: number, payload: unknown) => void): void {
    const now = new Date().toISOString();
    const view = (rec: FakeRecord) => ({ id: rec.id, properties: rec.properties, createdAt: now, updatedAt: now, archived: false });
    const contactPath = /^\/crm\/v3\/objects\/contacts\/([^/?]+)$/.exec(r.path);
    if (r.method === 'POST' && r.path === '/crm/v3/objects/contacts/search') {
      const filters: Array<{ propertyName: string; operator: string; value: string }> =
        r.body?.filterGroups?.flatMap((g: { filters: unknown[] }) => g.filters) ?? [];
      const results = [...this.contacts.values()].filter((c) =>
        filters.every((f) => f.operator === 'EQ' && c.properties[f.propertyName] === f.value),
      );
      send(200, { total: results.length, results: results.map(view) });
    } else if (r.method === 'POST' && r.path === '/crm/v3/objects/contacts') {
      const id = this.addContact(r.body?.properties ?? {});
      send(201, view(this.contacts.get(id)!));
    } else if (r.method === 'PATCH' && contactPath && contactPath[1] !== 'search') {
      const contact = this.contacts.get(decodeURIComponent(contactPath[1]));
      if (!contact) {
        send(404, { status: 'error', category: 'OBJECT_NOT_FOUND' });
        return;
      }
      Object.assign(contact.properties, r.body?.properties ?? {});
      send(200, view(contact));
    } else if (r.method === 'POST' && r.path === '/crm/v3/objects/calls') {
      const id = String(this.nextId++);
      this.calls.set(id, { id, properties: { ...(r.body?.properties ?? {}) }, associations: r.body?.associations });
      send(201, view(this.calls.get(id)!));
    } else {
      send(404, { status: 'error', category: 'OBJECT_NOT_FOUND' });
    }
  }
}
