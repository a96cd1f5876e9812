import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Logger } from 'pino';
import { Clock } from '../common/clock';
import { Scheduler, type ScheduledTask } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import { AppLogger } from '../logging/app-logger';
import type { CallCommand, CallCommandResult } from './call-command';

/** Why a new call is turned away (and given the fallback instead). */
export type Refusal = 'missing_api_key' | 'draining' | 'at_capacity';

/** A media stream this instance holds: one still waiting for its start frame, or a call. */
export interface LiveConnection {
  /** Null until the stream has started. */
  readonly callSid: string | null;
  /** When Twilio was last heard from (Clock.now()); null before the start, which has its own deadline. */
  readonly lastHeardAt: number | null;
  /** Ends it now: the sockets close. */
  end(reason: 'shutdown' | 'ttl_expired'): void;
  /** Shutdown has reached it: the agent says goodbye and the call is hung up. Resolves once it has ended. */
  endWithGoodbye(): Promise<void>;
  /** An operator's command; a stream that has not started is no call yet. */
  command(command: CallCommand): Promise<CallCommandResult>;
}

/**
 * The media streams this instance holds, each from its first byte to its end, and whether it
 * takes new calls. Other instances know calls through the SessionStore; this is only the local
 * sockets. Calls Twilio has gone quiet on for SESSION_TTL_MINUTES (a half-open connection) are ended.
 */
@Injectable()
export class CallRegistry implements OnModuleInit, OnModuleDestroy {
  private readonly connections = new Set<LiveConnection>();
  private draining = false;
  private emptyWaiters: Array<() => void> = [];
  private sweep: ScheduledTask | null = null;
  private readonly log: Logger;

  constructor(
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly scheduler: Scheduler,
    logger: AppLogger,
  ) {
    this.log = logger.child({ component: 'calls' });
  }

  get activeCalls(): number {
    return this.connections.size;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Why a new call cannot be taken now, or null when it can. */
  refusal(): Refusal | null {
    if (!this.config.openai.apiKey) return 'missing_api_key';
    if (this.draining) return 'draining';
    if (this.connections.size >= this.config.calls.maxConcurrent) return 'at_capacity';
    return null;
  }

  add(connection: LiveConnection): void {
    this.connections.add(connection);
  }

  /** A handshake became its call: one slot, held throughout. */
  replace(old: LiveConnection, next: LiveConnection): void {
    this.connections.delete(old);
    this.connections.add(next);
  }

  remove(connection: LiveConnection): void {
    this.connections.delete(connection);
    if (this.connections.size > 0 || this.emptyWaiters.length === 0) return;
    const waiters = this.emptyWaiters;
    this.emptyWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** The live connections, for shutdown to go through. */
  live(): LiveConnection[] {
    return [...this.connections];
  }

  /** Resolves once nothing is live. */
  whenEmpty(): Promise<void> {
    if (this.connections.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.emptyWaiters.push(resolve));
  }

  find(callSid: string): LiveConnection | undefined {
    for (const connection of this.connections) if (connection.callSid === callSid) return connection;
    return undefined;
  }

  /** Stop taking calls (readiness turns 503, the webhook answers with the fallback). */
  startDraining(): void {
    this.draining = true;
  }

  /** Ends the calls Twilio has not been heard from for the TTL; returns their call SIDs. */
  sweepIdle(): string[] {
    const ttlMs = this.config.sessions.ttlMinutes * 60_000;
    const now = this.clock.now();
    const idle = [...this.connections].filter((c) => c.lastHeardAt !== null && now - c.lastHeardAt > ttlMs);
    for (const call of idle) {
      this.log.warn({ callSid: call.callSid, idleForMs: Math.round(now - (call.lastHeardAt ?? now)), ttlMinutes: this.config.sessions.ttlMinutes }, 'call idle past its TTL: ending it');
      call.end('ttl_expired');
    }
    return idle.map((c) => c.callSid ?? '');
  }

  onModuleInit(): void {
    this.sweep = this.scheduler.every(this.config.sessions.sweepIntervalMs, () => this.sweepIdle());
  }

  onModuleDestroy(): void {
    this.sweep?.cancel();
  }
}
