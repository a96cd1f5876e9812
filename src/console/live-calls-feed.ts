import { Injectable, type MessageEvent, type OnModuleDestroy } from '@nestjs/common';
import type { Logger } from 'pino';
import { Observable, type Subscriber } from 'rxjs';
import { liveCallsOf } from '../call-log/live-calls';
import { Clock } from '../common/clock';
import { Scheduler, type ScheduledTask } from '../common/scheduler';
import { AppLogger } from '../logging/app-logger';
import { SessionStore } from '../session/session-store';

/** How often the session list is read while anyone watches: the shared one, so the whole fleet's calls. */
export const LIVE_POLL_MS = 1_000;
/** A comment at least this often keeps proxies from closing a quiet stream. */
export const LIVE_KEEPALIVE_MS = 25_000;

/**
 * The live calls as server-sent events, for the console: `calls` with the list (as GET
 * /api/calls/live answers it) when a watcher connects and whenever it changes, `unavailable` while
 * the session store (Redis) cannot be read. The list is read on a scheduler tick, once for every
 * watcher of this instance, and only while someone watches. With a shared store it is the fleet's:
 * a call on another instance appears within a tick.
 */
@Injectable()
export class LiveCallsFeed implements OnModuleDestroy {
  private readonly watchers = new Set<Subscriber<MessageEvent>>();
  /** Watchers that have had no event yet: they get the next one, changed or not. */
  private readonly fresh = new Set<Subscriber<MessageEvent>>();
  private last: string | null = null;
  private lastSentAt = 0;
  private tick: ScheduledTask | null = null;
  private polling = false;
  private closed = false;
  private readonly log: Logger;

  constructor(
    private readonly sessions: SessionStore,
    private readonly clock: Clock,
    private readonly scheduler: Scheduler,
    logger: AppLogger,
  ) {
    this.log = logger.child({ component: 'console' });
  }

  /** One watcher's stream; it ends at shutdown. */
  events(): Observable<MessageEvent> {
    return new Observable<MessageEvent>((watcher) => {
      if (this.closed) {
        watcher.complete();
        return;
      }
      this.watchers.add(watcher);
      this.fresh.add(watcher);
      this.tick ??= this.scheduler.every(LIVE_POLL_MS, () => void this.poll());
      void this.poll();
      return () => {
        this.watchers.delete(watcher);
        this.fresh.delete(watcher);
        if (this.watchers.size === 0) this.stop();
      };
    });
  }

  get watching(): number {
    return this.watchers.size;
  }

  onModuleDestroy(): void {
    this.closed = true;
    this.stop();
    for (const watcher of [...this.watchers]) watcher.complete();
  }

  /** Reads the list once; a read still running when the next tick comes is left to finish. */
  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    let event: MessageEvent;
    try {
      event = { type: 'calls', data: liveCallsOf(await this.sessions.list()) };
    } catch (err) {
      if (this.last !== 'unavailable') this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'live calls unreadable: watchers told');
      event = { type: 'unavailable', data: { message: 'The live calls cannot be listed while Redis is unreachable.' } };
    } finally {
      this.polling = false;
    }
    if (this.closed) return;
    const key = event.type === 'calls' ? JSON.stringify(event.data) : 'unavailable';
    const now = this.clock.now();
    if (key !== this.last) {
      this.last = key;
      this.send(this.watchers, event, now);
    } else if (this.fresh.size > 0) {
      this.send(this.fresh, event, now);
    } else if (now - this.lastSentAt >= LIVE_KEEPALIVE_MS) {
      this.send(this.watchers, { comment: 'keepalive' }, now);
    }
  }

  private send(to: ReadonlySet<Subscriber<MessageEvent>>, event: MessageEvent, now: number): void {
    for (const watcher of [...to]) {
      watcher.next(event);
      this.fresh.delete(watcher);
    }
    this.lastSentAt = now;
  }

  private stop(): void {
    this.tick?.cancel();
    this.tick = null;
    this.last = null;
  }
}
