/**
 * One simulated phone call against a running service, as Twilio would place it: the voice
 * webhook, the TwiML's <Stream> opened with its <Parameter>s, caller audio sent in real time as
 * 20 ms mu-law frames (silence between turns, as a phone line sends), the agent's audio played in
 * real time with marks echoed and clears honoured. It measures what a caller feels: the time to
 * the agent's first audio and, per turn, from the end of the caller's speech to the agent's reply.
 */
import type { Clock } from '../common/clock';
import type { ScheduledTask, Scheduler } from '../common/scheduler';
import { MULAW_SILENCE, toFrames, voicedEndMs } from './audio';
import { FRAME_BYTES, FRAME_MS, openStreamSocket, TwilioStreamPeer } from './twilio-stream-peer';
import { fetchVoiceAnswer, newSid, reachableStreamUrl, SimulatorError, streamUpgradeHeaders, type VoiceAnswer } from './voice-webhook';

export interface SimulatedCallOptions {
  /** The service's base URL, e.g. http://localhost:8080. */
  readonly url: string;
  readonly from?: string;
  readonly to?: string;
  readonly callSid?: string;
  readonly accountSid?: string;
  /** The service's TWILIO_AUTH_TOKEN: requests are signed as Twilio signs them. */
  readonly authToken?: string;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly onEvent?: (event: CallEvent) => void;
}

/** What happened, as it happened; `atMs` counts from the stream's start frame. */
export type CallEvent =
  | { readonly type: 'answered'; readonly answer: VoiceAnswer; readonly webhookMs: number; readonly streamUrl: string }
  | { readonly type: 'caller-speaking'; readonly atMs: number; readonly turn: number; readonly durationMs: number }
  | { readonly type: 'caller-done'; readonly atMs: number; readonly turn: number }
  | { readonly type: 'agent-speaking'; readonly atMs: number; readonly latencyMs: number | null; readonly turn: number | null }
  | { readonly type: 'cleared'; readonly atMs: number }
  | { readonly type: 'closed'; readonly atMs: number; readonly code: number; readonly by: 'caller' | 'service' };

export interface TurnTiming {
  readonly turn: number;
  /** Stream time of the end of the caller's voice in this turn. */
  readonly endOfSpeechMs: number;
  /** From that end to the first agent audio after it; null when the agent never answered. */
  readonly latencyMs: number | null;
}

export interface CallReport {
  readonly callSid: string;
  readonly webhookMs: number;
  /** Start frame to the first agent audio; null when none came. */
  readonly firstAudioMs: number | null;
  readonly turns: readonly TurnTiming[];
  readonly clears: number;
  readonly marksEchoed: number;
  readonly closedBy: 'caller' | 'service' | null;
  readonly closeCode: number | null;
  /** Total agent audio played, ms. */
  readonly agentAudioMs: number;
}

/** A gap in the agent's audio this long starts a new "agent speaking" burst. */
const BURST_GAP_MS = 300;
/** At most this many frames are sent at once to catch up after a stalled event loop. */
const MAX_CATCH_UP_FRAMES = 10;

export class SimulatedCall {
  readonly callSid: string;
  readonly ended: Promise<{ code: number; by: 'caller' | 'service' }>;

  private readonly peer: TwilioStreamPeer;
  private readonly clock: Clock;
  private readonly scheduler: Scheduler;
  private readonly onEvent: (event: CallEvent) => void;
  private startedAt = 0;
  private framesSent = 0;
  private mediaClock: ScheduledTask | undefined;
  /** Caller audio waiting to be sent; silence is sent while it is empty. */
  private outgoing: Array<{ frame: Buffer; onSent?: () => void; onDropped?: () => void }> = [];
  private lastAudioAt: number | null = null;
  /** When the caller's last turn was all sent. */
  private callerDoneAt = Number.NEGATIVE_INFINITY;
  private firstAudioAt: number | null = null;
  private readonly turns: Array<{ turn: number; endAt: number; replyAt: number | null }> = [];
  private turnCount = 0;
  private clears = 0;
  private marksEchoed = 0;
  /** Who is ending the call, once one side has. */
  private ending: 'caller' | 'service' | null = null;
  private closedBy: 'caller' | 'service' | null = null;
  private closeCode: number | null = null;
  private readonly watchers = new Set<() => void>();

  private constructor(
    ws: ReturnType<typeof openStreamSocket>['ws'],
    parameters: Readonly<Record<string, string>>,
    private readonly webhookMs: number,
    identity: { callSid: string; accountSid: string },
    opts: SimulatedCallOptions,
  ) {
    this.callSid = identity.callSid;
    this.clock = opts.clock;
    this.scheduler = opts.scheduler;
    this.onEvent = opts.onEvent ?? (() => undefined);
    let resolveEnded!: (v: { code: number; by: 'caller' | 'service' }) => void;
    this.ended = new Promise((resolve) => (resolveEnded = resolve));
    this.peer = new TwilioStreamPeer(
      ws,
      { callSid: identity.callSid, streamSid: newSid('MZ'), accountSid: identity.accountSid, customParameters: parameters },
      opts.clock,
      opts.scheduler,
      {
        audio: (_audio, at) => this.onAgentAudio(at),
        cleared: (at) => {
          this.clears++;
          this.onEvent({ type: 'cleared', atMs: this.streamMs(at) });
        },
        markEchoed: () => this.marksEchoed++,
        changed: () => this.notify(),
        closed: (code) => {
          this.mediaClock?.cancel();
          this.closedBy = this.ending ?? 'service';
          this.closeCode = code;
          // A turn cut short by the end of the call is no turn to be answered.
          for (const item of this.outgoing) item.onDropped?.();
          this.outgoing = [];
          this.onEvent({ type: 'closed', atMs: this.streamMs(), code, by: this.closedBy });
          this.notify();
          resolveEnded({ code, by: this.closedBy });
        },
      },
    );
  }

  /**
   * Rings the service: posts the voice webhook, opens the stream its TwiML names and sends
   * connected and start. Rejects with a SimulatorError when the service answers with anything
   * but a stream (the fallback), or the stream cannot be opened.
   */
  static async place(opts: SimulatedCallOptions): Promise<SimulatedCall> {
    const identity = {
      callSid: opts.callSid ?? newSid('CA'),
      accountSid: opts.accountSid ?? newSid('AC'),
      from: opts.from ?? '+15551230000',
      to: opts.to ?? '+15557650000',
    };
    const t0 = opts.clock.now();
    const answer = await fetchVoiceAnswer(opts.url, identity, opts.authToken);
    const webhookMs = Math.round(opts.clock.now() - t0);
    if (!answer.stream) {
      throw new SimulatorError(`the service did not connect a stream: its TwiML does ${answer.verbs.join(', ') || 'nothing'} (the fallback: is OPENAI_API_KEY set and the service ready?)`);
    }
    const streamUrl = reachableStreamUrl(answer.stream.url, opts.url);
    const { ws, opened } = openStreamSocket(streamUrl, { headers: streamUpgradeHeaders(answer.stream.url, opts.authToken) });
    const call = new SimulatedCall(ws, answer.stream.parameters, webhookMs, identity, opts);
    try {
      await opened;
    } catch (err) {
      throw new SimulatorError((err as Error).message, { cause: err });
    }
    call.onEvent({ type: 'answered', answer, webhookMs, streamUrl });
    call.start();
    return call;
  }

  /** Milliseconds since the start frame. */
  streamMs(at = this.clock.now()): number {
    return Math.round(at - this.startedAt);
  }

  get open(): boolean {
    return this.closedBy === null;
  }

  /**
   * Speaks `audio` (8 kHz mu-law) into the call in real time; resolves once its last frame has
   * been sent (or the call ended). With `bargeInAfterMs`, waits until the agent is heard and
   * starts that long after, talking over it.
   */
  async say(audio: Buffer, opts: { bargeInAfterMs?: number } = {}): Promise<void> {
    if (!this.open) return;
    if (opts.bargeInAfterMs !== undefined) {
      await this.until(() => this.agentAudible() || !this.open, 60_000, 'the agent to start speaking');
      await this.pause(opts.bargeInAfterMs);
      if (!this.open) return;
    }
    const turn = ++this.turnCount;
    const frames = toFrames(audio);
    const voicedEndFrame = Math.max(1, Math.ceil(voicedEndMs(audio) / FRAME_MS));
    this.onEvent({ type: 'caller-speaking', atMs: this.streamMs(), turn, durationMs: frames.length * FRAME_MS });
    await new Promise<void>((resolve) => {
      frames.forEach((frame, i) => {
        const last = i === frames.length - 1;
        const endOfVoice = i === voicedEndFrame - 1;
        this.outgoing.push({
          frame,
          onSent:
            endOfVoice || last
              ? () => {
                  // The caller's voice ends once this frame has played out, 20 ms after it was sent.
                  if (endOfVoice) this.turns.push({ turn, endAt: this.clock.now() + FRAME_MS, replyAt: null });
                  if (last) {
                    this.callerDoneAt = this.clock.now();
                    resolve();
                  }
                }
              : undefined,
          onDropped: last ? resolve : undefined,
        });
      });
      if (frames.length === 0) resolve();
    });
    this.onEvent({ type: 'caller-done', atMs: this.streamMs(), turn });
  }

  /** True while agent audio is playing or arrived within the last 300 ms. */
  agentAudible(): boolean {
    if (this.peer.queuedMs() > 0) return true;
    return this.lastAudioAt !== null && this.clock.now() - this.lastAudioAt < BURST_GAP_MS;
  }

  /**
   * Resolves once the agent has been silent (nothing queued, nothing new) for `quietMs` since it
   * last spoke or the caller last finished, or the call ended; rejects after `timeoutMs`.
   */
  waitForQuiet(quietMs: number, timeoutMs = 60_000): Promise<void> {
    const quietSince = (): number =>
      this.peer.queuedMs() > 0 ? Number.POSITIVE_INFINITY : Math.max(this.startedAt, this.lastAudioAt ?? 0, this.callerDoneAt);
    return this.until(() => !this.open || this.clock.now() - quietSince() >= quietMs, timeoutMs, `${quietMs} ms of quiet from the agent`);
  }

  /**
   * Resolves once the agent has spoken since the caller last finished (since the start before the
   * caller says anything), or the call ended; rejects after `timeoutMs`.
   */
  waitForReply(timeoutMs = 30_000): Promise<void> {
    return this.until(() => !this.open || (this.lastAudioAt !== null && this.lastAudioAt > this.callerDoneAt), timeoutMs, 'the agent to speak');
  }

  /** Hangs up as Twilio does when the caller does: a stop frame, then the socket closed. */
  hangUp(): Promise<{ code: number; by: 'caller' | 'service' }> {
    return this.stop('caller');
  }

  /**
   * Ends the stream as Twilio does when the service hung up or redirected the call through the
   * REST API (end_call, a transfer's <Dial>): a stop frame, then the socket closed.
   */
  endedByService(): Promise<{ code: number; by: 'caller' | 'service' }> {
    return this.stop('service');
  }

  private stop(by: 'caller' | 'service'): Promise<{ code: number; by: 'caller' | 'service' }> {
    if (this.open && this.ending === null) {
      this.ending = by;
      this.mediaClock?.cancel();
      this.peer.sendStop();
      this.peer.close(1000);
    }
    return this.ended;
  }

  /** The agent's audio as the caller heard it: each reply in turn, cut where a clear dropped the rest. */
  agentAudio(): Buffer {
    return this.peer.playedAudio();
  }

  report(): CallReport {
    return {
      callSid: this.callSid,
      webhookMs: this.webhookMs,
      firstAudioMs: this.firstAudioAt === null ? null : Math.round(this.firstAudioAt - this.startedAt),
      turns: this.turns.map((t) => ({ turn: t.turn, endOfSpeechMs: this.streamMs(t.endAt), latencyMs: t.replyAt === null ? null : Math.round(t.replyAt - t.endAt) })),
      clears: this.clears,
      marksEchoed: this.marksEchoed,
      closedBy: this.closedBy,
      closeCode: this.closeCode,
      agentAudioMs: Math.round(this.peer.playedMs()),
    };
  }

  // ---- internals --------------------------------------------------------------------------------

  private start(): void {
    this.peer.sendConnected();
    this.peer.sendStart();
    this.startedAt = this.clock.now();
    // Twilio sends a frame every 20 ms for as long as the call lasts; silence when nobody talks.
    this.sendDueFrames();
    this.mediaClock = this.scheduler.every(FRAME_MS, () => this.sendDueFrames());
  }

  private sendDueFrames(): void {
    const due = Math.floor((this.clock.now() - this.startedAt) / FRAME_MS) + 1;
    const toSend = Math.min(MAX_CATCH_UP_FRAMES, due - this.framesSent);
    for (let i = 0; i < toSend && this.peer.open && this.ending === null; i++) {
      const next = this.outgoing.shift();
      this.peer.sendMedia(next?.frame ?? SILENT_FRAME, this.framesSent * FRAME_MS);
      this.framesSent++;
      next?.onSent?.();
    }
    // Frames a stalled loop could not send in time are skipped, as a real line drops them.
    if (due - this.framesSent > MAX_CATCH_UP_FRAMES) this.framesSent = due;
  }

  private onAgentAudio(at: number): void {
    const newBurst = this.lastAudioAt === null || (at - this.lastAudioAt >= BURST_GAP_MS && this.peer.queuedMs() <= FRAME_BYTES / 8);
    this.lastAudioAt = at;
    this.firstAudioAt ??= at;
    let answered: { turn: number; endAt: number } | null = null;
    for (const t of this.turns) {
      if (t.replyAt === null && at >= t.endAt) {
        t.replyAt = at;
        answered = t;
      }
    }
    if (newBurst || answered) {
      this.onEvent({ type: 'agent-speaking', atMs: this.streamMs(at), latencyMs: answered ? Math.round(at - answered.endAt) : null, turn: answered?.turn ?? null });
    }
  }

  private pause(ms: number): Promise<void> {
    const until = this.clock.now() + ms;
    return this.until(() => !this.open || this.clock.now() >= until, ms + 60_000, `a pause of ${ms} ms`);
  }

  /** Resolves when `check` holds, checked on every stream event and every 20 ms; rejects after `timeoutMs`. */
  private until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const finish = (error?: Error): void => {
        tick.cancel();
        deadline.cancel();
        this.watchers.delete(watcher);
        if (error) reject(error);
        else resolve();
      };
      const watcher = (): void => {
        if (check()) finish();
      };
      const tick = this.scheduler.every(FRAME_MS, watcher);
      const deadline = this.scheduler.after(timeoutMs, () => finish(new SimulatorError(`timed out after ${timeoutMs} ms waiting for ${what}`)));
      this.watchers.add(watcher);
    });
  }

  private notify(): void {
    for (const watcher of [...this.watchers]) watcher();
  }
}

const SILENT_FRAME = Buffer.alloc(FRAME_BYTES, MULAW_SILENCE);
