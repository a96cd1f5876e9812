import type { Logger } from 'pino';
import WebSocket from 'ws';
import type { Clock } from '../common/clock';
import { BYTES_PER_MS } from '../common/mulaw';
import type { CallMetrics } from '../metrics/call-metrics';
import { SendBackpressure, SendVerdict } from './send-backpressure';
import { readTwilioMessage, TwilioOutbound } from './twilio-protocol';

/** Malformed frames logged one by one before they are only counted. */
const MAX_LOGGED_MALFORMED = 5;

/** Close codes we send. Any close from our side makes Twilio run the TwiML after </Connect>. */
export const CLOSE_NORMAL = 1000;
export const CLOSE_FAILURE = 1011;

/** The TCP socket under the Twilio WebSocket: corked while a delta and its mark are queued, so they leave in one write. */
export interface CorkableTransport {
  cork(): void;
  uncork(): void;
}

/** Agent audio just sent to Twilio. */
export interface SentAudio {
  readonly responseId: string;
  readonly itemId: string;
  /** Duration of the audio just sent. */
  readonly durationMs: number;
  /** Model audio received for this item so far, including any dropped under backpressure. */
  readonly itemAudioMs: number;
}

/** Keeps account of agent audio sent to Twilio and names the mark that follows each delta. */
export interface PlayoutLedger {
  /** The name of the mark to send right after the run, or null to send none. */
  audioSent(sent: SentAudio): string | null;
}

/** What arrives from Twilio once the stream has started, in order. */
export interface MediaStreamListener {
  onMedia(payload: string, timestampMs: number): void;
  onMark(name: string): void;
  onDtmf(digit: string): void;
  onStop(): void;
  /** The socket is gone, whoever closed it. */
  onClosed(): void;
  /** Twilio has not read agent audio for longer than the stall timeout. */
  onStalled(): void;
}

/** Malformed frames of one media stream, from its first byte: logged a few times, then only counted. */
export class MalformedFrames {
  private n = 0;

  constructor(private log: Logger) {}

  get count(): number {
    return this.n;
  }

  /** Logs with the call's identity from now on. */
  relog(log: Logger): void {
    this.log = log;
  }

  seen(reason: string): void {
    if (++this.n <= MAX_LOGGED_MALFORMED) this.log.warn({ reason, count: this.n }, 'ignored a malformed Twilio frame');
  }
}

export interface TwilioMediaStreamOptions {
  readonly streamSid: string;
  readonly ledger: PlayoutLedger;
  readonly clock: Clock;
  readonly log: Logger;
  readonly malformed: MalformedFrames;
  /** Agent audio is dropped while this much waits in the socket; a stall this long ends the call. */
  readonly sendBufferMaxBytes: number;
  readonly sendStallTimeoutMs: number;
  /** Sees the agent audio that is sent (the recording), or null. */
  readonly agentAudio: AgentAudioSink | null;
  /** Counts the agent audio dropped under backpressure. */
  readonly metrics: CallMetrics;
}

/** Receives agent audio as it is sent: base64 mu-law of `bytes` bytes. */
export type AgentAudioSink = (base64: string, bytes: number) => void;

/** The bytes a base64 text decodes to, counted without decoding it. */
export function base64Bytes(base64: string): number {
  const padding = base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0;
  return (base64.length >> 2) * 3 - padding;
}

/**
 * A started Twilio media stream: the Twilio side of a call, as RealtimeLink is the model's.
 * Reads Twilio's frames and hands them to the listener; sends each delta of agent audio whole, as
 * the model sent it (Twilio plays media of any size in order), followed by a mark named by the
 * playout ledger, both in one write; drops agent audio while the socket is backed up; sends
 * `clear`; closes with a code that tells Twilio whether to run the fallback.
 */
export class TwilioMediaStream {
  private readonly out: TwilioOutbound;
  private readonly backpressure: SendBackpressure;
  private listener: MediaStreamListener | null = null;
  private closed = false;
  /** The stall was reported: the call is ending, and no further drop needs saying. */
  private stalled = false;
  // The agent item being sent, and how much of its audio the model has given.
  private itemId: string | null = null;
  private itemAudioMs = 0;

  constructor(
    private readonly socket: WebSocket,
    private readonly transport: CorkableTransport | null,
    private readonly options: TwilioMediaStreamOptions,
  ) {
    this.out = new TwilioOutbound(options.streamSid);
    this.backpressure = new SendBackpressure(options.sendBufferMaxBytes, options.sendStallTimeoutMs, options.clock);
  }

  get isOpen(): boolean {
    return !this.closed && this.socket.readyState === WebSocket.OPEN;
  }

  get malformedFrames(): number {
    return this.options.malformed.count;
  }

  /** Episodes of the socket being backed up, and the agent audio dropped in them. */
  get backpressureEpisodes(): { readonly episodes: number; readonly droppedAudioMs: number } {
    return { episodes: this.backpressure.episodes, droppedAudioMs: this.backpressure.droppedAudioMs };
  }

  /** Starts reading Twilio's frames; the socket's earlier listeners (the handshake's) must be gone. */
  listen(listener: MediaStreamListener): void {
    this.listener = listener;
    this.socket.on('message', (data: WebSocket.RawData, isBinary: boolean) => this.onMessage(data, isBinary));
    this.socket.on('close', () => listener.onClosed());
    this.socket.on('error', (err) => this.options.log.warn({ err: err.message }, 'twilio socket error'));
  }

  /** Reads frames that came before listen() (while the start was checked), in their order. */
  readHeld(frames: ReadonlyArray<[WebSocket.RawData, boolean]>): void {
    for (const [data, isBinary] of frames) this.onMessage(data, isBinary);
  }

  /**
   * Sends a delta of the agent's audio (`base64`, valid base64 of `bytes` mu-law bytes) and the
   * mark after it, in one write. False when it was not sent (closed, empty, or dropped under backpressure).
   */
  sendAgentAudio(responseId: string, itemId: string, base64: string, bytes: number): boolean {
    if (this.closed || bytes === 0) return false;
    if (itemId !== this.itemId) {
      this.itemId = itemId;
      this.itemAudioMs = 0;
    }
    const durationMs = bytes / BYTES_PER_MS;
    this.itemAudioMs += durationMs;
    const verdict = this.backpressure.check(this.socket.bufferedAmount, durationMs);
    if (verdict !== SendVerdict.Send) {
      this.options.metrics.twilioSendDropped();
      this.onBackpressure(verdict);
      return false;
    }
    const mark = this.options.ledger.audioSent({ responseId, itemId, durationMs, itemAudioMs: this.itemAudioMs });
    this.transport?.cork();
    try {
      this.socket.send(this.out.media(base64));
      if (mark !== null) this.socket.send(this.out.mark(mark));
    } finally {
      this.transport?.uncork();
    }
    this.options.agentAudio?.(base64, bytes);
    return true;
  }

  /**
   * Sends hold audio and its mark, in one write; no ledger entry (it is not the agent's). Skipped
   * (false) while the socket is backed up: hold audio is never worth queueing.
   */
  sendHoldAudio(base64: string, bytes: number, mark: string): boolean {
    if (!this.isOpen || bytes === 0 || this.socket.bufferedAmount > this.options.sendBufferMaxBytes) return false;
    this.transport?.cork();
    try {
      this.socket.send(this.out.media(base64));
      this.socket.send(this.out.mark(mark));
    } finally {
      this.transport?.uncork();
    }
    return true;
  }

  /** The item being sent must never be heard again (the caller spoke, or its session is gone). */
  forgetAgentItem(): void {
    this.itemId = null;
    this.itemAudioMs = 0;
  }

  /** Twilio drops the agent audio it has queued. */
  clear(): void {
    if (this.isOpen) this.socket.send(this.out.clear());
  }

  /** Closes the socket; nothing more is read or sent. */
  close(code: typeof CLOSE_NORMAL | typeof CLOSE_FAILURE, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.socket.readyState === WebSocket.OPEN) this.socket.close(code, reason.slice(0, 100));
  }

  private onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    const listener = this.listener;
    if (this.closed || !listener) return;
    const frame = readTwilioMessage(data, isBinary);
    switch (frame.event) {
      case 'media':
        listener.onMedia(frame.payload, frame.timestamp);
        return;
      case 'mark':
        listener.onMark(frame.name);
        return;
      case 'stop':
        listener.onStop();
        return;
      case 'dtmf':
        listener.onDtmf(frame.digit);
        return;
      case 'start':
        this.options.malformed.seen('second start');
        return;
      case 'connected':
        return;
      case 'invalid':
        this.options.malformed.seen(frame.reason);
        return;
    }
  }

  private onBackpressure(verdict: SendVerdict): void {
    if (verdict === SendVerdict.FirstDrop) {
      this.options.log.warn({ bufferedBytes: this.socket.bufferedAmount }, 'twilio socket not keeping up: dropping agent audio');
    } else if (verdict === SendVerdict.Stalled && !this.stalled) {
      this.stalled = true;
      this.options.log.error(
        { bufferedBytes: this.socket.bufferedAmount, droppedAudioMs: this.backpressure.droppedAudioMs },
        'twilio socket stalled: ending the call',
      );
      this.listener?.onStalled();
    }
  }
}
