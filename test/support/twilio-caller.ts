/**
 * Twilio's side of a bidirectional Media Streams WebSocket (PROTOCOLS A2), for e2e tests: the
 * simulator's TwilioStreamPeer (frames as Twilio sends them, real-time playback, marks echoed when
 * played or cleared), with every frame kept and event-driven waits for assertions.
 */
import { mintStreamToken, STREAM_TOKEN_PARAMETER } from '../../src/security/stream-tokens';
import { randomBytes } from 'crypto';
import type WebSocket from 'ws';
import { Clock } from '../../src/common/clock';
import { SystemScheduler } from '../../src/common/scheduler';
import { openStreamSocket, TwilioStreamPeer, type EchoedMark } from '../../src/simulator/twilio-stream-peer';
import { summarize, Waiters, withTimeout, DEFAULT_TIMEOUT_MS } from './wait';

export type { EchoedMark };

/** Wall-clock milliseconds, so that the `at` of frames and echoes compares with Date.now() in tests. */
class DateClock extends Clock {
  now(): number {
    return Date.now();
  }
  epochMs(): number {
    return Date.now();
  }
}

/** The STREAM_TOKEN_SECRET startApp gives the service, so that callers can carry valid tokens. */
export const TEST_STREAM_TOKEN_SECRET = 'test-stream-token-secret-0123456789abcdef';

/**
 * A stream token for `callSid` under TEST_STREAM_TOKEN_SECRET. By default it expires in 30 days,
 * so that tests which move the app's clock forward (session expiry) still start calls.
 */
export function testStreamToken(callSid: string, expiresAtSeconds = Math.ceil(Date.now() / 1000) + 30 * 24 * 3600): string {
  return mintStreamToken(Buffer.from(TEST_STREAM_TOKEN_SECRET), callSid, expiresAtSeconds);
}

export interface TwilioCallerOptions {
  callSid?: string;
  streamSid?: string;
  accountSid?: string;
  customParameters?: Record<string, string>;
  /**
   * The streamToken parameter of the start frame. Default: a valid token for this call under
   * TEST_STREAM_TOKEN_SECRET; null: none.
   */
  streamToken?: string | null;
  /** Extra headers on the upgrade request (e.g. x-twilio-signature). */
  headers?: Record<string, string>;
  /** Opening-handshake timeout. Default 5000 ms. */
  connectTimeoutMs?: number;
}

const sid = (prefix: string) => prefix + randomBytes(16).toString('hex');

export class TwilioCaller {
  readonly callSid: string;
  readonly streamSid: string;
  readonly accountSid: string;
  /** Every frame from the server, parsed, with `at` (Date.now() on arrival); bad frames as { event: '__invalid__', raw }. */
  readonly received: any[] = [];
  /** Decoded payloads of accepted outbound media frames, in arrival order. */
  readonly media: Buffer[] = [];
  readonly echoedMarks: EchoedMark[] = [];
  /** What real Twilio would complain about: binary/malformed frames, wrong streamSid, nameless marks, unknown events. */
  readonly warnings: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  private readonly peer: TwilioStreamPeer;
  private readonly waiters: Waiters;
  private readonly returned = new Set<unknown>();

  private constructor(ws: WebSocket, opts: TwilioCallerOptions) {
    this.callSid = opts.callSid ?? sid('CA');
    this.streamSid = opts.streamSid ?? sid('MZ');
    this.accountSid = opts.accountSid ?? sid('AC');
    const streamToken = opts.streamToken === undefined ? testStreamToken(this.callSid) : opts.streamToken;
    const customParameters = { ...opts.customParameters, ...(streamToken === null ? {} : { [STREAM_TOKEN_PARAMETER]: streamToken }) };
    this.waiters = new Waiters(`TwilioCaller ${this.callSid}`);
    let closed!: (result: { code: number; reason: string }) => void;
    this.closed = new Promise((resolve) => (closed = resolve));
    this.peer = new TwilioStreamPeer(ws, { callSid: this.callSid, streamSid: this.streamSid, accountSid: this.accountSid, customParameters }, new DateClock(), new SystemScheduler(), {
      frame: (frame, at) => this.received.push(Object.assign(frame, { at })),
      invalid: (raw, at) => this.received.push({ event: '__invalid__', raw, at }),
      warning: (text) => this.warnings.push(text),
      audio: (audio) => this.media.push(audio),
      markEchoed: (mark) => this.echoedMarks.push(mark),
      changed: () => this.waiters.notify(),
      closed: (code, reason) => {
        this.waiters.fail(`socket closed (code ${code})`);
        closed({ code, reason });
      },
    });
  }

  /** Resolves once the socket is open; rejects with the HTTP status if the upgrade is refused. */
  static async connect(url: string, opts: TwilioCallerOptions = {}): Promise<TwilioCaller> {
    const { ws, opened } = openStreamSocket(url, { headers: opts.headers, handshakeTimeoutMs: opts.connectTimeoutMs ?? DEFAULT_TIMEOUT_MS });
    const caller = new TwilioCaller(ws, opts);
    await opened;
    return caller;
  }

  // ---- Twilio → server -------------------------------------------------------------------------

  sendConnected(): void {
    this.peer.sendConnected();
  }

  /** Also (re)starts the stream clock used by startTalking(). */
  sendStart(): void {
    this.peer.sendStart();
  }

  /** One media frame; `timestampMs` defaults to 20 ms after the previous frame's. */
  sendMedia(payload: Buffer, timestampMs?: number): void {
    this.peer.sendMedia(payload, timestampMs);
  }

  /**
   * Sends one frame every 20 ms of wall-clock time, timestamped from the stream clock (ms since
   * sendStart(); gaps between calls show up as timestamp gaps, as with real Twilio). Resolves after
   * the last frame, or early if the socket closes.
   */
  async startTalking(frames: Buffer[]): Promise<void> {
    await this.peer.talk(frames);
  }

  sendDtmf(digit: string): void {
    this.peer.sendDtmf(digit);
  }

  sendStop(): void {
    this.peer.sendStop();
  }

  sendRaw(data: string | Buffer, binary = false): void {
    this.peer.sendRaw(data, binary);
  }

  close(code = 1000): void {
    this.peer.close(code);
  }

  terminate(): void {
    this.peer.terminate();
  }

  /** A stalled connection: the socket is no longer read, so the server's send buffer fills. */
  stopReading(): void {
    this.peer.stopReading();
  }

  resumeReading(): void {
    this.peer.resumeReading();
  }

  // ---- what the server sent ----------------------------------------------------------------------

  /** The first frame of `event` (matching `predicate`) not returned before; immediate if already there. */
  waitFor(event: string, predicate?: (f: any) => boolean, timeoutMs: number = DEFAULT_TIMEOUT_MS): Promise<any> {
    return this.waiters.until(
      `server frame "${event}"${predicate ? ' matching the predicate' : ''}`,
      () => {
        const found = this.received.find((f) => f.event === event && !this.returned.has(f) && (!predicate || predicate(f)));
        if (found !== undefined) this.returned.add(found);
        return found;
      },
      () => this.describeReceived(),
      timeoutMs,
    );
  }

  /** Resolves when a mark named `name` has been echoed back to the server. */
  waitForEcho(name: string, timeoutMs: number = DEFAULT_TIMEOUT_MS): Promise<EchoedMark> {
    return this.waiters.until(
      `the echo of mark "${name}"`,
      () => this.echoedMarks.find((m) => m.name === name),
      () => `${this.describeReceived()}; echoed marks: [${this.echoedMarks.map((m) => m.name).join(', ')}]`,
      timeoutMs,
    );
  }

  waitForClose(timeoutMs: number = DEFAULT_TIMEOUT_MS): Promise<{ code: number; reason: string }> {
    return withTimeout(this.closed, `TwilioCaller ${this.callSid} to close`, timeoutMs);
  }

  // ---- playback ---------------------------------------------------------------------------------

  playedMs(): number {
    return this.peer.playedMs();
  }

  playedAudio(): Buffer {
    return this.peer.playedAudio();
  }

  queuedMs(): number {
    return this.peer.queuedMs();
  }

  waitForPlayed(ms: number, timeoutMs: number = DEFAULT_TIMEOUT_MS): Promise<void> {
    const unwatch = this.peer.watchPlayed(ms);
    return this.waiters
      .until(
        `${ms} ms of agent audio to be played`,
        () => (this.peer.playedMs() >= ms ? true : undefined),
        () => `played ${this.playedMs()} ms, queued ${this.queuedMs()} ms; ${this.describeReceived()}`,
        timeoutMs,
      )
      .then(() => undefined)
      .finally(unwatch);
  }

  private describeReceived(): string {
    return summarize(this.received.map((f) => String(f.event)));
  }
}
