import type { Logger } from 'pino';
import WebSocket from 'ws';
import type { Clock } from '../common/clock';
import { BYTES_PER_MS, FRAME_MS } from '../common/mulaw';
import { OutboundAudioFramer, type FrameSink } from './outbound-audio-framer';
import { SendBackpressure, SendVerdict } from './send-backpressure';
import { readTwilioMessage, TwilioOutbound } from './twilio-protocol';

/** A mark after at most this many frames bounds how far playback is estimated between echoes. */
const FRAMES_PER_MARK = 10;
/** Malformed frames logged one by one before they are only counted. */
const MAX_LOGGED_MALFORMED = 5;

/** Close codes we send. Any close from our side makes Twilio run the TwiML after </Connect>. */
export const CLOSE_NORMAL = 1000;
export const CLOSE_FAILURE = 1011;

/** The TCP socket under the Twilio WebSocket: corked while a delta's frames are queued, so they leave in one write. */
export interface CorkableTransport {
  cork(): void;
  uncork(): void;
}

/** A run of agent frames just sent to Twilio. */
export interface SentAudio {
  readonly responseId: string;
  readonly itemId: string;
  /** Duration of the whole frames just sent. */
  readonly durationMs: number;
  /** Model audio received for this item so far (excludes the silence that pads the last frame). */
  readonly itemAudioMs: number;
}

/** Keeps account of agent audio sent to Twilio and names the mark that follows each run. */
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
  /** Sees every agent frame as it is sent (the recording), or null. */
  readonly agentFrames: FrameSink | null;
}

/**
 * A started Twilio media stream: the Twilio side of a call, as RealtimeLink is the model's.
 * Reads Twilio's frames and hands them to the listener; sends agent audio re-cut into 20 ms
 * frames with a mark after every run (named by the playout ledger), corked per delta, dropped
 * while the socket is backed up; sends `clear`; closes with a code that tells Twilio whether to
 * run the fallback.
 */
export class TwilioMediaStream {
  private readonly out: TwilioOutbound;
  private readonly framer = new OutboundAudioFramer();
  private readonly backpressure: SendBackpressure;
  private listener: MediaStreamListener | null = null;
  private closed = false;
  /** The stall was reported: the call is ending, and no further drop needs saying. */
  private stalled = false;
  // The agent item whose audio is being framed, and how far it has got.
  private responseId = '';
  private itemId: string | null = null;
  private itemAudioBytes = 0;
  private framesSinceMark = 0;
  private readonly sendFrame: FrameSink = (frame) => {
    const verdict = this.backpressure.check(this.socket.bufferedAmount);
    if (verdict !== SendVerdict.Send) {
      this.onBackpressure(verdict);
      return;
    }
    this.socket.send(this.out.media(frame.toString('base64')));
    this.options.agentFrames?.(frame);
    if (++this.framesSinceMark >= FRAMES_PER_MARK) this.sendMark();
  };

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

  /** Episodes of the socket being backed up, and the agent frames dropped in them. */
  get backpressureEpisodes(): { readonly episodes: number; readonly droppedFrames: number } {
    return { episodes: this.backpressure.episodes, droppedFrames: this.backpressure.droppedFrames };
  }

  /** Starts reading Twilio's frames; the socket's earlier listeners (the handshake's) must be gone. */
  listen(listener: MediaStreamListener): void {
    this.listener = listener;
    this.socket.on('message', (data: WebSocket.RawData, isBinary: boolean) => this.onMessage(data, isBinary));
    this.socket.on('close', () => listener.onClosed());
    this.socket.on('error', (err) => this.options.log.warn({ err: err.message }, 'twilio socket error'));
  }

  /** Frames and sends a delta of the agent's audio. */
  sendAgentAudio(responseId: string, itemId: string, audio: Buffer): void {
    if (this.closed) return;
    this.transport?.cork();
    try {
      if (itemId !== this.itemId) {
        if (this.itemId !== null) this.finishAgentItem();
        this.responseId = responseId;
        this.itemId = itemId;
      }
      this.itemAudioBytes += audio.length;
      this.framer.push(audio, this.sendFrame);
      if (this.framesSinceMark > 0) this.sendMark();
    } finally {
      this.transport?.uncork();
    }
  }

  /** The item's audio is complete: the partial last frame goes out padded with silence. */
  agentItemDone(itemId: string): void {
    if (itemId === this.itemId) this.finishAgentItem();
  }

  /** Whatever item is being framed is complete (its session is gone). */
  finishAgentItem(): void {
    if (this.itemId === null || this.closed) return;
    this.framer.flush(this.sendFrame);
    if (this.framesSinceMark > 0) this.sendMark();
    this.forgetItem();
  }

  /** The audio being framed must never be heard (the caller spoke): its partial frame is dropped. */
  dropAgentItem(): void {
    this.framer.reset();
    this.framesSinceMark = 0;
    this.forgetItem();
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

  private sendMark(): void {
    const itemId = this.itemId;
    if (itemId === null) return;
    const name = this.options.ledger.audioSent({
      responseId: this.responseId,
      itemId,
      durationMs: this.framesSinceMark * FRAME_MS,
      itemAudioMs: this.itemAudioBytes / BYTES_PER_MS,
    });
    this.framesSinceMark = 0;
    if (name !== null) this.socket.send(this.out.mark(name));
  }

  private forgetItem(): void {
    this.responseId = '';
    this.itemId = null;
    this.itemAudioBytes = 0;
  }

  private onBackpressure(verdict: SendVerdict): void {
    if (this.closed) return;
    if (verdict === SendVerdict.FirstDrop) {
      this.options.log.warn({ bufferedBytes: this.socket.bufferedAmount }, 'twilio socket not keeping up: dropping agent audio');
    } else if (verdict === SendVerdict.Stalled && !this.stalled) {
      this.stalled = true;
      this.options.log.error(
        { bufferedBytes: this.socket.bufferedAmount, droppedFrames: this.backpressure.droppedFrames },
        'twilio socket stalled: ending the call',
      );
      this.listener?.onStalled();
    }
  }
}
