/**
 * Twilio's side of a bidirectional Media Streams WebSocket: sends connected/start/media/dtmf/stop
 * frames as Twilio writes them and plays the service's outbound audio in real time, echoing each
 * mark when playback reaches it, and at once (flushed) when a clear drops the audio before it, as
 * Twilio does. Used by the call simulator and by the e2e suite's Twilio caller.
 */
import WebSocket, { type RawData } from 'ws';
import type { Clock } from '../common/clock';
import { BYTES_PER_MS } from '../common/mulaw';
import type { ScheduledTask, Scheduler } from '../common/scheduler';
import { wsBytes } from '../common/ws-text';

export const FRAME_MS = 20;
/** One 20 ms frame of 8 kHz mu-law. */
export const FRAME_BYTES = FRAME_MS * BYTES_PER_MS;

export interface StreamIdentity {
  readonly callSid: string;
  readonly streamSid: string;
  readonly accountSid: string;
  /** The <Parameter>s of the TwiML's <Stream>: they arrive in start.customParameters. */
  readonly customParameters: Readonly<Record<string, string>>;
}

export interface EchoedMark {
  readonly name: string;
  /** Clock time of the echo. */
  readonly at: number;
  /** True when echoed because a clear dropped it, not because its audio played. */
  readonly flushed: boolean;
}

/** What the peer tells its owner. Every callback is optional. */
export interface StreamPeerListener {
  /** Every JSON object frame from the service, with its arrival time, before it is acted on. */
  frame?(frame: Record<string, unknown>, at: number): void;
  /** A binary or undecodable message. */
  invalid?(raw: Buffer | string, at: number): void;
  /** Something real Twilio would complain about (and ignore). */
  warning?(text: string): void;
  /** Agent audio accepted for playback. */
  audio?(audio: Buffer, at: number): void;
  markEchoed?(mark: EchoedMark): void;
  cleared?(at: number): void;
  /** After any change of playback state: a good moment to re-check conditions. */
  changed?(): void;
  closed?(code: number, reason: string): void;
}

export interface ConnectOptions {
  /** Extra headers on the upgrade request (X-Twilio-Signature). */
  readonly headers?: Record<string, string>;
  readonly handshakeTimeoutMs?: number;
}

/** Opens the WebSocket; rejects with ws's message (e.g. "Unexpected server response: 403") if refused. */
export function openStreamSocket(url: string, opts: ConnectOptions = {}): { ws: WebSocket; opened: Promise<void> } {
  const ws = new WebSocket(url, { headers: opts.headers, perMessageDeflate: false, handshakeTimeout: opts.handshakeTimeoutMs ?? 10_000 });
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    // Errors after 'open' lead to 'close', which the peer reports.
    ws.on('error', (err) => reject(new Error(`could not open the media stream ${url}: ${err.message}`)));
  });
  return { ws, opened };
}

export class TwilioStreamPeer {
  private sequenceNumber = 0;
  private chunk = 0;
  private nextTimestamp = 0;
  private streamStartAt: number;
  private readonly pacing = new Set<(proceed: boolean) => void>();

  // Playback. The played position is derived from the clock, never from timer ticks:
  // position = runStartBytes + (now - runStartAt) * 8, capped at the end of the queued audio.
  private timeline: Buffer[] = [];
  private timelineEnd = 0;
  private runStartAt = 0;
  private runStartBytes = 0;
  private frozenAt: number | null = null;
  private pendingMarks: Array<{ name: string; atByte: number }> = [];
  private readonly playedTargets: number[] = [];
  private playTimer: ScheduledTask | undefined;
  private tick: ScheduledTask | undefined;

  constructor(
    private readonly ws: WebSocket,
    readonly identity: StreamIdentity,
    private readonly clock: Clock,
    private readonly scheduler: Scheduler,
    private readonly listener: StreamPeerListener = {},
  ) {
    this.streamStartAt = clock.now();
    ws.once('close', (code, reason) => {
      this.onClosed();
      listener.closed?.(code, reason.toString());
    });
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  // ---- Twilio → service --------------------------------------------------------------------------

  sendConnected(): void {
    this.sendJson({ event: 'connected', protocol: 'Call', version: '1.0.0' });
  }

  /** Also (re)starts the stream clock media timestamps count from. */
  sendStart(): void {
    this.streamStartAt = this.clock.now();
    const { streamSid, accountSid, callSid, customParameters } = this.identity;
    this.sendJson({
      event: 'start',
      sequenceNumber: this.nextSequence(),
      streamSid,
      start: {
        streamSid,
        accountSid,
        callSid,
        tracks: ['inbound'],
        customParameters,
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
      streamSid: this.identity.streamSid,
    });
  }

  /** Milliseconds since sendStart() on the stream clock, rounded down to a frame. */
  streamTimeMs(): number {
    return Math.floor((this.clock.now() - this.streamStartAt) / FRAME_MS) * FRAME_MS;
  }

  /**
   * Sends one frame every 20 ms of clock time, timestamped from the stream clock (gaps between
   * calls show up as timestamp gaps, as with real Twilio). Resolves after the last frame, or early
   * (false) if the socket closes.
   */
  async talk(frames: readonly Buffer[]): Promise<boolean> {
    const t0 = this.clock.now();
    const firstTimestamp = Math.max(this.nextTimestamp, this.streamTimeMs());
    for (let i = 0; i < frames.length; i++) {
      if (i > 0 && !(await this.pace(t0 + i * FRAME_MS))) return false;
      if (!this.open) return false;
      this.sendMedia(frames[i], firstTimestamp + i * FRAME_MS);
    }
    return true;
  }

  sendDtmf(digit: string): void {
    this.sendJson({ event: 'dtmf', sequenceNumber: this.nextSequence(), streamSid: this.identity.streamSid, dtmf: { track: 'inbound_track', digit } });
  }

  sendStop(): void {
    const { streamSid, accountSid, callSid } = this.identity;
    this.sendJson({ event: 'stop', sequenceNumber: this.nextSequence(), streamSid, stop: { accountSid, callSid } });
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

  /** A stalled connection: the socket is no longer read, so the service's send buffer fills. */
  stopReading(): void {
    this.ws.pause();
  }

  resumeReading(): void {
    this.ws.resume();
  }

  // ---- playback ---------------------------------------------------------------------------------

  playedMs(): number {
    return this.position() / BYTES_PER_MS;
  }

  /** The agent audio played so far, as the caller heard it (cut where a clear dropped the rest). */
  playedAudio(): Buffer {
    return Buffer.concat(this.timeline).subarray(0, this.position());
  }

  queuedMs(): number {
    return (this.timelineEnd - this.position()) / BYTES_PER_MS;
  }

  /** Keeps the playback timer firing until `ms` of audio have played (or untilPlayed is dropped). */
  watchPlayed(ms: number): () => void {
    const target = ms * BYTES_PER_MS;
    this.playedTargets.push(target);
    this.schedule();
    return () => {
      const index = this.playedTargets.indexOf(target);
      if (index >= 0) this.playedTargets.splice(index, 1);
      this.schedule();
    };
  }

  private position(now = this.clock.now()): number {
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
    this.listener.cleared?.(now);
    this.schedule();
  }

  /** Echoes marks whose audio has played, tells the owner and re-arms the timer. */
  private sync(now = this.clock.now()): void {
    const pos = this.position(now);
    while (this.pendingMarks.length > 0 && this.pendingMarks[0].atByte <= pos) {
      this.echo(this.pendingMarks.shift()!.name, false, now);
    }
    this.listener.changed?.();
    this.schedule();
  }

  /**
   * One timer, set to the exact due time of the next mark or watched position, and, like Twilio's
   * own 20 ms frame clock, a tick while marks or targets wait: timers and the clock may drift
   * apart, and the tick makes sure a due echo is never left waiting.
   */
  private schedule(): void {
    this.playTimer?.cancel();
    this.playTimer = undefined;
    const waiting = this.frozenAt === null && (this.pendingMarks.length > 0 || this.playedTargets.length > 0);
    if (waiting && !this.tick) {
      this.tick = this.scheduler.every(FRAME_MS, () => this.sync());
    } else if (!waiting && this.tick) {
      this.tick.cancel();
      this.tick = undefined;
    }
    const now = this.clock.now();
    const pos = this.position(now);
    if (this.frozenAt !== null || pos >= this.timelineEnd) return;
    const candidates = this.playedTargets.filter((t) => t > pos && t <= this.timelineEnd);
    if (this.pendingMarks.length > 0) candidates.push(this.pendingMarks[0].atByte);
    if (candidates.length === 0) return;
    const dueAt = this.runStartAt + (Math.min(...candidates) - this.runStartBytes) / BYTES_PER_MS;
    this.playTimer = this.scheduler.after(Math.max(0, Math.ceil(dueAt - now)), () => this.sync());
  }

  private echo(name: string, flushed: boolean, now: number): void {
    this.sendJson({ event: 'mark', sequenceNumber: this.nextSequence(), streamSid: this.identity.streamSid, mark: { name } });
    this.listener.markEchoed?.({ name, at: now, flushed });
  }

  // ---- plumbing ---------------------------------------------------------------------------------

  private onMessage(data: RawData, isBinary: boolean): void {
    const now = this.clock.now();
    const raw = wsBytes(data);
    let frame: unknown;
    try {
      frame = isBinary ? undefined : JSON.parse(raw.toString('utf8'));
    } catch {
      frame = undefined;
    }
    if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) {
      this.listener.warning?.(isBinary ? 'binary frame (Twilio error 31950)' : `undecodable frame: ${raw.toString('utf8').slice(0, 80)}`);
      this.listener.invalid?.(isBinary ? raw : raw.toString('utf8'), now);
      this.listener.changed?.();
      return;
    }
    const parsed = frame as Record<string, unknown>;
    this.listener.frame?.(parsed, now);
    this.handle(parsed, now);
    this.listener.changed?.();
  }

  private handle(frame: Record<string, unknown>, now: number): void {
    const event = frame.event;
    if (event !== 'media' && event !== 'mark' && event !== 'clear') {
      this.listener.warning?.(`unknown event ${JSON.stringify(event)}`);
      return;
    }
    if (frame.streamSid !== this.identity.streamSid) {
      this.listener.warning?.(`${event} with streamSid ${JSON.stringify(frame.streamSid)}, expected ${this.identity.streamSid}: ignored`);
      return;
    }
    if (this.frozenAt !== null) return;
    if (event === 'media') {
      const payload = (frame.media as { payload?: unknown } | undefined)?.payload;
      if (typeof payload !== 'string') {
        this.listener.warning?.('media frame without a string media.payload: ignored');
        return;
      }
      const audio = Buffer.from(payload, 'base64');
      this.enqueueAudio(audio, now);
      this.listener.audio?.(audio, now);
      this.sync(now);
    } else if (event === 'mark') {
      const name = (frame.mark as { name?: unknown } | undefined)?.name;
      if (typeof name !== 'string' || name === '') {
        this.listener.warning?.('mark frame without mark.name: ignored');
        return;
      }
      this.enqueueMark(name, now);
    } else {
      this.clear(now);
    }
  }

  private onClosed(): void {
    // The call is over: playback stops where it was, pending marks are never echoed.
    this.frozenAt = this.position();
    this.pendingMarks = [];
    this.playTimer?.cancel();
    this.tick?.cancel();
    this.tick = undefined;
    for (const proceed of [...this.pacing]) proceed(false);
  }

  private pace(dueAt: number): Promise<boolean> {
    return new Promise((resolve) => {
      const proceed = (ok: boolean) => {
        task.cancel();
        this.pacing.delete(proceed);
        resolve(ok);
      };
      const task = this.scheduler.after(Math.max(0, dueAt - this.clock.now()), () => proceed(true));
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
}
