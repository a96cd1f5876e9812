/**
 * A fake of Twilio's REST API (PROTOCOLS A5), three operations:
 * - the live-call update, POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json with a form
 *   body (Twiml or Status);
 * - the call create, POST /2010-04-01/Accounts/{AccountSid}/Calls.json, whose form it checks against
 *   Twilio's own OpenAPI definition (twilio-oai/, CreateCall): a request that breaks it is answered
 *   400 and its problems recorded. A valid one gets 201 with a new call, `queued`;
 * - the call fetch, GET /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json: a call it created
 *   (or addCall() made), with the status the test set (setCallStatus()), shaped as Twilio's
 *   definition of FetchCall's answer has it (twilio-oai/fetch-call-check.ts); 404 for any other call;
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

/** What the fake keeps of a call it created: what a Call resource shows beyond its SID. */
interface FakeCall {
  readonly accountSid: string;
  readonly to: string;
  readonly from: string;
  readonly direction: string;
  readonly created: Date;
  status: string;
  updated: Date;
  started: Date | null;
  ended: Date | null;
  durationSeconds: number | null;
  answeredBy: string | null;
}

/** Statuses a call ends in; an answered one (completed) has a duration. */
const ENDED = new Set(['completed', 'busy', 'failed', 'no-answer', 'canceled']);

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
  private readonly calls = new Map<string, FakeCall>();
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

  /** Lookups (GET) of a call, in order. */
  get fetchedCalls(): RecordedTwilioRequest[] {
    return this.requests.filter((r) => r.method === 'GET' && CALL_PATH.test(r.path));
  }

  /** The next authorized call update, create or fetch is answered with this Twilio error instead (queued, one each). */
  failNext(status: number, code: number, message: string): void {
    this.failures.push({ status, code, message });
  }

  /** A call as if created by the API (`queued`), without a create request; its SID. */
  addCall(to = '+15551230000', from = '+15557650000'): string {
    const callSid = `CA${randomBytes(16).toString('hex')}`;
    this.remember(callSid, this.options.accountSid, to, from);
    return callSid;
  }

  /**
   * Moves a call the fake knows to `status`, as Twilio would: in-progress starts it; an ending
   * status ends it, `completed` lasting `durationSeconds` (default 42), the others unanswered.
   */
  setCallStatus(callSid: string, status: string, options: { durationSeconds?: number; answeredBy?: string } = {}): void {
    const call = this.calls.get(callSid);
    if (!call) throw new Error(`the fake Twilio REST server has no call ${callSid}`);
    const now = new Date();
    call.status = status;
    call.updated = now;
    if (options.answeredBy !== undefined) call.answeredBy = options.answeredBy;
    if (status === 'in-progress' || status === 'completed') call.started ??= now;
    if (ENDED.has(status)) {
      call.ended = status === 'completed' ? now : null;
      call.durationSeconds = status === 'completed' ? (options.durationSeconds ?? 42) : null;
      if (status !== 'completed') call.started = null;
    }
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

  /** Once `count` recorded requests (from the start) match `predicate`: all those that do. */
  waitForRequests(predicate: (request: RecordedTwilioRequest) => boolean, count: number, timeoutMs: number = DEFAULT_TIMEOUT_MS): Promise<RecordedTwilioRequest[]> {
    return this.waiters.until(
      `${count} matching Twilio REST requests`,
      () => {
        const matching = this.requests.filter(predicate);
        return matching.length >= count ? matching : undefined;
      },
      () => `${this.requests.filter(predicate).length} matching of ${this.requests.length}: ${summarize(this.requests.map((r) => `${r.method} ${r.path}`))}`,
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
    const notFound = () => send(404, errorBody(404, 20404, `The requested resource ${request.path} was not found`));
    if (!request.callSid || request.accountSid !== this.options.accountSid) return notFound();
    if (request.method !== 'POST' && request.method !== 'GET') {
      return send(405, errorBody(405, 20004, 'Method not allowed'));
    }
    const failure = this.failures.shift();
    if (failure) return send(failure.status, errorBody(failure.status, failure.code, failure.message));
    const known = this.calls.get(request.callSid);
    if (request.method === 'GET') return known ? send(200, this.resourceOf(request.callSid, known)) : notFound();
    // A hang-up (Status=completed) or cancel ends a call the fake knows; other calls are answered as live.
    if (known && request.form.Status) this.setCallStatus(request.callSid, request.form.Status);
    send(200, known ? this.resourceOf(request.callSid, known) : this.callResource(request.accountSid, request.callSid, request.form.Status ?? 'in-progress'));
  }

  /** Calls.json: 400 for a request that breaks Twilio's definition, else 201 with the new call, queued. */
  private respondToCreate(request: RecordedTwilioRequest, send: (status: number, body: object) => void): void {
    const problems = request.definitionProblems ?? [];
    // Twilio's code for a parameter it does not take is 21xxx by parameter; one generic code is enough here.
    if (problems.length > 0) return send(400, errorBody(400, 20001, `Invalid request: ${problems.join('; ')}`));
    const failure = this.failures.shift();
    if (failure) return send(failure.status, errorBody(failure.status, failure.code, failure.message));
    const { To: to, From: from } = request.form;
    send(201, this.resourceOf(request.callSid!, this.remember(request.callSid!, request.accountSid!, to, from)));
  }

  private remember(callSid: string, accountSid: string, to: string, from: string): FakeCall {
    const now = new Date();
    const call: FakeCall = { accountSid, to, from, direction: 'outbound-api', created: now, status: 'queued', updated: now, started: null, ended: null, durationSeconds: null, answeredBy: null };
    this.calls.set(callSid, call);
    return call;
  }

  private resourceOf(callSid: string, call: FakeCall): object {
    return {
      ...this.callResource(call.accountSid, callSid, call.status),
      direction: call.direction,
      to: call.to,
      to_formatted: call.to,
      from: call.from,
      from_formatted: call.from,
      date_created: rfc2822(call.created),
      date_updated: rfc2822(call.updated),
      start_time: call.started && rfc2822(call.started),
      end_time: call.ended && rfc2822(call.ended),
      duration: call.durationSeconds === null ? null : String(call.durationSeconds),
      answered_by: call.answeredBy,
    };
  }

  private isAuthorized(header: string | undefined): boolean {
    if (!header?.startsWith('Basic ')) return false;
    const decoded = Buffer.from(header.slice('Basic '.length), 'base64').toString('utf8');
    return decoded === `${this.options.accountSid}:${this.options.authToken}`;
  }

  private callResource(accountSid: string, callSid: string, status: string): object {
    const now = rfc2822(new Date());
    return {
      sid: callSid,
      account_sid: accountSid,
      parent_call_sid: null,
      status,
      direction: 'inbound',
      from: '+15551230000',
      from_formatted: '+15551230000',
      to: '+15557650000',
      to_formatted: '+15557650000',
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

/** Twilio's date format: RFC 2822 in UTC, `Wed, 02 Dec 2026 15:00:00 +0000`. */
function rfc2822(date: Date): string {
  return date.toUTCString().replace('GMT', '+0000');
}
