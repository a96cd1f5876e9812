import type { Clock } from '../common/clock';
import type { PlayoutLedger, SentAudio } from '../twilio/twilio-media-stream';

/**
 * What the agent is doing, as the caller experiences it.
 * - listening: no response in progress and nothing queued at Twilio.
 * - responding: a response is in progress but none of its audio is queued at Twilio yet.
 * - speaking: agent audio sent to Twilio has not all been confirmed played (marks pending).
 * - interrupted: the caller barged in; the cancelled response is still winding down and its
 *   late audio is dropped.
 * - ended: the call is over; every input is ignored.
 */
export type AgentState = 'listening' | 'responding' | 'speaking' | 'interrupted' | 'ended';

export type StateCause =
  | 'response_created'
  | 'audio_sent'
  | 'mark_echoed'
  | 'response_done'
  | 'speech_started'
  | 'session_replaced'
  | 'call_ended';

export type TransitionListener = (from: AgentState, to: AgentState, cause: StateCause) => void;

/** What the bridge must do when the caller starts talking over the agent. */
export interface BargeIn {
  /** Truncate this item to what the caller heard. Twilio `clear` is always implied. */
  readonly truncate: { readonly itemId: string; readonly audioEndMs: number };
  /** Cancel this response: only set while one is in progress. */
  readonly cancelResponseId: string | null;
}

/** A run of frames sent to Twilio and the mark that follows it. */
interface Chunk {
  readonly mark: string;
  /** Offsets on this generation's outbound timeline (ms of audio queued at Twilio since the last clear). */
  readonly start: number;
  readonly end: number;
  readonly itemId: string;
  /** Where in its item this chunk starts. */
  readonly itemStartMs: number;
  readonly itemAudioMs: number;
  readonly sentAt: number;
}

const MAX_REMEMBERED_INTERRUPTIONS = 8;

/**
 * The barge-in logic of one call, free of I/O: the bridge reports what it sent and what came
 * back, and gets decisions. Time comes from the injected clock only.
 *
 * How much the caller heard: every run of agent frames is followed by a named mark, and Twilio
 * echoes a mark once the audio before it has played. The last echo pins the playback position
 * exactly; after it, playback advances in real time through the next run, starting at the later
 * of that echo and the moment the run was sent (Twilio resumes at once when its queue was empty).
 * The estimate is clamped to the end of the next unechoed run, whose echo has not come back, so
 * it never exceeds what was sent. This is finer than counting marks alone (min(sent, confirmed +
 * one frame)), whose error grows with the spacing of marks, while keeping the same upper bound.
 */
export class InterruptionStateMachine implements PlayoutLedger {
  private chunks: Chunk[] = [];
  private readonly chunkByMark = new Map<string, Chunk>();
  private generation = 0;
  private markSeq = 0;
  /** Outbound timeline position of the end of the queued audio. */
  private queuedEnd = 0;
  private confirmed = 0;
  private confirmedAt = Number.NEGATIVE_INFINITY;
  private itemId: string | null = null;
  private itemSentMs = 0;
  private activeResponseId: string | null = null;
  private readonly interrupted: string[] = [];
  private ended = false;
  private current: AgentState = 'listening';
  private onTransition: TransitionListener = () => undefined;

  constructor(private readonly clock: Clock) {}

  /** Who hears of every change of state (the call). */
  observe(listener: TransitionListener): void {
    this.onTransition = listener;
  }

  get state(): AgentState {
    return this.current;
  }

  /** Agent audio is queued or playing at Twilio. */
  get hasPendingAudio(): boolean {
    return this.chunks.length > 0;
  }

  get activeResponse(): string | null {
    return this.activeResponseId;
  }

  responseCreated(responseId: string): void {
    if (this.ended) return;
    this.activeResponseId = responseId;
    this.update('response_created');
  }

  /** False for audio of a response the caller interrupted: it must not reach Twilio. */
  acceptsAudio(responseId: string): boolean {
    return !this.ended && !this.interrupted.includes(responseId);
  }

  /** Records frames just sent to Twilio; returns the name of the mark to send right after them. */
  audioSent(sent: SentAudio): string | null {
    if (this.ended || sent.durationMs <= 0 || !this.acceptsAudio(sent.responseId)) return null;
    if (sent.itemId !== this.itemId) {
      this.itemId = sent.itemId;
      this.itemSentMs = 0;
    }
    const chunk: Chunk = {
      mark: `${this.generation}:${++this.markSeq}`,
      start: this.queuedEnd,
      end: this.queuedEnd + sent.durationMs,
      itemId: sent.itemId,
      itemStartMs: this.itemSentMs,
      itemAudioMs: sent.itemAudioMs,
      sentAt: this.clock.now(),
    };
    this.queuedEnd = chunk.end;
    this.itemSentMs += sent.durationMs;
    this.chunks.push(chunk);
    this.chunkByMark.set(chunk.mark, chunk);
    this.update('audio_sent');
    return chunk.mark;
  }

  /**
   * A mark came back from Twilio. Marks of earlier generations were flushed by a clear (Twilio
   * echoes those too) and prove nothing about playback, so they are not in the map and are ignored.
   */
  markEchoed(name: string): void {
    if (this.ended) return;
    const chunk = this.chunkByMark.get(name);
    if (!chunk) return;
    // Twilio plays in order: this echo confirms every earlier run as well.
    let drop = 0;
    while (drop < this.chunks.length && this.chunks[drop].end <= chunk.end) {
      this.chunkByMark.delete(this.chunks[drop].mark);
      drop++;
    }
    this.chunks.splice(0, drop);
    this.confirmed = chunk.end;
    this.confirmedAt = this.clock.now();
    this.update('mark_echoed');
  }

  responseDone(responseId: string): void {
    if (this.ended) return;
    if (this.activeResponseId === responseId) this.activeResponseId = null;
    this.update('response_done');
  }

  /**
   * The caller started talking. Returns what to do, or null when the agent is silent at Twilio
   * (a second speech_started, or one while nothing is queued): then nothing is sent, and any
   * response still in progress is left to the server, whose VAD cancels it, while its late
   * audio is dropped here.
   */
  speechStarted(): BargeIn | null {
    if (this.ended) return null;
    const active = this.activeResponseId;
    if (active !== null && !this.interrupted.includes(active)) this.rememberInterrupted(active);

    let decision: BargeIn | null = null;
    if (this.chunks.length > 0) {
      const heard = this.heardNow();
      decision = {
        truncate: heard,
        cancelResponseId: active !== null && this.activeResponseId === active ? active : null,
      };
      // Start a new generation: Twilio's queue is empty after the clear.
      this.generation++;
      this.chunks = [];
      this.chunkByMark.clear();
      this.queuedEnd = 0;
      this.confirmed = 0;
      this.confirmedAt = Number.NEGATIVE_INFINITY;
      this.itemId = null;
      this.itemSentMs = 0;
    }
    this.update('speech_started');
    return decision;
  }

  /**
   * The Realtime session was replaced (reopened after a drop, or rolled over): the old session's
   * response will never finish. Audio already sent to Twilio plays on and its marks still count.
   */
  sessionReplaced(): void {
    if (this.ended) return;
    this.activeResponseId = null;
    this.update('session_replaced');
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.chunks = [];
    this.chunkByMark.clear();
    this.activeResponseId = null;
    this.update('call_ended');
  }

  /** Playback position on this generation's outbound timeline, estimated now. */
  playbackPosition(): number {
    const next = this.chunks[0];
    if (!next) return this.confirmed;
    const startedAt = Math.max(this.confirmedAt, next.sentAt);
    const elapsed = Math.min(Math.max(this.clock.now() - startedAt, 0), next.end - next.start);
    return next.start + elapsed;
  }

  private heardNow(): { itemId: string; audioEndMs: number } {
    const position = this.playbackPosition();
    // The run being played: the first whose end lies beyond the position (the position never
    // passes the first unechoed run, so this is chunks[0] unless a run boundary was hit exactly).
    const playing = this.chunks.find((c) => c.end > position) ?? this.chunks[this.chunks.length - 1];
    const intoChunk = Math.min(Math.max(position - playing.start, 0), playing.end - playing.start);
    const heard = Math.min(playing.itemStartMs + intoChunk, playing.itemAudioMs);
    return { itemId: playing.itemId, audioEndMs: Math.max(0, Math.floor(heard)) };
  }

  private rememberInterrupted(responseId: string): void {
    this.interrupted.push(responseId);
    if (this.interrupted.length > MAX_REMEMBERED_INTERRUPTIONS) this.interrupted.shift();
  }

  private derive(): AgentState {
    if (this.ended) return 'ended';
    if (this.chunks.length > 0) return 'speaking';
    if (this.activeResponseId !== null) {
      return this.interrupted.includes(this.activeResponseId) ? 'interrupted' : 'responding';
    }
    return 'listening';
  }

  private update(cause: StateCause): void {
    const next = this.derive();
    if (next === this.current) return;
    const from = this.current;
    this.current = next;
    this.onTransition(from, next, cause);
  }
}
