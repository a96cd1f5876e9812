import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import PgBoss from 'pg-boss';
import { Clock, SystemClock } from '../common/clock';
import { SystemScheduler } from '../common/scheduler';
import type { SqlClient } from '../database/sql-client';
import { silentLogger, sqlTestBackends, type SqlTestDatabase } from '../database/sql-test-backends';
import type { Job } from './job-queue';
import { PgBossJobQueue, type PgBossJobQueueOptions } from './pg-boss-job-queue';
import { SqlClientDb } from './sql-client-db';

// PGlite starts in a few seconds; a lease has to run out (1 s) in the expiry tests.
jest.setTimeout(30_000);

const scheduler = new SystemScheduler();
const clock = new SystemClock();
const pause = (ms: number) => new Promise<void>((resolve) => scheduler.after(ms, resolve));

/** Resolves when `predicate` holds after an event: the tests wait for handlers, never for time. */
class Events<T> {
  readonly seen: T[] = [];
  private waiters: Array<{ predicate: (seen: T[]) => boolean; resolve: () => void }> = [];

  push(event: T): void {
    this.seen.push(event);
    this.waiters = this.waiters.filter((w) => (w.predicate(this.seen) ? (w.resolve(), false) : true));
  }

  until(predicate: (seen: T[]) => boolean): Promise<void> {
    if (predicate(this.seen)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ predicate, resolve }));
  }

  count(n: number): Promise<void> {
    return this.until((seen) => seen.length >= n);
  }
}

interface Stored {
  state: string;
  retry_count: number;
  start_after: Date;
}

async function stored(sql: SqlClient, schema: string, id: string): Promise<Stored | undefined> {
  const [row] = await sql.query<Stored>(`SELECT state::text AS state, retry_count, start_after FROM ${schema}.job WHERE id = $1`, [id]);
  return row;
}

describe.each(sqlTestBackends())('PgBossJobQueue on $name', (backend) => {
  let db: SqlTestDatabase;
  let schema: string;
  const queues: PgBossJobQueue[] = [];

  const open = (options: Partial<PgBossJobQueueOptions> = {}, sql: SqlClient = db.client): PgBossJobQueue => {
    const queue = new PgBossJobQueue(
      sql,
      { schema, pollMs: 3_600_000, expireSeconds: 60, retryDelaySeconds: 0, retryBackoff: false, stopTimeoutMs: 2_000, ...options },
      { scheduler, clock, logger: silentLogger },
    );
    queues.push(queue);
    return queue;
  };

  beforeEach(async () => {
    db = await backend.open();
    schema = `jobs_${randomBytes(5).toString('hex')}`;
  });

  afterEach(async () => {
    await Promise.all(queues.splice(0).map((q) => q.stop()));
    await db.client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db.dispose();
  });

  afterAll(() => backend.shutdown());

  it('works a job sent once, and records it completed', async () => {
    const queue = open();
    const handled = new Events<Job<{ request: string }>>();
    await queue.work<{ request: string }>('dial', async (job) => handled.push(job));
    const id = await queue.send('dial', { request: 'r1' });
    expect(id).toEqual(expect.any(String));
    await handled.count(1);
    await queue.stop();
    expect(handled.seen.map((j) => [j.id, j.data, j.retryCount])).toEqual([[id, { request: 'r1' }, 0]]);
    expect((await stored(db.client, schema, id!))?.state).toBe('completed');
  });

  it('keeps a job until its start time, and wakes the worker then without a poll', async () => {
    const queue = open(); // pollMs is an hour: only the wake-up can bring the job in time
    const handled = new Events<{ id: string; at: number }>();
    await queue.work('dial', async (job) => handled.push({ id: job.id, at: clock.epochMs() }), { concurrency: 2 });

    const later = new Date(clock.epochMs() + 3_600_000);
    const laterId = await queue.send('dial', { request: 'later' }, { startAfter: later });
    expect((await stored(db.client, schema, laterId!))?.start_after.getTime()).toBe(later.getTime());

    const soon = new Date(clock.epochMs() + 800);
    const soonId = await queue.send('dial', { request: 'soon' }, { startAfter: soon });
    await handled.count(1);
    // Fetched two at a time: the later job would have come along had it been due.
    expect(handled.seen).toEqual([{ id: soonId, at: expect.any(Number) }]);
    expect(handled.seen[0].at).toBeGreaterThanOrEqual(soon.getTime());
    expect((await stored(db.client, schema, laterId!))?.state).toBe('created');
  });

  it('keeps at most one queued job per singleton key', async () => {
    const queue = open();
    const first = await queue.send('dial', { n: 1 }, { singletonKey: 'request-1', startAfter: new Date(clock.epochMs() + 60_000) });
    expect(first).toEqual(expect.any(String));
    expect(await queue.send('dial', { n: 2 }, { singletonKey: 'request-1' })).toBeNull();
    expect(await queue.send('dial', { n: 3 }, { singletonKey: 'request-2' })).toEqual(expect.any(String));

    // Once the first is running, its handler can queue the next attempt under the same key.
    const handled = new Events<string>();
    let next: string | null = null;
    await queue.work<{ n: number }>('dial', async (job) => {
      if (job.data.n === 1) next = await queue.send('dial', { n: 4 }, { singletonKey: 'request-1', startAfter: new Date(clock.epochMs() + 60_000) });
      handled.push(job.id);
    });
    expect(await queue.cancel('dial', first!)).toBe(true);
    const again = await queue.send('dial', { n: 1 }, { singletonKey: 'request-1' });
    await handled.until((seen) => seen.includes(again!));
    expect(next).toEqual(expect.any(String));
  });

  it('works a job sent after the clock jumped forward at once, not when the timer set before the jump fires', async () => {
    // A clock pushed forward (as the e2e tests push theirs): the timer set for the later job's start,
    // an hour of real time away, must not hold back a job due now.
    let skipped = 0;
    const jumpy = new (class extends Clock {
      now = () => clock.now() + skipped;
      epochMs = () => clock.epochMs() + skipped;
    })();
    const queue = new PgBossJobQueue(db.client, { schema, pollMs: 3_600_000, expireSeconds: 60, stopTimeoutMs: 2_000 }, { scheduler, clock: jumpy, logger: silentLogger });
    queues.push(queue);
    const handled = new Events<string>();
    await queue.work<{ n: string }>('dial', async (job) => handled.push(job.data.n));
    await queue.send('dial', { n: 'later' }, { startAfter: new Date(clock.epochMs() + 3_600_000) });
    await pause(100); // the worker has looked, and set its timer for the later job
    skipped = 2 * 3_600_000;
    await queue.send('dial', { n: 'now' });
    await handled.until((seen) => seen.includes('now'));
  });

  it('retries a failing handler as configured, then records the job failed', async () => {
    const queue = open({ retryLimit: 2 });
    const runs = new Events<number>();
    await queue.work('dial', async (job) => {
      runs.push(job.retryCount);
      throw new Error('twilio said no');
    });
    const id = await queue.send('dial', {});
    await runs.count(3);
    await queue.stop(); // waits for the last failure to be recorded
    expect(runs.seen).toEqual([0, 1, 2]);
    expect(await stored(db.client, schema, id!)).toMatchObject({ state: 'failed', retry_count: 2 });
  });

  it('retries a failing handler after the retry delay, and completes it when it succeeds', async () => {
    const queue = open({ retryLimit: 3, retryDelaySeconds: 1 });
    const runs = new Events<{ retryCount: number; at: number }>();
    await queue.work('dial', async (job) => {
      runs.push({ retryCount: job.retryCount, at: clock.epochMs() });
      if (job.retryCount === 0) throw new Error('busy');
    });
    const id = await queue.send('dial', {});
    await runs.count(2);
    await queue.stop();
    expect(runs.seen[1].retryCount).toBe(1);
    expect(runs.seen[1].at - runs.seen[0].at).toBeGreaterThanOrEqual(900);
    expect((await stored(db.client, schema, id!))?.state).toBe('completed');
  });

  it('cancels a queued job, which is then never worked', async () => {
    const queue = open();
    const cancelled = await queue.send('dial', { n: 'cancelled' });
    expect(await queue.cancel('dial', cancelled!)).toBe(true);
    expect(await queue.cancel('dial', cancelled!)).toBe(false);
    const handled = new Events<string>();
    await queue.work('dial', async (job) => handled.push(job.id), { concurrency: 2 });
    const kept = await queue.send('dial', { n: 'kept' });
    await handled.count(1);
    expect(handled.seen).toEqual([kept]);
    expect((await stored(db.client, schema, cancelled!))?.state).toBe('cancelled');
  });

  it('keeps jobs across a restart of the queue', async () => {
    const first = open();
    const id = await first.send('dial', { request: 'r9' });
    await first.stop();

    const second = open();
    expect(await second.inspect('dial', id!)).toMatchObject({ id, state: 'created' });
    const handled = new Events<string>();
    await second.work('dial', async (job) => handled.push(job.id));
    await handled.count(1);
    expect(handled.seen).toEqual([id]);
  });

  it('never hands one job to two instances (200 jobs, two clients, four workers each)', async () => {
    const a = open({ pollMs: 100 });
    const b = open({ pollMs: 100 }, db.connect());
    const handled = new Events<{ id: string; by: string }>();
    const handler = (by: string) => async (job: Job) => {
      handled.push({ id: job.id, by });
      await pause(2);
    };
    await a.work('dial', handler('a'), { concurrency: 4 });
    await b.work('dial', handler('b'), { concurrency: 4 });

    const ids = new Set<string>();
    for (let i = 0; i < 200; i++) ids.add((await (i % 2 ? a : b).send('dial', { i }))!);
    await handled.count(200);
    await Promise.all([a.stop(), b.stop()]);

    expect(handled.seen).toHaveLength(200);
    expect(new Set(handled.seen.map((h) => h.id))).toEqual(ids);
    expect(handled.seen.filter((h) => h.by === 'a').length).toBeGreaterThan(0);
    expect(handled.seen.filter((h) => h.by === 'b').length).toBeGreaterThan(0);
    const [{ completed }] = await db.client.query<{ completed: number }>(`SELECT count(*) AS completed FROM ${schema}.job WHERE state = 'completed'`);
    expect(completed).toBe(200);
  });

  it('hands a job held by a worker that died to another once its lease lapses, once', async () => {
    const queue = open({ expireSeconds: 1 });
    const id = await queue.send('dial', { request: 'r5' });
    // The dead worker: another pg-boss on the same database takes the job and never finishes it.
    const dead = new PgBoss({ db: new SqlClientDb(db.connect()), schema, supervise: false, schedule: false });
    await dead.start();
    const taken = await dead.fetch('dial');
    expect(taken.map((j) => j.id)).toEqual([id]);

    const handled = new Events<Job>();
    await queue.work('dial', async (job) => handled.push(job), { concurrency: 2 });
    await handled.count(1);
    await queue.stop();
    expect(handled.seen.map((j) => [j.id, j.retryCount])).toEqual([[id, 1]]);
    expect((await stored(db.client, schema, id!))?.state).toBe('completed');
    await dead.stop({ graceful: false, close: false });
  });

  it('aborts a hung handler as its lease runs out, hands the job to another worker after, and records nothing from the hung one', async () => {
    const hung = open({ expireSeconds: 1, stopTimeoutMs: 1_000 });
    const other = open({ expireSeconds: 1, pollMs: 100 }, db.connect());
    const events = new Events<string>();
    await hung.work('dial', async (job) => {
      events.push(`hung took ${job.retryCount}`);
      await new Promise<void>((resolve) => job.signal.addEventListener('abort', () => resolve()));
      events.push('hung aborted');
      // What it returns now is not recorded: the job is no longer its own.
      await new Promise<void>((resolve) => scheduler.after(1_500, resolve));
    });
    const id = await hung.send('dial', {});
    await events.count(1);
    await other.work('dial', async (job) => events.push(`other took ${job.retryCount}`));
    await events.count(3);
    await Promise.all([other.stop(), hung.stop()]);
    expect(events.seen).toEqual(['hung took 0', 'hung aborted', 'other took 1']);
    expect((await stored(db.client, schema, id!))?.state).toBe('completed');
  });

  if (backend.name === 'postgres') {
    it('hands the job of a worker process killed mid-job to another instance once its lease lapses, once', async () => {
      const queue = open({ expireSeconds: 1 });
      const id = await queue.send('dial', { request: 'r7' });
      const child = spawn(process.execPath, [
        '-e',
        [
          `const PgBoss = require(${JSON.stringify(require.resolve('pg-boss'))});`,
          `const boss = new PgBoss({ connectionString: ${JSON.stringify(process.env.DATABASE_URL)}, schema: ${JSON.stringify(schema)}, supervise: false, schedule: false });`,
          `boss.start().then(() => boss.work('dial', { pollingIntervalSeconds: 0.5 }, async ([job]) => { process.send(job.id); await new Promise(() => {}); }));`,
        ].join('\n'),
      ], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      const held = await new Promise<unknown>((resolve) => child.once('message', resolve));
      expect(held).toBe(id);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;

      const handled = new Events<Job>();
      await queue.work('dial', async (job) => handled.push(job));
      await handled.count(1);
      await queue.stop();
      expect(handled.seen.map((j) => [j.id, j.retryCount])).toEqual([[id, 1]]);
      expect((await stored(db.client, schema, id!))?.state).toBe('completed');
    });
  }
});
