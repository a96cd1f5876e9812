import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Logger } from 'pino';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app-config';
import { AppLogger } from '../logging/app-logger';
import { SessionStore, type CallSession } from './session-store';

export type SessionExpiryListener = (session: CallSession) => void;

/**
 * Expires sessions that have been idle longer than SESSION_TTL_MINUTES, so a call whose
 * sockets went quiet without closing (a half-open TCP connection) cannot hold resources forever.
 */
@Injectable()
export class SessionJanitor implements OnModuleInit, OnModuleDestroy {
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners: SessionExpiryListener[] = [];
  private readonly log: Logger;
  private sweeping = false;

  constructor(
    private readonly store: SessionStore,
    private readonly clock: Clock,
    private readonly config: AppConfig,
    logger: AppLogger,
  ) {
    this.log = logger.child({ component: 'session-janitor' });
  }

  /** The call module closes the call's sockets when its session expires. */
  onExpired(listener: SessionExpiryListener): void {
    this.listeners.push(listener);
  }

  onModuleInit(): void {
    this.timer = setInterval(() => void this.sweep(), this.config.sessions.sweepIntervalMs);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** One pass; returns the sessions it expired. */
  async sweep(): Promise<CallSession[]> {
    if (this.sweeping) return [];
    this.sweeping = true;
    try {
      const ttlMinutes = this.config.sessions.ttlMinutes;
      const expired = await this.store.idleSince(this.clock.epochMs() - ttlMinutes * 60_000);
      for (const session of expired) {
        this.log.warn(
          {
            reason: 'ttl_expired',
            callSid: session.callSid,
            streamSid: session.streamSid,
            lastSeenAt: new Date(session.lastSeenAt).toISOString(),
            ttlMinutes,
          },
          'session expired',
        );
        await this.store.remove(session.callSid);
        for (const listener of this.listeners) listener(session);
      }
      return expired;
    } catch (err) {
      this.log.error({ err }, 'session sweep failed');
      return [];
    } finally {
      this.sweeping = false;
    }
  }
}
