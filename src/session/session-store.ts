import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app-config';

export type CallDirection = 'inbound' | 'outbound';

/** What any instance may read about a live call. Times are epoch milliseconds. */
export interface CallSession {
  readonly callSid: string;
  /** The instance holding the call's media stream (AppConfig.instanceId). */
  readonly instanceId: string;
  readonly streamSid: string;
  readonly from: string;
  readonly to: string;
  readonly direction: CallDirection;
  readonly startedAt: number;
  lastSeenAt: number;
  state: string;
}

/**
 * The shared store cannot be reached (Redis is down): the write is skipped. Its connection logs
 * the outage once; a live call's session is saved again once the store is back.
 */
export class SharedStateUnavailable extends Error {
  constructor() {
    super('shared state (Redis) is unreachable');
  }
}

/** A session as its call saves it: the store names the instance. */
export type NewCallSession = Omit<CallSession, 'instanceId'>;

/**
 * The record of each live call that other instances can read. A port: the in-memory store serves
 * a single instance; a shared store serves a fleet. The instance holding the call refreshes its
 * entry while the call lives; an entry not refreshed for SESSION_TTL_MINUTES expires, so one left
 * by an instance that died goes away by itself. Methods are async so either store can sit behind
 * it; the call never awaits them on the audio path.
 */
export abstract class SessionStore {
  /** Saves the session of a call this instance holds. */
  abstract save(session: NewCallSession): Promise<void>;
  /** The live session, or undefined when unknown or expired. */
  abstract get(callSid: string): Promise<CallSession | undefined>;
  /**
   * Refreshes the entry: `at` is when Twilio was last heard from. False when the store holds no
   * live session for the call (it expired, or the store lost it in a restart): save it again.
   */
  abstract touch(callSid: string, at: number): Promise<boolean>;
  abstract setState(callSid: string, state: string): Promise<void>;
  abstract remove(callSid: string): Promise<void>;
  /** Every live session. */
  abstract list(): Promise<CallSession[]>;
  /** How many sessions are live (fleet-wide with a shared store). */
  abstract count(): Promise<number>;
}

@Injectable()
export class InMemorySessionStore extends SessionStore {
  private readonly sessions = new Map<string, CallSession>();
  private readonly ttlMs: number;
  private readonly instanceId: string;

  constructor(
    config: AppConfig,
    private readonly clock: Clock,
  ) {
    super();
    this.ttlMs = config.sessions.ttlMinutes * 60_000;
    this.instanceId = config.instanceId;
  }

  async save(session: NewCallSession): Promise<void> {
    this.sessions.set(session.callSid, { ...session, instanceId: this.instanceId });
  }

  async get(callSid: string): Promise<CallSession | undefined> {
    const s = this.live(callSid);
    return s ? { ...s } : undefined;
  }

  async touch(callSid: string, at: number): Promise<boolean> {
    const s = this.live(callSid);
    if (s && at > s.lastSeenAt) s.lastSeenAt = at;
    return s !== undefined;
  }

  async setState(callSid: string, state: string): Promise<void> {
    const s = this.live(callSid);
    if (s) s.state = state;
  }

  async remove(callSid: string): Promise<void> {
    this.sessions.delete(callSid);
  }

  async list(): Promise<CallSession[]> {
    const now = this.clock.epochMs();
    const live: CallSession[] = [];
    for (const s of [...this.sessions.values()]) {
      if (this.expired(s, now)) this.sessions.delete(s.callSid);
      else live.push({ ...s });
    }
    return live;
  }

  async count(): Promise<number> {
    return (await this.list()).length;
  }

  /** The entry, unless it has expired (then it is dropped). */
  private live(callSid: string): CallSession | undefined {
    const s = this.sessions.get(callSid);
    if (!s || !this.expired(s, this.clock.epochMs())) return s;
    this.sessions.delete(callSid);
    return undefined;
  }

  private expired(s: CallSession, now: number): boolean {
    return now - s.lastSeenAt > this.ttlMs;
  }
}
