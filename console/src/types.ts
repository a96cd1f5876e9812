/** The API's shapes, as far as the console reads them (README: Call log API, Outbound calls, On call). */
import type { Turn } from './transcript';

export interface Page<T> {
  readonly items: T[];
  readonly page: number;
  readonly pageSize: number;
  readonly total: number;
}

export interface LiveCall {
  readonly callSid: string;
  readonly instanceId: string;
  readonly from: string;
  readonly to: string;
  readonly direction: 'inbound' | 'outbound';
  readonly startedAt: string;
  readonly lastSeenAt: string;
  readonly state: string;
}

export interface JobRequest {
  readonly callerName?: string;
  readonly callbackNumber?: string;
  readonly callbackNumberUnverified?: boolean;
  readonly serviceAddress?: string;
  readonly problem?: string;
  readonly urgency?: 'emergency' | 'urgent' | 'routine';
  readonly preferredTime?: string;
}

export interface Usage {
  readonly responses: number;
  readonly inputTextTokens: number;
  readonly inputAudioTokens: number;
  readonly cachedTextTokens: number;
  readonly cachedAudioTokens: number;
  readonly outputTextTokens: number;
  readonly outputAudioTokens: number;
}

export interface PageSent {
  readonly step: number;
  readonly personName: string;
  readonly to: string;
  readonly status: string;
  readonly sentAt: string | null;
  readonly error: string | null;
  readonly answer: string | null;
  readonly answeredAt: string | null;
}

export interface Paging {
  readonly status: 'paging' | 'acknowledged' | 'unacknowledged';
  readonly ackedBy: string | null;
  readonly ackedVia: string | null;
  readonly ackedAt: string | null;
  readonly pages: readonly PageSent[];
}

export interface CallDetails {
  readonly jobRequest?: JobRequest;
  readonly summary?: { status: 'ready'; text: string } | { status: 'failed'; reason: string };
  readonly paging?: Paging;
  readonly warmTransfer?: { to: string; personId: string; status: string; startedAt: string; endedAt: string | null; error: string | null };
  readonly smsConfirmation?: { reference: string; status: string; reason: string | null; messageSid: string | null; at: string };
  /** Hang-ups, transfers and messages operators sent; `at` in epoch ms. */
  readonly operatorCommands?: ReadonlyArray<{ readonly action: string; readonly at: number }>;
  /** What the caller was told when the emergency was raised. */
  readonly onCall?: { readonly alerted: true; readonly person: { readonly name: string } } | { readonly alerted: false; readonly reason: 'nobody_on_call' | 'paging_unavailable' };
  readonly outboundRequest?: string;
  readonly [key: string]: unknown;
}

export interface CallRecord {
  readonly callSid: string;
  readonly direction: 'inbound' | 'outbound';
  readonly from: string;
  readonly to: string;
  readonly status: 'in-progress' | 'completed' | 'failed' | 'fallback';
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly durationMs: number | null;
  readonly endReason: string | null;
  readonly transcript: readonly Turn[];
  readonly usage: Usage;
  readonly costUsd: number;
  readonly recording: string | null;
  readonly details: CallDetails;
  readonly profile: string | null;
  readonly crm?: Readonly<Record<string, { status?: string; error?: string; at?: string; [key: string]: unknown }>>;
}

export interface OutboundAttempt {
  readonly attempt: number;
  readonly callSid: string | null;
  readonly status: string;
  readonly answeredBy: string | null;
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly detail: Readonly<Record<string, unknown>>;
}

export interface OutboundRequest {
  readonly id: string;
  readonly to: string;
  readonly purpose: string;
  readonly callbackOf: string | null;
  readonly status: string;
  readonly statusReason: string | null;
  readonly nextAttemptAt: string | null;
  readonly createdAt: string;
  readonly attempts: readonly OutboundAttempt[];
}

export interface DncEntry {
  readonly number: string;
  readonly reason: string | null;
  readonly source: string;
  readonly addedAt: string;
}

export interface OnCallPerson {
  readonly id: string;
  readonly name: string;
  readonly mobile: string;
}

export interface Override {
  readonly id: string;
  readonly start: string;
  readonly end: string;
  readonly people: readonly string[];
  readonly note: string | null;
}

export interface Rota {
  readonly timezone: string;
  readonly people: readonly OnCallPerson[];
  readonly windows: ReadonlyArray<{ readonly days: readonly string[] | null; readonly start: string; readonly end: string; readonly people: readonly string[] }>;
  readonly overrides: readonly Override[];
}

export interface OnCall {
  readonly source: 'database' | 'default' | 'none';
  readonly updatedAt: string | null;
  readonly rota: Rota;
  /** In escalation order. */
  readonly onCallNow: ReadonlyArray<{ readonly id: string; readonly name: string }>;
}
