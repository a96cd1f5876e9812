/** The durable record of one call, as stored and as served by the API. */

import type { CallOutcome, Urgency } from './call-outcome';

export type CallStatus = 'in-progress' | 'completed' | 'failed' | 'fallback';
export const CALL_STATUSES: readonly CallStatus[] = ['in-progress', 'completed', 'failed', 'fallback'];

export type Speaker = 'caller' | 'agent';

export interface TranscriptTurn {
  readonly speaker: Speaker;
  readonly text: string;
  /** Start of the turn on the call's timeline: ms since the media stream started. */
  readonly startMs: number;
  /** An agent turn the caller talked over: its text stops where the caller stopped hearing it. */
  readonly interrupted?: boolean;
}

/** Token counts summed over every response.done of the call. Cached tokens are a subset of input. */
export interface CallUsage {
  readonly responses: number;
  readonly inputTextTokens: number;
  readonly inputAudioTokens: number;
  readonly cachedTextTokens: number;
  readonly cachedAudioTokens: number;
  readonly outputTextTokens: number;
  readonly outputAudioTokens: number;
}

export const EMPTY_USAGE: CallUsage = {
  responses: 0,
  inputTextTokens: 0,
  inputAudioTokens: 0,
  cachedTextTokens: 0,
  cachedAudioTokens: 0,
  outputTextTokens: 0,
  outputAudioTokens: 0,
};

export interface CallRecord {
  readonly callSid: string;
  readonly streamSid: string | null;
  readonly direction: 'inbound' | 'outbound';
  readonly from: string;
  readonly to: string;
  readonly status: CallStatus;
  /** ISO 8601. */
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly durationMs: number | null;
  readonly endReason: string | null;
  readonly transcript: readonly TranscriptTurn[];
  readonly usage: CallUsage;
  /** Estimated from usage and the configured per-token prices, in US dollars. */
  readonly costUsd: number;
  /** File name of the recording inside RECORDINGS_DIR, when one was made. */
  readonly recording: string | null;
  /** Free-form facts the call produced: the job request, the tool calls, a summary. */
  readonly details: Readonly<Record<string, unknown>>;
  /** Id of the business profile that answered (CallProfile.id); null on records older than profiles. */
  readonly profile: string | null;
  /**
   * What reached the CRM, written only by the CRM side (never by call snapshots, so a late
   * snapshot cannot erase it). A job request without `crm.jobRequest.status === 'synced'` has
   * not reached the CRM.
   */
  readonly crm?: Readonly<Record<string, unknown>>;
}

/** How a page of the call log is ordered: newest first, or emergencies first and then newest (leads). */
export type CallListOrder = 'newest' | 'emergency_first';
export const CALL_LIST_ORDERS: readonly CallListOrder[] = ['newest', 'emergency_first'];

export interface CallListQuery {
  /** Matches from or to exactly. */
  readonly number?: string;
  /** started_at >= since, ISO 8601. */
  readonly since?: string;
  /** started_at < until, ISO 8601. */
  readonly until?: string;
  readonly status?: CallStatus;
  /** What the call came to (callOutcome). */
  readonly outcome?: CallOutcome;
  /** The urgency of the call's job request. */
  readonly urgency?: Urgency;
  /** Default: newest. */
  readonly order?: CallListOrder;
  readonly limit: number;
  readonly offset: number;
}

export interface CallListPage {
  readonly items: readonly CallRecord[];
  readonly total: number;
}

/**
 * Where call records live. Writes are whole-record upserts keyed by callSid, so a retried or
 * repeated write is harmless and the latest snapshot always wins.
 */
export abstract class CallLogRepository {
  abstract save(record: CallRecord): Promise<void>;
  abstract get(callSid: string): Promise<CallRecord | undefined>;
  /** Newest first (started_at descending, then callSid). */
  abstract list(query: CallListQuery): Promise<CallListPage>;
  /** Merges `patch` into the call's crm state; false when the call has no record (yet). */
  abstract mergeCrm(callSid: string, patch: Record<string, unknown>): Promise<boolean>;
  /** Whether a call from `number` that started at or after `since` (ISO 8601) saved a job request. */
  abstract hasJobRequestFrom(number: string, since: string): Promise<boolean>;
  /** Call SIDs of the records still in progress that started before `startedBefore` (ISO 8601), oldest first. */
  abstract inProgress(startedBefore: string, limit: number): Promise<string[]>;
  /**
   * Ends a record still in progress whose call nobody holds any more (its instance died): status
   * failed, `endReason`, ended at `endedAt` (null: unknown, the record's last write), `details`
   * merged in. False when it had ended already
   * (or has no record), so that two instances noticing the same call both may try.
   */
  abstract endAbandoned(callSid: string, endReason: string, endedAt: string | null, details: Record<string, unknown>): Promise<boolean>;
}
