import { Injectable } from '@nestjs/common';

export type CallDirection = 'inbound' | 'outbound';

/** What the service knows about a live call. Times are epoch milliseconds. */
export interface CallSession {
  readonly callSid: string;
  readonly streamSid: string;
  readonly from: string;
  readonly to: string;
  readonly direction: CallDirection;
  readonly startedAt: number;
  lastSeenAt: number;
  state: string;
}

/**
 * Live call sessions. A port: the in-memory store serves a single instance; a shared store
 * serves a fleet. Methods are async so either can sit behind it; callers never await them on
 * the audio path.
 */
export abstract class SessionStore {
  abstract save(session: CallSession): Promise<void>;
  abstract get(callSid: string): Promise<CallSession | undefined>;
  abstract touch(callSid: string, at: number): Promise<void>;
  abstract setState(callSid: string, state: string): Promise<void>;
  abstract remove(callSid: string): Promise<void>;
  /** Sessions whose lastSeenAt is older than `before`. */
  abstract idleSince(before: number): Promise<CallSession[]>;
  abstract count(): Promise<number>;
}

@Injectable()
export class InMemorySessionStore extends SessionStore {
  private readonly sessions = new Map<string, CallSession>();

  async save(session: CallSession): Promise<void> {
    this.sessions.set(session.callSid, { ...session });
  }

  async get(callSid: string): Promise<CallSession | undefined> {
    const s = this.sessions.get(callSid);
    return s ? { ...s } : undefined;
  }

  async touch(callSid: string, at: number): Promise<void> {
    const s = this.sessions.get(callSid);
    if (s && at > s.lastSeenAt) s.lastSeenAt = at;
  }

  async setState(callSid: string, state: string): Promise<void> {
    const s = this.sessions.get(callSid);
    if (s) s.state = state;
  }

  async remove(callSid: string): Promise<void> {
    this.sessions.delete(callSid);
  }

  async idleSince(before: number): Promise<CallSession[]> {
    return [...this.sessions.values()].filter((s) => s.lastSeenAt < before).map((s) => ({ ...s }));
  }

  async count(): Promise<number> {
    return this.sessions.size;
  }
}
