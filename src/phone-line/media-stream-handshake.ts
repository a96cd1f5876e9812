import type { Logger } from 'pino';
import type WebSocket from 'ws';
import type { ScheduledTask, Scheduler } from '../common/scheduler';
import { commandRefused, type CallCommandResult } from '../call/call-command';
import type { CallFactory } from '../call/call-factory';
import type { CallRegistry, LiveConnection } from '../call/call-registry';
import { STREAM_TOKEN_PARAMETER, type StreamTokens } from '../security/stream-tokens';
import { CLOSE_FAILURE, CLOSE_NORMAL, MalformedFrames, type CorkableTransport } from '../twilio/twilio-media-stream';
import { readTwilioMessage, type TwilioStart } from '../twilio/twilio-protocol';

/**
 * A connection that has not sent a valid `start` by then is closed. Twilio sends it right after
 * connecting; until then the socket holds a call slot, so an idle or hostile one must not keep it.
 */
export const START_TIMEOUT_MS = 10_000;

/**
 * Frames kept while a start's token is being checked (in Redis, CLAIM_TIMEOUT_MS at most): at
 * 50 media frames a second, ten times what that bound lets through.
 */
const MAX_HELD_FRAMES = 500;

export interface HandshakeDeps {
  readonly calls: Pick<CallFactory, 'start'>;
  readonly tokens: Pick<StreamTokens, 'redeem'>;
  readonly registry: CallRegistry;
  readonly scheduler: Scheduler;
  readonly log: Logger;
}

/**
 * A media stream from its first byte to its `start`: it holds a call slot, ignores (and counts)
 * anything before the start, closes the socket if no start comes in time, and admits only a start
 * carrying the stream token the voice webhook minted for that call. Then the call is built, whole,
 * and takes the socket over.
 */
export class MediaStreamHandshake implements LiveConnection {
  readonly callSid = null;
  readonly lastHeardAt = null;
  private readonly malformed: MalformedFrames;
  private readonly deadline: ScheduledTask;
  private done = false;
  /** Frames that came after the start while its token was being checked; null before the start. */
  private held: Array<[WebSocket.RawData, boolean]> | null = null;
  private readonly onMessage = (data: WebSocket.RawData, isBinary: boolean): void => this.read(data, isBinary);
  private readonly onClose = (): void => this.finish();
  private readonly onError = (err: Error): void => this.deps.log.warn({ err: err.message }, 'twilio socket error');

  constructor(
    private readonly socket: WebSocket,
    private readonly transport: CorkableTransport | null,
    private readonly deps: HandshakeDeps,
  ) {
    this.malformed = new MalformedFrames(deps.log);
    deps.registry.add(this);
    socket.on('message', this.onMessage);
    socket.on('close', this.onClose);
    socket.on('error', this.onError);
    this.deadline = deps.scheduler.after(START_TIMEOUT_MS, () => {
      if (this.done) return;
      deps.log.warn({ afterMs: START_TIMEOUT_MS, malformedFrames: this.malformed.count }, 'media stream sent no start frame: closing it');
      this.refuse('no_start');
    });
  }

  end(reason: 'shutdown' | 'ttl_expired'): void {
    this.refuse(reason);
  }

  /** Never found by call SID (it has none yet); here for the interface. */
  async command(): Promise<CallCommandResult> {
    return commandRefused(404, 'The call has not started.');
  }

  endWithGoodbye(): Promise<void> {
    this.refuse('shutdown');
    return Promise.resolve();
  }

  private read(data: WebSocket.RawData, isBinary: boolean): void {
    if (this.done) return;
    if (this.held) {
      // The call reads them once its token is accepted, in the order they came.
      if (this.held.length < MAX_HELD_FRAMES) this.held.push([data, isBinary]);
      else this.malformed.seen('frame beyond the hold while the stream token was checked');
      return;
    }
    const frame = readTwilioMessage(data, isBinary);
    switch (frame.event) {
      case 'start':
        this.started(frame);
        return;
      case 'connected':
        return;
      case 'invalid':
        this.malformed.seen(frame.reason);
        return;
      default:
        this.malformed.seen(`${frame.event} before start`);
    }
  }

  private started(start: TwilioStart): void {
    const held: Array<[WebSocket.RawData, boolean]> = (this.held = []);
    // Only a stream the voice webhook asked for gets a Realtime session (and a call record).
    this.deps.tokens.redeem(start.callSid, start.customParameters[STREAM_TOKEN_PARAMETER]).then(
      (refusal) => this.admit(start, refusal, held),
      (err: unknown) => {
        this.deps.log.error({ err, callSid: start.callSid, streamSid: start.streamSid }, 'stream token check failed');
        this.refuse('stream_token_unchecked');
      },
    );
  }

  private admit(start: TwilioStart, refusal: string | null, held: Array<[WebSocket.RawData, boolean]>): void {
    // The socket closed, or the start deadline passed, while the token was checked.
    if (this.done) return;
    const log = this.deps.log.child({ callSid: start.callSid, streamSid: start.streamSid });
    if (refusal) {
      log.warn({ refusal }, 'media stream refused: bad stream token');
      this.refuse(refusal);
      return;
    }
    this.detach();
    try {
      this.deps.calls.start({ socket: this.socket, transport: this.transport, start, malformed: this.malformed, held }, this);
    } catch (err) {
      // A call that cannot be built must not take the process down: the caller gets the fallback.
      log.error({ err }, 'call could not be started');
      this.socket.close(CLOSE_FAILURE, 'call_not_started');
      this.deps.registry.remove(this);
    }
  }

  private refuse(reason: string): void {
    if (this.done) return;
    this.socket.close(reason === 'shutdown' ? CLOSE_NORMAL : CLOSE_FAILURE, reason);
    this.finish();
  }

  /** The handshake is over without a call: the slot is free. */
  private finish(): void {
    if (this.done) return;
    this.detach();
    this.deps.registry.remove(this);
  }

  private detach(): void {
    this.done = true;
    this.deadline.cancel();
    this.socket.off('message', this.onMessage);
    this.socket.off('close', this.onClose);
    this.socket.off('error', this.onError);
  }
}
