import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { SystemClock } from '../common/clock';
import { SystemScheduler } from '../common/scheduler';
import { PgliteSqlClient } from '../database/sql-client';
import { PGLITE_POLL_MS } from './jobs.module';
import { PgBossJobQueue } from './pg-boss-job-queue';

// An embedded database on disk is created and started twice, and it stops while idle twice.
jest.setTimeout(60_000);

const scheduler = new SystemScheduler();
const clock = new SystemClock();

/** The log lines, and a promise for the nth line with a given message. */
class LogLines {
  private readonly messages: string[] = [];
  private waiters: Array<{ msg: string; n: number; resolve: () => void }> = [];
  readonly logger = pino({ level: 'debug' }, { write: (line: string) => this.add((JSON.parse(line) as { msg: string }).msg) });

  count(msg: string): number {
    return this.messages.filter((m) => m === msg).length;
  }

  nth(msg: string, n: number): Promise<void> {
    if (this.count(msg) >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ msg, n, resolve }));
  }

  private add(msg: string): void {
    this.messages.push(msg);
    this.waiters = this.waiters.filter((w) => (this.count(w.msg) >= w.n ? (w.resolve(), false) : true));
  }
}

const STOPPED_IDLE = 'embedded database stopped while idle';

describe('PgBossJobQueue on the embedded database', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'jobs-pglite-'));
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('lets the database stop while idle, wakes it when a job is due, and keeps the jobs across a restart', async () => {
    const logs = new LogLines();
    const open = () => {
      const sql = new PgliteSqlClient(join(dir, 'pglite'), logs.logger, { idleStopMs: 1_000, scheduler });
      const queue = new PgBossJobQueue(sql, { schema: 'pgboss', pollMs: PGLITE_POLL_MS, expireSeconds: 120 }, { scheduler, clock, logger: logs.logger });
      return { sql, queue };
    };

    const first = open();
    const handled: string[] = [];
    let onHandled!: () => void;
    const worked = new Promise<void>((resolve) => (onHandled = resolve));
    await first.queue.work('dial', async (job) => {
      // The database stopped at least once more between sending and working the job.
      handled.push(`${job.id} after ${logs.count(STOPPED_IDLE)} idle stops`);
      onHandled();
    });
    // Working a queue with nothing due leaves the database idle: it stops.
    await logs.nth(STOPPED_IDLE, 1);
    expect(first.sql.running).toBe(false);

    // Due well after the database has had its idle second again, even on a loaded machine.
    const id = await first.queue.send('dial', {}, { startAfter: new Date(clock.epochMs() + 10_000) });
    const later = new Date(clock.epochMs() + 3_600_000);
    const laterId = await first.queue.send('dial', {}, { startAfter: later });
    await worked;
    expect(handled).toEqual([`${id} after 2 idle stops`]);

    await first.queue.stop();
    await first.sql.close();

    const second = open();
    expect(await second.queue.inspect('dial', id!)).toMatchObject({ state: 'completed' });
    expect(await second.queue.inspect('dial', laterId!)).toMatchObject({ state: 'created', startAfter: later });
    await second.queue.stop();
    await second.sql.close();
  });
});
