import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock';
import { Scheduler, type ScheduledTask } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import type { RealtimeUsage } from '../realtime/realtime-protocol';
import { CallLogWriter } from './call-log-writer';
import { EMPTY_USAGE, type CallRecord, type CallStatus, type CallUsage, type TranscriptTurn } from './call-record';
import { TranscriptBuilder } from './transcript-builder';
import { addUsage, estimateCost, type TokenPrices } from './usage';

export interface CallIdentity {
  readonly callSid: string;
  readonly streamSid: string | null;
  readonly direction: 'inbound' | 'outbound';
  readonly from: string;
  readonly to: string;
  /** The profile that answered (CallProfile.id). */
  readonly profile: string;
}

/**
 * A live call's record is written when the call starts, then at most this often while it runs
 * (each write is the whole record), and at once when it ends. Writes cost the database, embedded
 * in this process by default, more than anything else a call does besides relaying its audio.
 */
export const LIVE_RECORD_INTERVAL_MS = 5_000;

/** What paces a journal's writes. */
export interface JournalPacing {
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly intervalMs: number;
}

/**
 * One call's entry in the call log while it is live: accumulates, and hands a snapshot to the
 * writer whenever something worth keeping is complete (a turn's text, a detail, the end), at most
 * once per LIVE_RECORD_INTERVAL_MS until the end. Audio positions, transcript deltas and usage
 * ride along with the next snapshot.
 */
export class CallJournal {
  private readonly transcript = new TranscriptBuilder();
  private usage: CallUsage = EMPTY_USAGE;
  private ended: Pick<CallRecord, 'status' | 'endedAt' | 'durationMs' | 'endReason'> = {
    status: 'in-progress',
    endedAt: null,
    durationMs: null,
    endReason: null,
  };
  private readonly details: Record<string, unknown> = {};
  private lastWriteAt = Number.NEGATIVE_INFINITY;
  private nextWrite: ScheduledTask | null = null;

  constructor(
    private readonly identity: CallIdentity,
    private readonly startedAt: string,
    private readonly recording: string | null,
    private readonly prices: TokenPrices,
    private readonly writer: CallLogWriter,
    private readonly pacing: JournalPacing,
  ) {
    this.checkpoint();
  }

  addUsage(usage: RealtimeUsage): void {
    this.usage = addUsage(this.usage, usage);
  }

  /** The caller started a turn at `atMs` on the call's timeline. */
  callerSpeechStarted(itemId: string | undefined, atMs: number): void {
    this.transcript.callerSpeechStarted(itemId, atMs);
  }

  callerTranscript(itemId: string, text: string, fallbackAtMs: number): void {
    this.transcript.callerTranscript(itemId, text, fallbackAtMs);
    this.checkpoint();
  }

  /** `ms` more of the item's audio went to the caller at `atMs`. */
  agentAudio(itemId: string, ms: number, atMs: number): void {
    this.transcript.agentAudio(itemId, ms, atMs);
  }

  agentTranscriptDelta(itemId: string, delta: string): void {
    this.transcript.agentTranscriptDelta(itemId, delta);
  }

  agentTranscriptDone(itemId: string, text: string): void {
    this.transcript.agentTranscriptDone(itemId, text);
    this.checkpoint();
  }

  /** The caller heard only `audioEndMs` of the item. */
  agentTruncated(itemId: string, audioEndMs: number): void {
    this.transcript.agentTruncated(itemId, audioEndMs);
  }

  turns(): TranscriptTurn[] {
    return this.transcript.turns();
  }

  /** Facts later features attach (the job request, a summary); kept in the record's details. */
  setDetail(key: string, value: unknown): void {
    this.details[key] = value;
    this.checkpoint();
  }

  getDetail(key: string): unknown {
    return this.details[key];
  }

  /**
   * A fact that comes after the call ended (its written summary): kept in the details, and the
   * whole record handed to the writer again, at once (an ended record is no longer paced). Before
   * the end, as setDetail.
   */
  amend(key: string, value: unknown): void {
    this.details[key] = value;
    if (this.ended.status === 'in-progress') this.checkpoint();
    else this.write();
  }

  /** Appends to a list kept in the details (e.g. every tool call), bounded. */
  appendDetail(key: string, value: unknown): void {
    const list = Array.isArray(this.details[key]) ? (this.details[key] as unknown[]) : [];
    if (list.length < 200) list.push(value);
    this.details[key] = list;
    this.checkpoint();
  }

  /** Hands the current state to the writer now, or once the interval since the last write is over. */
  private checkpoint(): void {
    if (this.nextWrite !== null || this.ended.status !== 'in-progress') return;
    const wait = this.lastWriteAt + this.pacing.intervalMs - this.pacing.clock.now();
    if (wait <= 0) {
      this.write();
      return;
    }
    this.nextWrite = this.pacing.scheduler.after(wait, () => {
      this.nextWrite = null;
      this.write();
    });
  }

  /** The whole record to the writer (coalesced per call, written off the audio path). */
  private write(): void {
    this.lastWriteAt = this.pacing.clock.now();
    this.writer.submit(this.snapshot());
  }

  finish(status: Exclude<CallStatus, 'in-progress'>, endReason: string, endedAt: string, durationMs: number): void {
    this.ended = { status, endReason, endedAt, durationMs: Math.round(durationMs) };
    this.nextWrite?.cancel();
    this.nextWrite = null;
    this.write();
  }

  snapshot(): CallRecord {
    return {
      ...this.identity,
      ...this.ended,
      startedAt: this.startedAt,
      transcript: this.transcript.turns(),
      usage: this.usage,
      costUsd: estimateCost(this.usage, this.prices),
      recording: this.recording,
      details: { ...this.details },
    };
  }
}

/** The call log as the rest of the service sees it. */
@Injectable()
export class CallLog {
  constructor(
    private readonly writer: CallLogWriter,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly scheduler: Scheduler,
  ) {}

  /** Starts the record of a call that reached the agent. */
  open(identity: CallIdentity, recording: string | null): CallJournal {
    const pacing = { clock: this.clock, scheduler: this.scheduler, intervalMs: LIVE_RECORD_INTERVAL_MS };
    return new CallJournal(identity, new Date(this.clock.epochMs()).toISOString(), recording, this.config.prices, this.writer, pacing);
  }

  /** Records a call the webhook sent to the fallback: it never reached the agent. */
  fallback(identity: Omit<CallIdentity, 'streamSid'>, reason: string): void {
    const now = new Date(this.clock.epochMs()).toISOString();
    this.writer.submit({
      ...identity,
      streamSid: null,
      status: 'fallback',
      startedAt: now,
      endedAt: now,
      durationMs: 0,
      endReason: reason,
      transcript: [],
      usage: EMPTY_USAGE,
      costUsd: 0,
      recording: null,
      details: {},
    });
  }
}
