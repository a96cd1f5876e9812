import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock';
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
 * One call's entry in the call log while it is live: accumulates, and hands a snapshot to the
 * writer whenever something worth keeping is complete (a turn's text, a detail, the end). Audio
 * positions, transcript deltas and usage ride along with the next snapshot.
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

  constructor(
    private readonly identity: CallIdentity,
    private readonly startedAt: string,
    private readonly recording: string | null,
    private readonly prices: TokenPrices,
    private readonly writer: CallLogWriter,
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

  /** Appends to a list kept in the details (e.g. every tool call), bounded. */
  appendDetail(key: string, value: unknown): void {
    const list = Array.isArray(this.details[key]) ? (this.details[key] as unknown[]) : [];
    if (list.length < 200) list.push(value);
    this.details[key] = list;
    this.checkpoint();
  }

  /** Hands the current state to the writer (coalesced per call, written off the audio path). */
  private checkpoint(): void {
    this.writer.submit(this.snapshot());
  }

  finish(status: Exclude<CallStatus, 'in-progress'>, endReason: string, endedAt: string, durationMs: number): void {
    this.ended = { status, endReason, endedAt, durationMs: Math.round(durationMs) };
    this.checkpoint();
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
  ) {}

  /** Starts the record of a call that reached the agent. */
  open(identity: CallIdentity, recording: string | null): CallJournal {
    return new CallJournal(identity, new Date(this.clock.epochMs()).toISOString(), recording, this.config.prices, this.writer);
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
