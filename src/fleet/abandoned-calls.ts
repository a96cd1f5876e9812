import { Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { Logger } from 'pino';
import { CallLogRepository, EMPTY_USAGE, type CallRecord } from '../call-log/call-record';
import { Clock } from '../common/clock';
import { Scheduler, type ScheduledTask } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import { AppLogger } from '../logging/app-logger';
import { RedisConnection } from '../redis/redis-connection';
import { SessionStore, type CallSession } from '../session/session-store';
import { InstanceLease } from './instance-lease';

/** Why the record of a call whose instance died ends. */
export const ABANDONED_REASON = 'instance_lost';

/**
 * A record in progress with no live session, started at least this long ago, belongs to a call
 * nobody holds. Its instance saves the session as the call starts; a minute is ample for that.
 */
export const ABANDONED_GRACE_MS = 60_000;

/** Records looked at per sweep; a larger backlog is worked off sweep by sweep. */
const SWEEP_BATCH = 500;

/**
 * Ends the records of calls whose instance died mid-call, so that none stays "in progress" for
 * ever. With REDIS_URL (a fleet), every lease period: the sessions of instances whose lease has
 * lapsed are removed and their calls' records ended (at when Twilio was last heard from), then any
 * record in progress that has no live session left is ended too (its session expired before anyone
 * noticed), at its last write. Without REDIS_URL the instance is alone: at boot, before it takes
 * a call, every record still in progress is a leftover of its previous run.
 *
 * A sweep runs only once Redis has been reachable for a whole lease period: after a Redis restart
 * each instance has saved its sessions and renewed its lease again by then.
 */
@Injectable()
export class AbandonedCalls implements OnApplicationBootstrap, OnModuleDestroy {
  private timer: ScheduledTask | null = null;
  private running = false;
  private readonly log: Logger;

  constructor(
    private readonly records: CallLogRepository,
    private readonly sessions: SessionStore,
    private readonly lease: InstanceLease,
    private readonly redis: RedisConnection,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly scheduler: Scheduler,
    logger: AppLogger,
  ) {
    this.log = logger.child({ component: 'fleet' });
  }

  onApplicationBootstrap(): void {
    // In the background: a database that is slow to answer must not hold the boot up.
    if (!this.redis.client) {
      void this.guard(() => this.sweepAlone());
      return;
    }
    this.timer = this.scheduler.every(this.config.fleet.leaseMs, () => void this.guard(() => this.sweepFleet()));
  }

  onModuleDestroy(): void {
    this.timer?.cancel();
  }

  /** One fleet sweep (also what the timer runs); resolves to the call SIDs whose records it ended. */
  async sweepFleet(): Promise<string[]> {
    if (this.redis.upForMs() < this.config.fleet.leaseMs) return [];
    const me = this.config.instanceId;
    const sessions = await this.sessions.list();
    const holders = [...new Set(sessions.map((s) => s.instanceId).filter((id) => id !== me))];
    const alive = await this.lease.alive(holders);
    const ended: string[] = [];
    const held = new Set<string>();
    for (const s of sessions) {
      if (s.instanceId === me || alive.has(s.instanceId)) {
        held.add(s.callSid);
        continue;
      }
      await this.sessions.remove(s.callSid);
      if ((await this.end(s.callSid, s.lastSeenAt, { holder: s.instanceId })) || (await this.recordLost(s))) ended.push(s.callSid);
    }
    const now = this.clock.epochMs();
    for (const callSid of await this.records.inProgress(new Date(now - ABANDONED_GRACE_MS).toISOString(), SWEEP_BATCH)) {
      if (!held.has(callSid) && (await this.end(callSid, null, {}))) ended.push(callSid);
    }
    return ended;
  }

  /** The boot sweep of an instance without REDIS_URL; resolves to the call SIDs it ended. */
  async sweepAlone(): Promise<string[]> {
    const now = this.clock.epochMs();
    const ended: string[] = [];
    for (;;) {
      const batch = await this.records.inProgress(new Date(now + 1).toISOString(), SWEEP_BATCH);
      for (const callSid of batch) if (await this.end(callSid, null, {})) ended.push(callSid);
      if (batch.length < SWEEP_BATCH) return ended;
    }
  }

  /**
   * The holder died before the call's first record reached the database: the session is all that
   * is known of the call, and it is kept as its record, so that no call is missing from the log.
   */
  private async recordLost(s: CallSession): Promise<boolean> {
    if (await this.records.get(s.callSid)) return false;
    const endedAt = Math.max(s.lastSeenAt, s.startedAt);
    const record: CallRecord = {
      callSid: s.callSid,
      streamSid: s.streamSid,
      direction: s.direction,
      from: s.from,
      to: s.to,
      status: 'failed',
      startedAt: new Date(s.startedAt).toISOString(),
      endedAt: new Date(endedAt).toISOString(),
      durationMs: endedAt - s.startedAt,
      endReason: ABANDONED_REASON,
      transcript: [],
      usage: EMPTY_USAGE,
      costUsd: 0,
      recording: null,
      details: { abandoned: { holder: s.instanceId, noticedBy: this.config.instanceId, fromSession: true } },
      profile: null,
    };
    await this.records.save(record);
    this.log.warn({ callSid: s.callSid, holder: s.instanceId }, 'call record ended: the instance holding the call is gone');
    return true;
  }

  /** `endedAtMs`: when the call was last heard from, if known. */
  private async end(callSid: string, endedAtMs: number | null, details: Record<string, unknown>): Promise<boolean> {
    const endedAt = endedAtMs === null ? null : new Date(endedAtMs).toISOString();
    const ended = await this.records.endAbandoned(callSid, ABANDONED_REASON, endedAt, {
      abandoned: { ...details, noticedBy: this.config.instanceId },
    });
    if (ended) this.log.warn({ callSid, ...details }, 'call record ended: the instance holding the call is gone');
    return ended;
  }

  /** One sweep at a time; a failed one is logged and the next tries again. */
  private async guard(sweep: () => Promise<string[]>): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await sweep();
    } catch (err) {
      this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'abandoned calls sweep failed; trying again next time');
    } finally {
      this.running = false;
    }
  }
}
