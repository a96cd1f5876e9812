/**
 * Twilio's side of a bidirectional Media Streams WebSocket (PROTOCOLS A2), for e2e tests: sends
 * connected/start/media/dtmf/stop frames like Twilio and plays the server's outbound audio in
 * real time, echoing marks when playback reaches them (or immediately / on clear, as Twilio does).
 */
import { wsBytes } from '../../src/common/ws-text';
import { mintStreamToken, STREAM_TOKEN_PARAMETER } from '../../src/security/stream-tokens';
import { randomBytes } from 'crypto';
import WebSocket, { RawData } from 'ws';
import { summarize, Waiters, withTimeout, DEFAULT_TIMEOUT_MS } from './wait';

/** μ-law 8 kHz mono: one byte per sample. */
const BYTES_PER_MS = 8;
const FRAME_MS = 20;

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

export interface EchoedMark {
  name: string;
  at: number;
  /** True when echoed because a clear dropped it, not because its audio played. */
  flushed: boolean;
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

  private readonly customParameters: Record<string, string>;
  private readonly waiters: Waiters;
  private readonly returned = new Set<unknown>();
  private sequenceNumber = 0;
  private chunk = 0;
  private nextTimestamp = 0;
  private streamStartAt = Date.now();
  private readonly pacing = new Set<(proceed: boolean) => void>();

  // Playback. The played position is derived from the wall clock, never from timer ticks:
  // position = runStartBytes + (now - runStartAt) * 8, capped at the end of the queued audio.
  private timeline: Buffer[] = [];
  private timelineEnd = 0;
  private runStartAt = 0;
  private runStartBytes = 0;
  private frozenAt: number | null = null;
  private pendingMarks: Array<{ name: string; atByte: number }> = [];
  private playedTargets: number[] = [];
  private playTimer: NodeJS.Timeout | undefined;
  private tick: NodeJS.Timeout | undefined;

  private constructor(
    private readonly ws: WebSocket,
    opts: TwilioCallerOptions,
  ) {
    this.callSid = opts.callSid ?? sid('CA');
    this.streamSid = opts.streamSid ?? sid('MZ');
    this.accountSid = opts.accountSid ?? sid('AC');
    const streamToken = opts.streamToken === undefined ? testStreamToken(this.callSid) : opts.streamToken;
    this.customParameters = { ...opts.customParameters, ...(streamToken === null ? {} : { [STREAM_TOKEN_PARAMETER]: streamToken }) };
    this.waiters = new Waiters(`TwilioCaller ${this.callSid}`);
    this.closed = new Promise((resolve) => {
      ws.once('close', (code, reason) => {
        this.onClosed(code);
        resolve({ code, reason: reason.toString() });
      });
    });
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
  }

  /** Resolves once the socket is open; rejects with the HTTP status if the upgrade is refused. */
  static connect(url: string, opts: TwilioCallerOptions = {}): Promise<TwilioCaller> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, {
        headers: opts.headers,
        perMessageDeflate: false,
        handshakeTimeout: opts.connectTimeoutMs ?? DEFAULT_TIMEOUT_MS,
      });
      const caller = new TwilioCaller(ws, opts);
      ws.once('open', () => resolve(caller));
      // ws reports a refused upgrade as "Unexpected server response: 503". Errors after 'open'
      // (e.g. the server dropping the socket) just lead to 'close'.
      ws.on('error', (err) => reject(new Error(`TwilioCaller: could not connect to ${url}: ${err.message}`)));
    });
  }

  // ---- Twilio → server -------------------------------------------------------------------------

  sendConnected(): void {
    this.sendJson({ event: 'connected', protocol: 'Call', version: '1.0.0' });
  }

  /** Also (re)starts the stream clock used by startTalking(). */
  sendStart(): void {
    this.streamStartAt = Date.now();
    this.sendJson({
      event: 'start',
      sequenceNumber: this.nextSequence(),
      streamSid: this.streamSid,
      start: {
        streamSid: this.streamSid,
        accountSid: this.accountSid,
        callSid: this.callSid,
        tracks: ['inbound'],
        customParameters: this.customParameters,
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
    });
  }

  /** One media frame; `timestampMs` defaults to 20 ms after the previous frame's. */
  sendMedia(payload: Buffer, timestampMs: number = this.nextTimestamp): void {
    this.nextTimestamp = timestampMs + FRAME_MS;
    // Twilio's order, streamSid last.
    this.sendJson({
      event: 'media',
      sequenceNumber: this.nextSequence(),
      media: { track: 'inbound', chunk: String(++this.chunk), timestamp: String(timestampMs), payload: payload.toString('base64') },
      streamSid: this.streamSid,
    });
  }

  /**
   * Sends one frame every 20 ms of wall-clock time, timestamped from the stream clock (ms since
   * sendStart(); gaps between calls show up as timestamp gaps, as with real Twilio). Resolves after
   * the last frame, or early if the socket closes.
   */
  async startTalking(frames: Buffer[]): Promise<void> {
    const t0 = Date.now();
    const firstTimestamp = Math.max(this.nextTimestamp, Math.floor((t0 - this.streamStartAt) / FRAME_MS) * FRAME_MS);
    for (let i = 0; i < frames.length; i++) {
      // Pacing the simulated caller in real time, not synchronisation.
      if (i > 0 && !(await this.pace(t0 + i * FRAME_MS))) return;
      if (this.ws.readyState !== WebSocket.OPEN) return;
      this.sendMedia(frames[i], firstTimestamp + i * FRAME_MS);
    }
  }

  sendDtmf(digit: string): void {
    this.sendJson({
      event: 'dtmf',
      sequenceNumber: this.nextSequence(),
      streamSid: this.streamSid,
      dtmf: { track: 'inbound_track', digit },
    });
  }

  sendStop(): void {
    this.sendJson({
      event: 'stop',
      sequenceNumber: this.nextSequence(),
      streamSid: this.streamSid,
      stop: { accountSid: this.accountSid, callSid: this.callSid },
    });
  }

  sendRaw(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }

  close(code = 1000): void {
    this.ws.close(code);
  }

  terminate(): void {
    this.ws.terminate();
  }

  /** A stalled connection: the socket is no longer read, so the server's send buffer fills. */
  stopReading(): void {
    this.ws.pause();
  }

  resumeReading(): void {
    this.ws.resume();
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
    return this.position() / BYTES_PER_MS;
  }

  playedAudio(): Buffer {
    return Buffer.concat(this.timeline).subarray(0, this.position());
  }

  queuedMs(): number {
    return (this.timelineEnd - this.position()) / BYTES_PER_MS;
  }

  waitForPlayed(ms: number, timeoutMs: number = DEFAULT_TIMEOUT_MS): Promise<void> {
    const target = ms * BYTES_PER_MS;
    this.playedTargets.push(target);
    this.schedule();
    return this.waiters
      .until(
        `${ms} ms of agent audio to be played`,
        () => (this.position() >= target ? true : undefined),
        () => `played ${this.playedMs()} ms, queued ${this.queuedMs()} ms; ${this.describeReceived()}`,
        timeoutMs,
      )
      .then(() => undefined)
      .finally(() => this.playedTargets.splice(this.playedTargets.indexOf(target), 1));
  }

  private position(now = Date.now()): number {
    if (this.frozenAt !== null) return this.frozenAt;
    return Math.min(this.timelineEnd, this.runStartBytes + Math.max(0, now - this.runStartAt) * BYTES_PER_MS);
  }

  private enqueueAudio(audio: Buffer, now: number): void {
    if (this.position(now) >= this.timelineEnd) {
      // Queue ran dry: playback resumes at this arrival.
      this.runStartAt = now;
      this.runStartBytes = this.timelineEnd;
    }
    this.timeline.push(audio);
    this.timelineEnd += audio.length;
  }

  private enqueueMark(name: string, now: number): void {
    this.sync(now);
    if (this.position(now) >= this.timelineEnd) this.echo(name, false, now);
    else this.pendingMarks.push({ name, atByte: this.timelineEnd });
    this.schedule();
  }

  private clear(now: number): void {
    this.sync(now);
    const pos = this.position(now);
    this.timeline = [Buffer.concat(this.timeline).subarray(0, pos)];
    this.timelineEnd = pos;
    const flushed = this.pendingMarks;
    this.pendingMarks = [];
    for (const mark of flushed) this.echo(mark.name, true, now);
    this.schedule();
  }

  /** Echoes marks whose audio has played, wakes waiters and re-arms the timer. */
  private sync(now = Date.now()): void {
    const pos = this.position(now);
    while (this.pendingMarks.length > 0 && this.pendingMarks[0].atByte <= pos) {
      this.echo(this.pendingMarks.shift()!.name, false, now);
    }
    this.waiters.notify();
    this.schedule();
  }

  /**
   * One timer, set to the exact due time of the next mark or waitForPlayed target, and, like
   * Twilio's own 20 ms frame clock, a tick while marks or targets wait: timers and Date.now()
   * run on different clocks, and the tick makes sure a due echo is never left waiting.
   */
  private schedule(): void {
    clearTimeout(this.playTimer);
    this.playTimer = undefined;
    const waiting = this.frozenAt === null && (this.pendingMarks.length > 0 || this.playedTargets.length > 0);
    if (waiting && !this.tick) {
      this.tick = setInterval(() => this.sync(), 20);
    } else if (!waiting && this.tick) {
      clearInterval(this.tick);
      this.tick = undefined;
    }
    const now = Date.now();
    const pos = this.position(now);
    if (this.frozenAt !== null || pos >= this.timelineEnd) return;
    const candidates = this.playedTargets.filter((t) => t > pos && t <= this.timelineEnd);
    if (this.pendingMarks.length > 0) candidates.push(this.pendingMarks[0].atByte);
    if (candidates.length === 0) return;
    const dueAt = this.runStartAt + (Math.min(...candidates) - this.runStartBytes) / BYTES_PER_MS;
    this.playTimer = setTimeout(() => this.sync(), Math.max(0, Math.ceil(dueAt - now)));
  }

  private echo(name: string, flushed: boolean, now: number): void {
    this.echoedMarks.push({ name, at: now, flushed });
    this.sendJson({ event: 'mark', sequenceNumber: this.nextSequence(), streamSid: this.streamSid, mark: { name } });
  }

  // ---- plumbing ---------------------------------------------------------------------------------

  private onMessage(data: RawData, isBinary: boolean): void {
    const now = Date.now();
    const raw = wsBytes(data);
    let frame: any;
    try {
      frame = isBinary ? undefined : JSON.parse(raw.toString('utf8'));
    } catch {
      frame = undefined;
    }
    if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) {
      this.warnings.push(isBinary ? 'binary frame (Twilio error 31950)' : `undecodable frame: ${raw.toString('utf8').slice(0, 80)}`);
      this.received.push({ event: '__invalid__', raw: isBinary ? raw : raw.toString('utf8'), at: now });
      this.waiters.notify();
      return;
    }
    frame.at = now;
    this.received.push(frame);
    this.handle(frame, now);
    this.waiters.notify();
  }

  private handle(frame: any, now: number): void {
    const event = frame.event;
    if (event !== 'media' && event !== 'mark' && event !== 'clear') {
      this.warnings.push(`unknown event ${JSON.stringify(event)}`);
      return;
    }
    if (frame.streamSid !== this.streamSid) {
      this.warnings.push(`${event} with streamSid ${JSON.stringify(frame.streamSid)}, expected ${this.streamSid}: ignored`);
      return;
    }
    if (this.frozenAt !== null) return;
    if (event === 'media') {
      const payload = frame.media?.payload;
      if (typeof payload !== 'string') {
        this.warnings.push('media frame without a string media.payload: ignored');
        return;
      }
      const audio = Buffer.from(payload, 'base64');
      this.media.push(audio);
      this.enqueueAudio(audio, now);
      this.sync(now);
    } else if (event === 'mark') {
      const name = frame.mark?.name;
      if (typeof name !== 'string' || name === '') {
        this.warnings.push('mark frame without mark.name: ignored');
        return;
      }
      this.enqueueMark(name, now);
    } else {
      this.clear(now);
    }
  }

  private onClosed(code: number): void {
    // The call is over: playback stops where it was, pending marks are never echoed.
    this.frozenAt = this.position();
    this.pendingMarks = [];
    clearTimeout(this.playTimer);
    clearInterval(this.tick);
    this.tick = undefined;
    for (const proceed of [...this.pacing]) proceed(false);
    this.waiters.fail(`socket closed (code ${code})`);
  }

  private pace(dueAt: number): Promise<boolean> {
    return new Promise((resolve) => {
      const proceed = (ok: boolean) => {
        clearTimeout(timer);
        this.pacing.delete(proceed);
        resolve(ok);
      };
      const timer = setTimeout(() => proceed(true), Math.max(0, dueAt - Date.now()));
      this.pacing.add(proceed);
    });
  }

  private sendJson(frame: object): void {
    // Frames to a socket that is already closing are dropped, as a hung-up call would.
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  private nextSequence(): string {
    return String(++this.sequenceNumber);
  }

  private describeReceived(): string {
    return summarize(this.received.map((f) => String(f.event)));
  }
}
