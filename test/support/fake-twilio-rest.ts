/**
 * A fake of Twilio's REST API (PROTOCOLS A5), two operations:
 * - the live-call update, POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json with a form
 *   body (Twiml or Status);
 * - the call create, POST /2010-04-01/Accounts/{AccountSid}/Calls.json, whose form it checks against
 *   Twilio's own OpenAPI definition (twilio-oai/, CreateCall): a request that breaks it is answered
 *   400 and its problems recorded. A valid one gets 201 with a new call, `queued`.
 * - the message create, POST /2010-04-01/Accounts/{AccountSid}/Messages.json (see the Messages
 *   block below).
 * It checks HTTP Basic auth, records every request and answers like Twilio, or with a scripted error.
 */
import { randomBytes } from 'crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'http';
import { AddressInfo } from 'net';
import { createCallProblems } from './twilio-oai/create-call-check';
import { DEFAULT_TIMEOUT_MS, summarize, Waiters } from './wait';

export interface FakeTwilioRestOptions {
  readonly accountSid: string;
  readonly authToken: string;
}

export interface RecordedTwilioRequest {
  readonly method: string;
  readonly path: string;
  /** From the path (for a create, the SID of the call made); null when the path is not a call resource. */
  readonly accountSid: string | null;
  readonly callSid: string | null;
  /** Parsed application/x-www-form-urlencoded body; a repeated parameter has its last value here. */
  readonly form: Record<string, string>;
  /** Every parameter of the body in order, repeated ones (StatusCallbackEvent) as often as sent. */
  readonly formPairs: ReadonlyArray<readonly [string, string]>;
  /** A call create: what breaks Twilio's definition of it (empty when nothing); null for other requests. */
  readonly definitionProblems: readonly string[] | null;
  readonly headers: IncomingMessage['headers'];
  /** The Basic credentials matched the account SID and auth token. */
  readonly authorized: boolean;
  readonly at: Date;
}

interface ScriptedFailure {
  readonly status: number;
  readonly code: number;
  readonly message: string;
}

const CALL_PATH = /^\/2010-04-01\/Accounts\/(AC[0-9a-fA-F]{32})\/Calls\/(CA[0-9a-fA-F]{32})\.json$/;
const CALLS_PATH = /^\/2010-04-01\/Accounts\/(AC[0-9a-fA-F]{32})\/Calls\.json$/;

/** A message the fake took (Messages block). */
export interface RecordedTwilioMessage {
  readonly sid: string;
  readonly to: string;
  readonly from: string;
  readonly body: string;
  readonly statusCallback: string | null;
  readonly at: Date;
}

const MESSAGES_PATH = /^\/2010-04-01\/Accounts\/(AC[0-9a-fA-F]{32})\/Messages\.json$/;

/** Twilio's error body shape; RestException reads message/code/more_info from it. */
function errorBody(status: number, code: number, message: string): object {
  return { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status };
}

export class FakeTwilioRest {
  readonly requests: RecordedTwilioRequest[] = [];
  private readonly failures: ScriptedFailure[] = [];
  private readonly waiters = new Waiters('FakeTwilioRest');

  private constructor(
    private readonly server: Server,
    private readonly options: FakeTwilioRestOptions,
  ) {}

  static async start(options: FakeTwilioRestOptions): Promise<FakeTwilioRest> {
    const server = createServer();
    // Longer than any test: a client reusing a kept-alive socket must not race its closing.
    server.keepAliveTimeout = 60_000;
    const fake = new FakeTwilioRest(server, options);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => fake.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return fake;
  }

  /** What to configure as TWILIO_API_BASE_URL. */
  get baseUrl(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /** Calls created, in order. */
  get createdCalls(): RecordedTwilioRequest[] {
    return this.requests.filter((r) => r.method === 'POST' && CALLS_PATH.test(r.path));
  }

  /** The next authorized call update or create is answered with this Twilio error instead (queued, one each). */
  failNext(status: number, code: number, message: string): void {
    this.failures.push({ status, code, message });
  }

  /** The first recorded request (from the start) matching `predicate`, now or when it arrives. */
  waitForRequest(
    predicate: (request: RecordedTwilioRequest) => boolean = () => true,
    timeoutMs: number = DEFAULT_TIMEOUT_MS,
  ): Promise<RecordedTwilioRequest> {
    return this.waiters.until(
      'a matching Twilio REST request',
      () => this.requests.find(predicate),
      () => summarize(this.requests.map((r) => `${r.method} ${r.path}`)),
      timeoutMs,
    );
  }

  async close(): Promise<void> {
    this.waiters.fail('the fake Twilio REST server closed');
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // The twilio client keeps connections alive; without this close() would wait for them to idle out.
    this.server.closeAllConnections();
    await closed;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0];
      const match = CALL_PATH.exec(path);
      const create = req.method === 'POST' ? CALLS_PATH.exec(path) : null;
      const formPairs = [...new URLSearchParams(Buffer.concat(chunks).toString('utf8'))];
      const request: RecordedTwilioRequest = {
        method: req.method ?? '',
        path,
        accountSid: match?.[1] ?? create?.[1] ?? null,
        // A created call gets its SID when it is answered.
        callSid: match?.[2] ?? (create ? `CA${randomBytes(16).toString('hex')}` : null),
        form: Object.fromEntries(formPairs),
        formPairs,
        definitionProblems: create ? createCallProblems(formPairs) : null,
        headers: req.headers,
        authorized: this.isAuthorized(req.headers.authorization),
        at: new Date(),
      };
      this.requests.push(request);
      this.respond(request, res);
      this.waiters.notify();
    });
  }

  private respond(request: RecordedTwilioRequest, res: ServerResponse): void {
    const send = (status: number, body: object) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (!request.authorized) {
      res.setHeader('WWW-Authenticate', 'Basic realm="Twilio API"');
      return send(401, errorBody(401, 20003, 'Authenticate'));
    }
    if (request.method === 'POST' && MESSAGES_PATH.test(request.path)) return this.respondToMessage(request, send);
    if (request.definitionProblems !== null && request.accountSid === this.options.accountSid) return this.respondToCreate(request, send);
    if (!request.callSid || request.accountSid !== this.options.accountSid) {
      return send(404, errorBody(404, 20404, `The requested resource ${request.path} was not found`));
    }
    if (request.method !== 'POST') {
      return send(405, errorBody(405, 20004, 'Method not allowed'));
    }
    const failure = this.failures.shift();
    if (failure) return send(failure.status, errorBody(failure.status, failure.code, failure.message));
    send(200, this.callResource(request.accountSid, request.callSid, request.form.Status ?? 'in-progress'));
  }

  /** Calls.json: 400 for a request that breaks Twilio's definition, else 201 with the new call, queued. */
  private respondToCreate(request: RecordedTwilioRequest, send: (status: number, body: object) => void): void {
    const problems = request.definitionProblems ?? [];
    // Twilio's code for a parameter it does not take is 21xxx by parameter; one generic code is enough here.
    if (problems.length > 0) return send(400, errorBody(400, 20001, `Invalid request: ${problems.join('; ')}`));
    const failure = this.failures.shift();
    if (failure) return send(failure.status, errorBody(failure.status, failure.code, failure.message));
    const { To: to, From: from } = request.form;
    send(201, { ...this.callResource(request.accountSid!, request.callSid!, 'queued'), direction: 'outbound-api', to, from, start_time: null });
  }

  private isAuthorized(header: string | undefined): boolean {
    if (!header?.startsWith('Basic ')) return false;
    const decoded = Buffer.from(header.slice('Basic '.length), 'base64').toString('utf8');
    return decoded === `${this.options.accountSid}:${this.options.authToken}`;
  }

  private callResource(accountSid: string, callSid: string, status: string): object {
    const now = new Date().toUTCString().replace('GMT', '+0000');
    return {
      sid: callSid,
      account_sid: accountSid,
      parent_call_sid: null,
      status,
      direction: 'inbound',
      from: '+15551230000',
      to: '+15557650000',
      date_created: now,
      date_updated: now,
      start_time: now,
      end_time: status === 'completed' ? now : null,
      duration: status === 'completed' ? '42' : null,
      price: null,
      price_unit: 'USD',
      answered_by: null,
      api_version: '2010-04-01',
      caller_name: null,
      forwarded_from: null,
      group_sid: null,
      phone_number_sid: 'PN0123456789abcdef0123456789abcdef',
      queue_time: '0',
      trunk_sid: null,
      uri: `/2010-04-01/Accounts/${accountSid}/Calls/${callSid}.json`,
      subresource_uris: {
        notifications: `/2010-04-01/Accounts/${accountSid}/Calls/${callSid}/Notifications.json`,
        recordings: `/2010-04-01/Accounts/${accountSid}/Calls/${callSid}/Recordings.json`,
      },
    };
  }

  // --- Messages (SMS): POST /2010-04-01/Accounts/{AccountSid}/Messages.json ---------------------

  /** Messages created, in order, each with the SID it was given. */
  readonly messages: RecordedTwilioMessage[] = [];
  private readonly messageFailures: ScriptedFailure[] = [];

  /** The next message create is answered with this Twilio error instead (queued, one each); a 5xx reads as Twilio unreachable. */
  failNextMessage(status: number, code: number, message: string): void {
    this.messageFailures.push({ status, code, message });
  }

  /** The first message created (from the start) matching `predicate`, now or when it arrives. */
  waitForMessage(predicate: (message: RecordedTwilioMessage) => boolean = () => true, timeoutMs: number = DEFAULT_TIMEOUT_MS): Promise<RecordedTwilioMessage> {
    return this.waiters.until(
      'a matching Twilio message',
      () => this.messages.find(predicate),
      () => summarize(this.messages.map((m) => `to ${m.to}: ${m.body.slice(0, 40)}`)),
      timeoutMs,
    );
  }

  /** 201 with a queued message resource (SID SM…), as Twilio answers; To, From and Body are required. */
  private respondToMessage(request: RecordedTwilioRequest, send: (status: number, body: object) => void): void {
    const accountSid = MESSAGES_PATH.exec(request.path)![1];
    if (accountSid !== this.options.accountSid) return send(404, errorBody(404, 20404, `The requested resource ${request.path} was not found`));
    const { To: to, From: from, Body: body, StatusCallback: statusCallback } = request.form;
    if (!to || !body || (!from && !request.form.MessagingServiceSid)) return send(400, errorBody(400, 21604, "A 'To', 'From' and 'Body' are required"));
    const failure = this.messageFailures.shift();
    if (failure) return send(failure.status, errorBody(failure.status, failure.code, failure.message));
    const sid = `SM${randomBytes(16).toString('hex')}`;
    this.messages.push({ sid, to, from, body, statusCallback: statusCallback ?? null, at: request.at });
    const now = request.at.toUTCString().replace('GMT', '+0000');
    send(201, {
      sid,
      account_sid: accountSid,
      to,
      from,
      body,
      status: 'queued',
      direction: 'outbound-api',
      num_segments: '1',
      num_media: '0',
      price: null,
      price_unit: 'USD',
      error_code: null,
      error_message: null,
      messaging_service_sid: null,
      api_version: '2010-04-01',
      date_created: now,
      date_updated: now,
      date_sent: null,
      uri: `/2010-04-01/Accounts/${accountSid}/Messages/${sid}.json`,
      subresource_uris: { media: `/2010-04-01/Accounts/${accountSid}/Messages/${sid}/Media.json` },
    });
  }

}
