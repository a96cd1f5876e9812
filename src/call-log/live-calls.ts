import type { CallSession } from '../session/session-store';

/** A live call as the API serves it: its session, with times as ISO 8601. */
export type LiveCall = Omit<CallSession, 'startedAt' | 'lastSeenAt'> & { startedAt: string; lastSeenAt: string };

export interface LiveCalls {
  readonly items: LiveCall[];
  readonly total: number;
}

/** The live sessions as GET /api/calls/live lists them: newest first. */
export function liveCallsOf(sessions: readonly CallSession[]): LiveCalls {
  const items = [...sessions]
    .sort((a, b) => b.startedAt - a.startedAt || a.callSid.localeCompare(b.callSid))
    .map((s) => ({ ...s, startedAt: new Date(s.startedAt).toISOString(), lastSeenAt: new Date(s.lastSeenAt).toISOString() }));
  return { items, total: items.length };
}
