import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import { AppLogger } from '../logging/app-logger';
import { callRecord } from '../../test/support/call-records';
import { CallLogRepository, type CallListPage, type CallRecord } from './call-record';
import { CallLogWriter } from './call-log-writer';

/** An in-memory repository whose database can be switched off. */
class FlakyRepository extends CallLogRepository {
  readonly rows = new Map<string, CallRecord>();
  down = false;
  writes = 0;
  private waiters: Array<() => void> = [];

  async save(record: CallRecord): Promise<void> {
    this.writes++;
    const notify = this.waiters;
    this.waiters = [];
    notify.forEach((w) => w());
    if (this.down) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
    this.rows.set(record.callSid, structuredClone(record));
  }
  async get(callSid: string): Promise<CallRecord | undefined> {
    return this.rows.get(callSid);
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

describe('CallLogWriter', () => {
  let dataDir: string;
  let repo: FlakyRepository;
  const logger = () =>
    new AppLogger(new AppConfig(validateEnvironment({ LOG_LEVEL: 'silent' })), new Writable({ write: (_c, _e, cb) => cb() }));
  const writer = (opts = {}) =>
    new CallLogWriter(repo, new AppConfig(validateEnvironment({ DATA_DIR: dataDir })), logger(), { baseDelayMs: 1, maxDelayMs: 4, attemptsBeforeSpool: 3, shutdownFlushMs: 50, ...opts });

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'call-log-'));
    repo = new FlakyRepository();
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

  it('loses nothing when the database is down during the call and comes back before the end', async () => {
    const w = writer({ attemptsBeforeSpool: 1000 });
    repo.down = true;
    w.submit(record());
    await repo.nextAttempt();
    w.submit(record({ transcript: [{ speaker: 'caller', text: 'My pipe burst', startMs: 200 }] }));
    await repo.nextAttempt();
    w.submit(record({ status: 'completed', endReason: 'twilio_stop', transcript: [{ speaker: 'caller', text: 'My pipe burst', startMs: 200 }] }));
    await repo.nextAttempt();
    expect(repo.rows.size).toBe(0);
    repo.down = false;
    await w.drained();
    expect(repo.rows.get(record().callSid)).toMatchObject({ status: 'completed', transcript: [{ text: 'My pipe burst' }] });
  });

  it('spools a finished call it cannot write, and replays it at the next boot', async () => {
    const w = writer();
    repo.down = true;
    w.submit(record({ status: 'completed', endReason: 'twilio_stop' }));
    await w.drained();
    expect(repo.writes).toBe(3);
    expect(readdirSync(join(dataDir, 'spool'))).toEqual([`${record().callSid}.json`]);

    // Still down at the next boot: the file stays.
    expect(await writer().replaySpool()).toBe(0);
    expect(readdirSync(join(dataDir, 'spool'))).toHaveLength(1);

    repo.down = false;
    await writer().onApplicationBootstrap();
    expect(repo.rows.get(record().callSid)).toMatchObject({ status: 'completed', endReason: 'twilio_stop' });
    expect(readdirSync(join(dataDir, 'spool'))).toEqual([]);
  });

  it('holds one snapshot per call however many arrive while the database is down', async () => {
    const w = writer({ attemptsBeforeSpool: 1000 });
    repo.down = true;
    for (let k = 0; k < 500; k++) {
      w.submit(record({ transcript: [{ speaker: 'caller', text: `turn ${k}`, startMs: k }] }));
      w.submit(record({ callSid: 'CA' + 'f'.repeat(32), durationMs: k }));
    }
    expect(w.pendingCount).toBe(2);
    repo.down = false;
    await w.drained();
    expect(repo.rows.get(record().callSid)?.transcript).toEqual([{ speaker: 'caller', text: 'turn 499', startMs: 499 }]);
  });

  it('keeps the spool within its bound, dropping further records with one log line and a count', async () => {
    const lines: Array<{ msg: string }> = [];
    const logger = new AppLogger(new AppConfig(validateEnvironment({ LOG_LEVEL: 'info' })), { write: (l: string) => void lines.push(JSON.parse(l) as { msg: string }) });
    const w = new CallLogWriter(repo, new AppConfig(validateEnvironment({ DATA_DIR: dataDir })), logger, { baseDelayMs: 1, maxDelayMs: 4, attemptsBeforeSpool: 1, maxSpoolFiles: 2 });
    repo.down = true;
    for (let k = 0; k < 5; k++) w.submit(record({ callSid: `CA${String(k).repeat(32)}`, status: 'completed', endReason: 'twilio_stop' }));
    await w.drained();
    expect(readdirSync(join(dataDir, 'spool'))).toHaveLength(2);
    expect(w.droppedCount).toBe(3);
    expect(lines.filter((l) => l.msg === 'call record spool full; records that cannot be written are dropped')).toHaveLength(1);

    // The next boot counts what is already there.
    const next = new CallLogWriter(repo, new AppConfig(validateEnvironment({ DATA_DIR: dataDir })), logger, { attemptsBeforeSpool: 1, maxSpoolFiles: 2 });
    await next.replaySpool();
    next.submit(record({ callSid: 'CA' + 'e'.repeat(32), status: 'completed' }));
    await next.drained();
    expect(readdirSync(join(dataDir, 'spool'))).toHaveLength(2);
    expect(next.droppedCount).toBe(1);
  });

  it('spools what is still pending at shutdown', async () => {
    const w = writer({ attemptsBeforeSpool: 1000 });
    repo.down = true;
    w.submit(record());
    await repo.nextAttempt();
    await w.beforeApplicationShutdown();
    expect(w.pendingCount).toBe(0);
    expect(readdirSync(join(dataDir, 'spool'))).toEqual([`${record().callSid}.json`]);
  });
});
