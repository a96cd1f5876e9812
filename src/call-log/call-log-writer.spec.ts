import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualScheduler } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import { AppLogger } from '../logging/app-logger';
import { CallMetrics } from '../metrics/call-metrics';
import { callRecord } from '../../test/support/call-records';
import { LogCapture } from '../../test/support/log-capture';
import { metricValue } from '../../test/support/metric-value';
import { deferred, type Deferred } from '../../test/support/wait';
import { CallLogRepository, type CallListPage, type CallRecord } from './call-record';
import { CallLogWriter, type CallLogWriterOptions } from './call-log-writer';

/** An in-memory repository whose database can be switched off, or made to hold a write. */
class FlakyRepository extends CallLogRepository {
  readonly rows = new Map<string, CallRecord>();
  down = false;
  writes = 0;
  /** Set: the next write waits until the test settles it, then fails or succeeds as `down` says. */
  hold: Deferred<void> | null = null;
  /** The latest write, as the writer awaits it. */
  lastSave: Promise<void> = Promise.resolve();
  private waiters: Array<() => void> = [];

  save(record: CallRecord): Promise<void> {
    this.lastSave = this.saveNow(record);
    return this.lastSave;
  }

  private async saveNow(record: CallRecord): Promise<void> {
    this.writes++;
    const notify = this.waiters;
    this.waiters = [];
    notify.forEach((w) => w());
    const hold = this.hold;
    this.hold = null;
    if (hold) await hold.promise;
    if (this.down) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
    this.rows.set(record.callSid, structuredClone(record));
  }
  async get(callSid: string): Promise<CallRecord | undefined> {
    return this.rows.get(callSid);
  }
  async inProgress(): Promise<string[]> {
    return [];
  }
  async hasJobRequestFrom(): Promise<boolean> {
    return false;
  }
  async endAbandoned(): Promise<boolean> {
    return false;
  }
  async mergeCrm(): Promise<boolean> {
    return false;
  }
  async list(): Promise<CallListPage> {
    return { items: [...this.rows.values()], total: this.rows.size };
  }
  /** Resolves at the next write attempt. */
  nextAttempt(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

const record = (over: Partial<CallRecord> = {}): CallRecord =>
  callRecord({ status: 'in-progress', endedAt: null, durationMs: null, endReason: null, ...over });

const RETRY = 'call record write failed; will retry';
const BASE_DELAY_MS = 100;
const MAX_DELAY_MS = 400;
const SHUTDOWN_FLUSH_MS = 5_000;

describe('CallLogWriter', () => {
  let dataDir: string;
  let repo: FlakyRepository;
  let scheduler: ManualScheduler;
  let logs: LogCapture;
  let metrics: CallMetrics;
  const failures = (operation: string) => metricValue(metrics.registry, 'call_operator_database_failures_total', { operation });
  const config = () => new AppConfig(validateEnvironment({ DATA_DIR: dataDir, LOG_LEVEL: 'info' }));
  const writer = (opts: Partial<CallLogWriterOptions> = {}) =>
    new CallLogWriter(repo, config(), new AppLogger(config(), logs), scheduler, metrics, {
      baseDelayMs: BASE_DELAY_MS,
      maxDelayMs: MAX_DELAY_MS,
      attemptsBeforeSpool: 3,
      shutdownFlushMs: SHUTDOWN_FLUSH_MS,
      ...opts,
    });
  /** Resolves once the writer has handled its `attempts`-th failed write of the call (and set its retry, if any). */
  const failed = (attempts: number, callSid = record().callSid) => logs.waitFor(RETRY, { callSid, attempts });
  const spoolFiles = () => readdirSync(join(dataDir, 'spool'));

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'call-log-'));
    repo = new FlakyRepository();
    scheduler = new ManualScheduler();
    logs = new LogCapture();
    metrics = new CallMetrics();
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('writes the latest snapshot of each call', async () => {
    const w = writer();
    w.submit(record());
    w.submit(record({ transcript: [{ speaker: 'caller', text: 'hi', startMs: 0 }] }));
    w.submit(record({ status: 'completed', endReason: 'twilio_stop' }));
    await w.drained();
    expect(repo.rows.get(record().callSid)).toMatchObject({ status: 'completed', endReason: 'twilio_stop' });
    expect(repo.writes).toBeLessThanOrEqual(3);
  });

  it('retries a failed write after a backoff that doubles up to the maximum', async () => {
    const w = writer({ attemptsBeforeSpool: 1000 });
    repo.down = true;
    w.submit(record());
    for (const [attempt, delay] of [[1, 100], [2, 200], [3, 400], [4, 400]] as const) {
      await failed(attempt);
      expect(scheduler.pending).toBe(1);
      scheduler.advance(delay - 1);
      expect(repo.writes).toBe(attempt);
      if (attempt === 4) repo.down = false;
      scheduler.advance(1);
      expect(repo.writes).toBe(attempt + 1);
    }
    await w.drained();
    expect(repo.rows.size).toBe(1);
    expect(scheduler.pending).toBe(0);
  });

  it('loses nothing when the database is down during the call and comes back before the end', async () => {
    const w = writer({ attemptsBeforeSpool: 1000 });
    repo.down = true;
    w.submit(record());
    await failed(1);
    // Waits for the retry: one write per backoff, not one per snapshot.
    w.submit(record({ transcript: [{ speaker: 'caller', text: 'My pipe burst', startMs: 200 }] }));
    expect(repo.writes).toBe(1);
    // A finished call is written at once, not at the end of its backoff.
    w.submit(record({ status: 'completed', endReason: 'twilio_stop', transcript: [{ speaker: 'caller', text: 'My pipe burst', startMs: 200 }] }));
    expect(repo.writes).toBe(2);
    await failed(2);
    expect(repo.rows.size).toBe(0);
    repo.down = false;
    scheduler.advance(2 * BASE_DELAY_MS);
    await w.drained();
    expect(repo.rows.get(record().callSid)).toMatchObject({ status: 'completed', transcript: [{ text: 'My pipe burst' }] });
  });

  it('spools a finished call it cannot write, and replays it at the next boot, counting each failure', async () => {
    const w = writer();
    repo.down = true;
    w.submit(record({ status: 'completed', endReason: 'twilio_stop' }));
    for (const attempt of [1, 2]) {
      await failed(attempt);
      scheduler.advance(MAX_DELAY_MS);
    }
    await w.drained();
    expect(repo.writes).toBe(3);
    expect(spoolFiles()).toEqual([`${record().callSid}.json`]);
    expect(scheduler.pending).toBe(0);
    expect(await failures('call_log_write')).toBe(3);
    expect(await failures('call_log_spooled')).toBe(1);

    // Still down at the next boot: the file stays.
    expect(await writer().replaySpool()).toBe(0);
    expect(spoolFiles()).toHaveLength(1);
    expect(await failures('spool_replay')).toBe(1);

    repo.down = false;
    await writer().onApplicationBootstrap();
    expect(repo.rows.get(record().callSid)).toMatchObject({ status: 'completed', endReason: 'twilio_stop' });
    expect(spoolFiles()).toEqual([]);
  });

  it('holds one snapshot per call however many arrive while the database is down', async () => {
    const w = writer({ attemptsBeforeSpool: 1000 });
    const other = 'CA' + 'f'.repeat(32);
    repo.down = true;
    for (let k = 0; k < 500; k++) {
      w.submit(record({ transcript: [{ speaker: 'caller', text: `turn ${k}`, startMs: k }] }));
      w.submit(record({ callSid: other, durationMs: k }));
    }
    expect(w.pendingCount).toBe(2);
    await failed(1);
    await failed(1, other);
    expect(repo.writes).toBe(2);
    repo.down = false;
    scheduler.advance(BASE_DELAY_MS);
    await w.drained();
    expect(repo.writes).toBe(4);
    expect(repo.rows.get(record().callSid)?.transcript).toEqual([{ speaker: 'caller', text: 'turn 499', startMs: 499 }]);
    expect(repo.rows.get(other)?.durationMs).toBe(499);
  });

  it('keeps the spool within its bound, dropping further records with one log line and a count', async () => {
    const w = writer({ attemptsBeforeSpool: 1, maxSpoolFiles: 2 });
    repo.down = true;
    for (let k = 0; k < 5; k++) w.submit(record({ callSid: `CA${String(k).repeat(32)}`, status: 'completed', endReason: 'twilio_stop' }));
    await w.drained();
    expect(spoolFiles()).toHaveLength(2);
    expect(w.droppedCount).toBe(3);
    expect(logs.all('call record spool full; records that cannot be written are dropped')).toHaveLength(1);
    expect(await failures('call_log_spooled')).toBe(2);
    expect(await failures('spool_write')).toBe(3);

    // The next boot counts what is already there.
    const next = writer({ attemptsBeforeSpool: 1, maxSpoolFiles: 2 });
    await next.replaySpool();
    next.submit(record({ callSid: 'CA' + 'e'.repeat(32), status: 'completed' }));
    await next.drained();
    expect(spoolFiles()).toHaveLength(2);
    expect(next.droppedCount).toBe(1);
  });

  it('writes what waits for a retry at shutdown at once, without waiting for its backoff', async () => {
    const w = writer({ attemptsBeforeSpool: 1000, baseDelayMs: 60_000 });
    repo.down = true;
    w.submit(record());
    await failed(1);
    repo.down = false;
    await w.beforeApplicationShutdown();
    expect(repo.rows.size).toBe(1);
    expect(readdirSync(dataDir)).not.toContain('spool');
    expect(scheduler.pending).toBe(0);
  });

  it('spools what is still pending when the shutdown flush time is up, and leaves no retry behind', async () => {
    const w = writer({ attemptsBeforeSpool: 1000 });
    repo.down = true;
    w.submit(record());
    await failed(1);
    const shutdown = w.beforeApplicationShutdown();
    await failed(2);
    scheduler.advance(SHUTDOWN_FLUSH_MS);
    await shutdown;
    expect(w.pendingCount).toBe(0);
    expect(spoolFiles()).toEqual([`${record().callSid}.json`]);
    expect(scheduler.pending).toBe(0);
  });

  it('does not retry a write that fails after shutdown spooled its record', async () => {
    const w = writer({ attemptsBeforeSpool: 1000 });
    repo.down = true;
    w.submit(record());
    await failed(1);
    const held = deferred();
    repo.hold = held;
    const shutdown = w.beforeApplicationShutdown(); // the retry starts now and hangs
    expect(repo.writes).toBe(2);
    scheduler.advance(SHUTDOWN_FLUSH_MS);
    await shutdown;
    expect(spoolFiles()).toEqual([`${record().callSid}.json`]);

    held.resolve();
    // The writer awaited this write before the test did, so it has handled the failure by now.
    await repo.lastSave.catch(() => undefined);
    expect(logs.all(RETRY)).toHaveLength(1);
    expect(scheduler.pending).toBe(0);
    expect(w.pendingCount).toBe(0);
  });
});
