import { Inject, Injectable, Optional, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Clock } from '../common/clock';
import { raceTimeout } from '../common/race-timeout';
import { Scheduler, type ScheduledTask } from '../common/scheduler';
import { SpoolDir } from '../common/spool-dir';
import { AppConfig } from '../config/app-config';
import { AppLogger } from '../logging/app-logger';
import { OnCallPager } from './on-call-pager';
import { OnCallRotas } from './on-call-rotas';
import { OnCallSms } from './on-call-sms';
import type { EmergencyFacts } from './page-message';
import { PagingStore, type NewEscalation } from './paging-store';

/** What the agent may honestly tell the caller once an emergency is raised. */
export type EmergencyAlert =
  | { readonly alerted: true; readonly person: { readonly id: string; readonly name: string }; readonly callbackWithinMinutes: number }
  | { readonly alerted: false; readonly reason: 'nobody_on_call' | 'paging_unavailable' };

export interface EmergencyAlertsOptions {
  /** The longest the rota is read for before the copy read last is used: the caller is waiting. */
  readonly rotaReadMs: number;
  /** First retry delay of an emergency the database would not take; doubles up to maxDelayMs. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** How long shutdown waits for what is pending before spooling it. */
  readonly shutdownFlushMs: number;
}

export const EMERGENCY_ALERTS_OPTIONS = Symbol('EMERGENCY_ALERTS_OPTIONS');
const DEFAULTS: EmergencyAlertsOptions = { rotaReadMs: 1_500, baseDelayMs: 1_000, maxDelayMs: 30_000, shutdownFlushMs: 5_000 };

/** What is still to be written for one emergency. */
interface Pending {
  /** The emergency to record, until it is. */
  begin: NewEscalation | null;
  /** The latest facts; written with `begin`, or on their own once it is recorded. */
  facts: EmergencyFacts;
  /** `facts` are not written yet. */
  factsDirty: boolean;
  /** Its first page job is still to be queued. */
  start: boolean;
  attempts: number;
  retry: ScheduledTask | null;
  writing: boolean;
}

/** A spool file's content. */
interface Spooled {
  readonly callSid: string;
  readonly begin: NewEscalation | null;
  readonly facts: EmergencyFacts;
  readonly start: boolean;
}

/**
 * Where the job request tool raises an emergency. It answers at once with who is on call (the
 * rota, read within a bound; when the database is slow or down, the copy read last) so that the
 * agent can tell the caller honestly, and hands the paging to the durable queue without making
 * the call wait for it: the emergency is recorded and its first page job queued in the background.
 * When the database will not take them, they are kept and retried with backoff, and on shutdown
 * spooled to DATA_DIR/spool/on-call and retried at the next boot, so an outage loses no emergency.
 */
@Injectable()
export class EmergencyAlerts implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly pending = new Map<string, Pending>();
  private readonly idle = new Set<() => void>();
  private readonly log: Logger;
  private readonly options: EmergencyAlertsOptions;
  private readonly spoolDir: SpoolDir<Spooled>;
  private readonly callbackMinutes: number;
  private shuttingDown = false;

  constructor(
    private readonly rotas: OnCallRotas,
    private readonly store: PagingStore,
    private readonly pager: OnCallPager,
    private readonly sms: OnCallSms,
    private readonly clock: Clock,
    private readonly scheduler: Scheduler,
    config: AppConfig,
    logger: AppLogger,
    @Optional() @Inject(EMERGENCY_ALERTS_OPTIONS) options?: Partial<EmergencyAlertsOptions> | null,
  ) {
    this.log = logger.child({ component: 'on-call' });
    this.options = { ...DEFAULTS, ...options };
    this.spoolDir = new SpoolDir(join(config.dataDir, 'spool', 'on-call'));
    this.callbackMinutes = config.onCall.callbackMinutes;
  }

  /**
   * An emergency on `callSid`: whom it pages, and the paging started in the background. Never
   * rejects; waits at most the rota read bound.
   */
  async raise(callSid: string, facts: EmergencyFacts): Promise<EmergencyAlert> {
    const log = this.log.child({ callSid });
    const onCall = await this.rotas.onCallNow(this.options.rotaReadMs);
    if (onCall.people.length === 0) {
      log.warn({ stale: onCall.stale }, 'emergency raised with nobody on call: nobody paged');
      return { alerted: false, reason: 'nobody_on_call' };
    }
    const unavailable = this.sms.unavailableReason;
    if (unavailable) {
      log.error({ why: unavailable, people: onCall.people.map((p) => p.id) }, 'emergency raised, but nobody can be paged: set up paging');
      return { alerted: false, reason: 'paging_unavailable' };
    }
    const first = onCall.people[0];
    log.info({ people: onCall.people.map((p) => p.id), from: onCall.from, stale: onCall.stale }, 'emergency raised: paging the on-call rota');
    this.submit(callSid, { begin: { callSid, startedAt: new Date(this.clock.epochMs()).toISOString(), people: onCall.people, facts }, facts, start: true });
    return { alerted: true, person: { id: first.id, name: first.name }, callbackWithinMinutes: this.callbackMinutes };
  }

  /** The caller added or corrected details after the emergency was raised: later pages say them. Never throws, never waits. */
  update(callSid: string, facts: EmergencyFacts): void {
    this.submit(callSid, { begin: null, facts, start: false });
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Resolves when nothing is pending (written, or spooled at shutdown). */
  drained(): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.add(resolve));
  }

  async onApplicationBootstrap(): Promise<void> {
    for (const file of await this.spoolDir.files()) {
      try {
        const spooled = await file.read();
        await file.remove();
        // Back in memory: written (and retried) as if just raised; spooled again if this run stops first.
        this.submit(spooled.callSid, { begin: spooled.begin, facts: spooled.facts, start: spooled.start });
        this.log.info({ callSid: spooled.callSid }, 'spooled emergency taken up again');
      } catch (err) {
        this.log.error({ file: file.file, err: (err as Error).message }, 'spooled emergency not read; left for the next boot');
      }
    }
  }

  /** After the calls have ended, before the database closes: write what is pending, spool the rest. */
  async beforeApplicationShutdown(): Promise<void> {
    this.shuttingDown = true;
    for (const [callSid, entry] of this.pending) {
      if (entry.retry) {
        entry.retry.cancel();
        entry.retry = null;
        void this.write(callSid, entry);
      }
    }
    await raceTimeout(this.drained(), this.options.shutdownFlushMs, this.scheduler);
    for (const [callSid, entry] of [...this.pending]) {
      entry.retry?.cancel();
      await this.spool(callSid, entry);
    }
  }

  private submit(callSid: string, work: { begin: NewEscalation | null; facts: EmergencyFacts; start: boolean }): void {
    const entry = this.pending.get(callSid);
    if (entry) {
      entry.begin ??= work.begin;
      entry.facts = work.facts;
      entry.factsDirty = true;
      entry.start ||= work.start;
      if (entry.retry && !this.shuttingDown) {
        // Fresh work is tried now rather than at the end of the backoff.
        entry.retry.cancel();
        void this.write(callSid, entry);
      }
      return;
    }
    const fresh: Pending = { begin: work.begin, facts: work.facts, factsDirty: true, start: work.start, attempts: 0, retry: null, writing: false };
    this.pending.set(callSid, fresh);
    void this.write(callSid, fresh);
  }

  /** Records the emergency (or its new facts), then queues its first page job; what comes in meanwhile is written next. */
  private async write(callSid: string, entry: Pending): Promise<void> {
    if (entry.writing) return; // the write in flight goes on with what came in
    entry.retry = null;
    entry.writing = true;
    try {
      const facts = entry.facts;
      if (entry.begin) {
        await this.store.begin({ ...entry.begin, facts });
        entry.begin = null;
      } else if (entry.factsDirty) {
        await this.store.updateFacts(callSid, facts);
      }
      if (entry.facts === facts) entry.factsDirty = false;
      if (entry.start) {
        await this.pager.start(callSid);
        entry.start = false;
        this.log.info({ callSid, attempts: entry.attempts + 1 }, 'emergency recorded and its paging queued');
      }
    } catch (err) {
      entry.writing = false;
      if (this.pending.get(callSid) !== entry) return; // spooled meanwhile
      entry.attempts++;
      const delay = Math.min(this.options.baseDelayMs * 2 ** (entry.attempts - 1), this.options.maxDelayMs);
      const level = entry.attempts === 1 ? 'error' : 'warn';
      this.log[level](
        { callSid, attempts: entry.attempts, retryMs: delay, err: err instanceof Error ? err.message : String(err) },
        'emergency not handed to the page queue yet: the database did not take it; retrying',
      );
      if (!this.shuttingDown) entry.retry = this.scheduler.after(delay, () => void this.write(callSid, entry));
      return;
    }
    entry.writing = false;
    if (this.pending.get(callSid) !== entry) return;
    if (entry.begin || entry.factsDirty || entry.start) void this.write(callSid, entry);
    else this.forget(callSid, entry);
  }

  private async spool(callSid: string, entry: Pending): Promise<void> {
    try {
      await this.spoolDir.put(callSid, { callSid, begin: entry.begin, facts: entry.facts, start: entry.start });
      this.log.warn({ callSid }, 'emergency spooled to disk: its paging starts at the next boot');
    } catch (err) {
      this.log.error({ callSid, err: (err as Error).message }, 'emergency could not be spooled: its paging is lost');
    }
    this.forget(callSid, entry);
  }

  private forget(callSid: string, entry: Pending): void {
    if (this.pending.get(callSid) !== entry) return;
    this.pending.delete(callSid);
    if (this.pending.size === 0) {
      for (const resolve of this.idle) resolve();
      this.idle.clear();
    }
  }
}
