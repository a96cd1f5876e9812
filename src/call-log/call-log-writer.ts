import { Inject, Injectable, Optional, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { raceTimeout } from '../common/race-timeout';
import { Scheduler, type ScheduledTask } from '../common/scheduler';
import { SpoolDir } from '../common/spool-dir';
import { AppConfig } from '../config/app-config';
import { AppLogger } from '../logging/app-logger';
import { CallMetrics } from '../metrics/call-metrics';
import { CallLogRepository, type CallRecord } from './call-record';

export interface CallLogWriterOptions {
  /** First retry delay; doubles up to maxDelayMs. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Failed writes of a finished call before it goes to the spool file. */
  readonly attemptsBeforeSpool: number;
  /** How long shutdown waits for pending writes before spooling them. */
  readonly shutdownFlushMs: number;
  /** Spool files kept at most: a database down for days must not fill the disk. Beyond it records are dropped. */
  readonly maxSpoolFiles: number;
}

export const CALL_LOG_WRITER_OPTIONS = Symbol('CALL_LOG_WRITER_OPTIONS');

const DEFAULTS: CallLogWriterOptions = { baseDelayMs: 500, maxDelayMs: 30_000, attemptsBeforeSpool: 6, shutdownFlushMs: 5_000, maxSpoolFiles: 10_000 };

interface Pending {
  record: CallRecord;
  attempts: number;
  retry: ScheduledTask | null;
  writing: boolean;
}

/**
 * Writes call records off the audio path. Each call has at most one pending snapshot: a newer
 * one replaces it, so a slow or failing database costs memory per call, not per event (and a
 * finished call leaves memory for the spool after attemptsBeforeSpool failures). Failed
 * writes are retried with backoff; a finished call whose record still cannot be written goes to
 * a spool file, replayed at the next boot. Nothing is lost to a database outage.
 */
@Injectable()
export class CallLogWriter implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly pending = new Map<string, Pending>();
  private readonly idle = new Set<() => void>();
  private readonly log: Logger;
  private readonly options: CallLogWriterOptions;
  private readonly spoolDir: SpoolDir<CallRecord>;
  /** Files in the spool directory, as far as this process knows (counted at replay, then kept). */
  private spooled = 0;
  private spoolDropped = 0;

  constructor(
    private readonly repository: CallLogRepository,
    config: AppConfig,
    logger: AppLogger,
    private readonly scheduler: Scheduler,
    private readonly metrics: CallMetrics,
    @Optional() @Inject(CALL_LOG_WRITER_OPTIONS) options?: Partial<CallLogWriterOptions> | null,
  ) {
    this.log = logger.child({ component: 'call-log' });
    this.options = { ...DEFAULTS, ...options };
    this.spoolDir = new SpoolDir(join(config.dataDir, 'spool'));
  }

  /** Queues the latest snapshot of a call. Never throws, never waits. */
  submit(record: CallRecord): void {
    const entry = this.pending.get(record.callSid);
    if (entry) {
      entry.record = record;
      // A write in flight or a scheduled retry picks this snapshot up; a finished call is
      // flushed now rather than at the end of its backoff.
      if (entry.retry && record.status !== 'in-progress') {
        entry.retry.cancel();
        void this.write(record.callSid, entry);
      }
      return;
    }
    const fresh: Pending = { record, attempts: 0, retry: null, writing: false };
    this.pending.set(record.callSid, fresh);
    void this.write(record.callSid, fresh);
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Finished call records lost because the spool was full. */
  get droppedCount(): number {
    return this.spoolDropped;
  }

  /** Resolves when nothing is pending (written or spooled). */
  drained(): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.add(resolve));
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.replaySpool();
  }

  /** After the calls have ended, before the database closes: write what is pending, spool the rest. */
  async beforeApplicationShutdown(): Promise<void> {
    // Retry everything now rather than at its backoff time.
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
      entry.retry = null;
      await this.spool(callSid, entry.record);
    }
  }

  /** Writes spooled records left by an earlier run; files that still fail stay for the next boot. */
  async replaySpool(): Promise<number> {
    const files = await this.spoolDir.files();
    let replayed = 0;
    for (const spooled of files) {
      try {
        await this.repository.save(await spooled.read());
        await spooled.remove();
        replayed++;
      } catch (err) {
        this.metrics.databaseFailure('spool_replay');
        this.log.error({ file: spooled.file, err: (err as Error).message }, 'spooled call record not replayed; kept for the next boot');
      }
    }
    this.spooled = files.length - replayed;
    if (files.length > 0) this.log.info({ replayed, found: files.length }, 'spooled call records replayed');
    return replayed;
  }

  private async write(callSid: string, entry: Pending): Promise<void> {
    entry.retry = null;
    entry.writing = true;
    const record = entry.record;
    try {
      await this.repository.save(record);
      entry.writing = false;
      // Spooled meanwhile (shutdown does not wait for a write in flight): the spool file has it.
      if (this.pending.get(callSid) !== entry) return;
      if (entry.record === record) {
        this.forget(callSid, entry);
      } else {
        entry.attempts = 0;
        void this.write(callSid, entry); // a newer snapshot came in meanwhile
      }
    } catch (err) {
      entry.writing = false;
      // Spooled meanwhile: retrying would spool it again, or hold a timer after shutdown.
      if (this.pending.get(callSid) !== entry) return;
      entry.attempts++;
      this.metrics.databaseFailure('call_log_write');
      const finished = entry.record.status !== 'in-progress';
      this.log.warn({ callSid, attempts: entry.attempts, err: (err as Error).message }, 'call record write failed; will retry');
      if (finished && entry.attempts >= this.options.attemptsBeforeSpool) {
        await this.spool(callSid, entry.record);
        return;
      }
      const delay = Math.min(this.options.baseDelayMs * 2 ** (entry.attempts - 1), this.options.maxDelayMs);
      entry.retry = this.scheduler.after(delay, () => void this.write(callSid, entry));
    }
  }

  private async spool(callSid: string, record: CallRecord): Promise<void> {
    const entry = this.pending.get(callSid);
    if (this.spooled >= this.options.maxSpoolFiles) {
      this.metrics.databaseFailure('spool_write');
      if (this.spoolDropped++ === 0) this.log.error({ callSid, maxSpoolFiles: this.options.maxSpoolFiles }, 'call record spool full; records that cannot be written are dropped');
      if (entry) this.forget(callSid, entry);
      return;
    }
    this.spooled++; // reserved before the first await: spools run concurrently
    try {
      await this.spoolDir.put(callSid, record);
      this.metrics.databaseFailure('call_log_spooled');
      this.log.warn({ callSid }, 'call record spooled to disk; it will be written at the next boot');
    } catch (err) {
      this.spooled--;
      this.metrics.databaseFailure('spool_write');
      this.log.error({ callSid, err: (err as Error).message }, 'call record could not be spooled');
    }
    if (entry) this.forget(callSid, entry);
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
