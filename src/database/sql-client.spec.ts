import pino from 'pino';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { deferred } from '../../test/support/wait';
import { ManualScheduler } from '../common/scheduler';
import { PGLITE_WORKER_NICENESS, PgliteSqlClient, PgSqlClient, SqlError, describePostgresTarget, type SqlClient, type SqlExecutor } from './sql-client';
import { silentLogger, sqlTestBackends, type SqlTestDatabase } from './sql-test-backends';

// Starting an embedded PostgreSQL (WASM) takes a few seconds, more on a busy machine.
jest.setTimeout(30_000);

describe.each(sqlTestBackends())('SqlClient on $name', (backend) => {
  let db: SqlTestDatabase;
  let sql: SqlClient;

  beforeAll(async () => {
    db = await backend.open();
    sql = db.client;
    await sql.query('CREATE TABLE items (id integer PRIMARY KEY, label text)');
  });
  afterAll(async () => {
    await db?.dispose();
    await backend.shutdown();
  });
  beforeEach(async () => {
    await sql.query('DELETE FROM items');
  });

  it('returns numeric and int8 as numbers, timestamptz as a Date, jsonb parsed', async () => {
    const [row] = await sql.query<Record<string, any>>(
      `SELECT $1::numeric(12, 6) AS cost, count(*) AS n, $2::timestamptz AS at, $3::jsonb AS doc, $4::integer AS i, NULL::text AS nothing`,
      [0.123456, '2026-03-01T10:00:00.123Z', JSON.stringify({ turns: [{ text: 'hi' }] }), 7],
    );
    expect(row).toMatchObject({ cost: 0.123456, n: 1, i: 7, doc: { turns: [{ text: 'hi' }] }, nothing: null });
    expect(row.at.toISOString()).toBe('2026-03-01T10:00:00.123Z');
  });

  it('runs several statements when there are no parameters, returning the last one’s rows', async () => {
    expect(await sql.query(`INSERT INTO items VALUES (1, 'a'); INSERT INTO items VALUES (2, 'b'); SELECT count(*) AS n FROM items`)).toEqual([
      { n: 2 },
    ]);
    expect(await sql.query('DELETE FROM items')).toEqual([]);
  });

  it('commits a transaction and returns its result', async () => {
    const result = await sql.transaction(async (tx) => {
      await tx.query('INSERT INTO items VALUES ($1, $2)', [1, 'one']);
      return (await tx.query<{ n: number }>('SELECT count(*) AS n FROM items'))[0].n;
    });
    expect(result).toBe(1);
    expect(await sql.query('SELECT id, label FROM items')).toEqual([{ id: 1, label: 'one' }]);
  });

  it('rolls a transaction back when it throws, and rethrows that error', async () => {
    const boom = new Error('boom');
    await expect(
      sql.transaction(async (tx) => {
        await tx.query('INSERT INTO items VALUES ($1, $2)', [1, 'one']);
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await sql.query('SELECT * FROM items')).toEqual([]);
    // The connection is usable afterwards.
    await sql.transaction((tx) => tx.query('INSERT INTO items VALUES ($1, $2)', [2, 'two']));
    expect(await sql.query('SELECT id FROM items')).toEqual([{ id: 2 }]);
  });

  it('reports database errors with their SQLSTATE code', async () => {
    await sql.query('INSERT INTO items VALUES ($1, $2)', [1, 'one']);
    const err = await sql.query('INSERT INTO items VALUES ($1, $2)', [1, 'again']).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: '23505', message: expect.stringMatching(/duplicate key/) });
    const failedTx = await sql.transaction((tx) => tx.query('SELECT * FROM no_such_table')).catch((e: unknown) => e);
    expect(failedTx).toMatchObject({ code: '42P01' });
  });

  it('keeps concurrent transactions apart', async () => {
    await sql.query('INSERT INTO items VALUES (1, $1)', ['0']);
    await Promise.all(
      Array.from({ length: 8 }, () =>
        sql.transaction(async (tx) => {
          // FOR UPDATE makes PostgreSQL's pool wait here; PGlite runs one transaction at a time anyway.
          const [{ label }] = await tx.query<{ label: string }>('SELECT label FROM items WHERE id = 1 FOR UPDATE');
          await tx.query('UPDATE items SET label = $1 WHERE id = 1', [String(Number(label) + 1)]);
        }),
      ),
    );
    expect(await sql.query('SELECT label FROM items WHERE id = 1')).toEqual([{ label: '8' }]);
  });

  it('passes values as parameters, never as SQL', async () => {
    const nasty = "'); DROP TABLE items; --";
    await sql.query('INSERT INTO items VALUES ($1, $2)', [1, nasty]);
    expect(await sql.query('SELECT label FROM items WHERE label = $1', [nasty])).toEqual([{ label: nasty }]);
  });
});

describe('PgliteSqlClient', () => {
  it('runs transactions one at a time, queueing plain queries behind them', async () => {
    const sql = new PgliteSqlClient('memory://', silentLogger);
    try {
      await sql.query('CREATE TABLE counter (n integer); INSERT INTO counter VALUES (0)');
      const order: string[] = [];
      // The first transaction stays open, having read the counter, until the test lets it go.
      const holding = deferred<SqlExecutor>();
      const release = deferred();
      const all = Promise.all([
        sql.transaction(async (tx) => {
          order.push('tx1 start');
          const [{ n }] = await tx.query<{ n: number }>('SELECT n FROM counter');
          holding.resolve(tx);
          await release.promise;
          await tx.query('UPDATE counter SET n = $1', [n + 1]);
          order.push('tx1 end');
        }),
        sql.transaction(async (tx) => {
          order.push('tx2 start');
          const [{ n }] = await tx.query<{ n: number }>('SELECT n FROM counter');
          await tx.query('UPDATE counter SET n = $1', [n + 1]);
          order.push('tx2 end');
        }),
        sql.query<{ n: number }>('SELECT n FROM counter').then(([row]) => order.push(`query saw ${String(row.n)}`)),
      ]);
      // The second BEGIN and the plain query reached the worker before anything of the first
      // transaction's body; a round trip in that transaction now comes back after them. Had they
      // not been queued behind it, they would have been answered by then.
      const tx1 = await holding.promise;
      await tx1.query('SELECT 1');
      expect(order).toEqual(['tx1 start']);
      release.resolve();
      await all;
      expect(order).toEqual(['tx1 start', 'tx1 end', 'tx2 start', 'tx2 end', 'query saw 2']);
      expect(await sql.query('SELECT n FROM counter')).toEqual([{ n: 2 }]);
    } finally {
      await sql.close();
    }
  });

  it('starts its worker again after it dies, failing only what was in flight', async () => {
    const logs: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(line) });
    const sql = new PgliteSqlClient('memory://', logger);
    try {
      await sql.query('SELECT 1');
      const inFlight = sql.query('SELECT pg_sleep(0.5)');
      await (sql as any).worker.terminate();
      await expect(inFlight).rejects.toThrow(/embedded database stopped/);
      expect(logs.join('')).toContain('embedded database stopped');
      expect(await sql.query<{ one: number }>('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    } finally {
      await sql.close();
    }
  });

  const linux = existsSync('/proc/self/task');
  (linux ? it : it.skip)('runs the database at a lower CPU priority than the audio relay on the main thread', async () => {
    // Nice value of each thread of this process: field 19 of /proc/self/task/<tid>/stat.
    const niceness = (): Map<string, number> =>
      new Map(
        readdirSync('/proc/self/task').map((tid) => {
          const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
          return [tid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])];
        }),
      );
    const before = niceness();
    const sql = new PgliteSqlClient('memory://', silentLogger);
    try {
      await sql.query('SELECT 1');
      const added = [...niceness()].filter(([tid]) => !before.has(tid));
      expect(added.filter(([, nice]) => nice === PGLITE_WORKER_NICENESS)).toHaveLength(1);
      expect(niceness().get(String(process.pid))).toBe(before.get(String(process.pid)));
    } finally {
      await sql.close();
    }
  });

  it('creates a new data directory first, holding queries until it is ready, and reopens it later', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'pglite-create-')), 'db');
    try {
      const sql = new PgliteSqlClient(dir, silentLogger);
      // Sent while the cluster is being created: served once it is.
      await sql.query('CREATE TABLE kept (n integer); INSERT INTO kept VALUES (42)');
      expect(existsSync(join(dir, 'PG_VERSION'))).toBe(true);
      await sql.close();
      const again = new PgliteSqlClient(dir, silentLogger);
      expect(await again.query('SELECT n FROM kept')).toEqual([{ n: 42 }]);
      await again.close();
      // Closed while still creating: resolves, and refuses what comes after.
      const early = new PgliteSqlClient(join(dir, '..', 'other'), silentLogger);
      await early.close();
      await expect(early.query('SELECT 1')).rejects.toBeInstanceOf(SqlError);
    } finally {
      rmSync(join(dir, '..'), { recursive: true, force: true });
    }
  });

  describe('on disk: the worker stops when idle', () => {
    const IDLE_MS = 1_000;
    let dir: string;
    let scheduler: ManualScheduler;
    let sql: PgliteSqlClient;

    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), 'pglite-idle-'));
      scheduler = new ManualScheduler();
      sql = new PgliteSqlClient(join(dir, 'db'), silentLogger, { idleStopMs: IDLE_MS, scheduler });
      await sql.query('CREATE TABLE kept (n integer); INSERT INTO kept VALUES (1)');
    });
    afterEach(async () => {
      await sql.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const workerOf = (client: PgliteSqlClient): Worker => (client as any).worker as Worker;

    it('after idleStopMs without a query the thread ends; the next query starts another and finds what was committed', async () => {
      const first = workerOf(sql);
      const exited = new Promise((resolve) => first.once('exit', resolve));
      scheduler.advance(IDLE_MS - 1);
      expect(sql.running).toBe(true);
      scheduler.advance(1);
      expect(sql.running).toBe(false);
      // Sent while the worker closes: it waits for the thread to end, then a new one answers.
      const rows = sql.query('SELECT n FROM kept');
      await exited;
      expect(await rows).toEqual([{ n: 1 }]);
      expect(sql.running).toBe(true);
      expect(workerOf(sql)).not.toBe(first);
    });

    it('each query starts the idle time again', async () => {
      scheduler.advance(IDLE_MS - 1);
      await sql.query('INSERT INTO kept VALUES (2)');
      scheduler.advance(IDLE_MS - 1);
      expect(sql.running).toBe(true);
      scheduler.advance(1);
      expect(sql.running).toBe(false);
    });

    it('never stops with a transaction open, however long it lasts, nor with a query in flight', async () => {
      const worker = workerOf(sql);
      const inside = deferred();
      const release = deferred();
      const tx = sql.transaction(async (t) => {
        await t.query('INSERT INTO kept VALUES (2)');
        inside.resolve();
        await release.promise;
        await t.query('INSERT INTO kept VALUES (3)');
      });
      await inside.promise;
      scheduler.advance(IDLE_MS * 10);
      expect(sql.running).toBe(true);
      release.resolve();
      await tx;
      const slow = sql.query('SELECT pg_sleep(0.2)');
      scheduler.advance(IDLE_MS * 10);
      expect(sql.running).toBe(true);
      await slow;
      expect(workerOf(sql)).toBe(worker);
      scheduler.advance(IDLE_MS);
      expect(sql.running).toBe(false);
      expect(await sql.query('SELECT n FROM kept ORDER BY n')).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    });

    it('ping() of a running worker answers without putting off its idle stop', async () => {
      for (let t = 0; t < IDLE_MS - 1; t += IDLE_MS / 4) {
        await sql.ping();
        scheduler.advance(IDLE_MS / 4);
      }
      expect(sql.running).toBe(false);
    });

    it('ping() does not start a stopped worker; a running one answers', async () => {
      await sql.ping();
      scheduler.advance(IDLE_MS);
      expect(sql.running).toBe(false);
      await sql.ping();
      expect(sql.running).toBe(false);
    });

    it('closes while stopped or stopping; later queries are refused', async () => {
      scheduler.advance(IDLE_MS);
      await sql.close();
      await expect(sql.query('SELECT 1')).rejects.toBeInstanceOf(SqlError);
      await expect(sql.ping()).rejects.toBeInstanceOf(SqlError);
      expect(scheduler.pending).toBe(0);
    });

    it('an in-memory database is never stopped: that would empty it', async () => {
      const memory = new PgliteSqlClient('memory://', silentLogger, { idleStopMs: IDLE_MS, scheduler });
      try {
        await memory.query('SELECT 1');
        scheduler.advance(IDLE_MS * 10);
        expect(memory.running).toBe(true);
      } finally {
        await memory.close();
      }
    });
  });

  it('closes once; queries after close are refused', async () => {
    const sql = new PgliteSqlClient('memory://', silentLogger);
    await sql.query('SELECT 1');
    await Promise.all([sql.close(), sql.close()]);
    await sql.close();
    await expect(sql.query('SELECT 1')).rejects.toBeInstanceOf(SqlError);
  });
});

describe('PgSqlClient', () => {
  it('logs errors of idle connections instead of crashing', async () => {
    const warn = jest.fn();
    const sql = new PgSqlClient('postgres://nobody@127.0.0.1:1/none', { warn } as unknown as pino.Logger);
    try {
      expect(() => (sql as any).pool.emit('error', new Error('terminating connection due to administrator command'))).not.toThrow();
      expect(warn).toHaveBeenCalledWith({ err: expect.any(Error) }, 'idle PostgreSQL connection failed');
    } finally {
      await sql.close();
    }
  });

  it('fails queries, not construction, when the server is unreachable', async () => {
    const sql = new PgSqlClient('postgres://nobody@127.0.0.1:1/none', silentLogger, { connectTimeoutMs: 1_000 });
    try {
      await expect(sql.query('SELECT 1')).rejects.toThrow(/ECONNREFUSED/);
      await expect(sql.transaction((tx) => tx.query('SELECT 1'))).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      await sql.close();
      await sql.close();
    }
  });
});

describe('describePostgresTarget', () => {
  it('names host, port, database and user, never the password or query string', () => {
    const target = describePostgresTarget('postgres://svc%40ops:p%40ss-w0rd@db.internal:6543/call%20log?sslmode=require&password=x');
    expect(target).toEqual({ host: 'db.internal', port: '6543', database: 'call log', user: 'svc@ops' });
    expect(JSON.stringify(target)).not.toMatch(/p%40ss|p@ss|password/);
    expect(describePostgresTarget('postgresql://localhost/db')).toEqual({ host: 'localhost', port: '5432', database: 'db' });
    expect(describePostgresTarget('not a url')).toEqual({});
  });
});
