import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { Pool, types as pgTypes, type CustomTypesConfig, type PoolClient, type QueryResult } from 'pg';
import type { Logger } from 'pino';
import { Scheduler, type ScheduledTask } from '../common/scheduler';
import { installedPgliteVersion, loadPgliteTemplate, syncPath, syncTree, type PgliteTemplate } from './pglite-template';
import { PGLITE_WORKER_SOURCE } from './pglite-worker';

export type SqlBackend = 'pglite' | 'postgres';

/**
 * What runs SQL: the client itself, or the transaction handed to `transaction()`.
 * Parameters are $1, $2, ...; values are never spliced into the text. Without parameters the
 * text may hold several statements (the simple query protocol, as migrations use); the rows of
 * the last one are returned.
 */
export interface SqlExecutor {
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
}

/**
 * The database port. Both backends return rows alike: timestamptz as Date, jsonb parsed,
 * numeric and int8 as number (money here has 6 decimals and counts are small, so a double is
 * exact enough).
 */
export abstract class SqlClient implements SqlExecutor {
  abstract readonly kind: SqlBackend;
  abstract query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /**
   * Runs fn in BEGIN ... COMMIT, rolling back when it throws. Inside fn use only `tx`: PGlite
   * has a single connection, so a query on the client itself would wait for the transaction to end.
   */
  abstract transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Idempotent. */
  abstract close(): Promise<void>;
  /**
   * For health checks: resolves when the database can be used, rejects when it cannot. A round
   * trip by default; a backend that starts on demand need not start for it.
   */
  async ping(): Promise<void> {
    await this.query('SELECT 1');
  }
}

const toNumber = (value: string): number => Number(value);

function hasParams(params: readonly unknown[] | undefined): params is readonly unknown[] {
  return params !== undefined && params.length > 0;
}

/** An error from the database, with PostgreSQL's fields (code is the SQLSTATE) when it has them. */
export class SqlError extends Error {
  code?: string;
  severity?: string;
  detail?: string;
  hint?: string;
  position?: string;
  schema?: string;
  table?: string;
  column?: string;
  constraint?: string;
  where?: string;
}

type WorkerRequest =
  | { op: 'query'; sql: string; params?: unknown[]; tx?: number }
  | { op: 'begin' }
  | { op: 'end'; tx: number; commit: boolean }
  | { op: 'close' };

type WorkerMessage =
  | { id: number; result: unknown; error?: undefined }
  | { id: number; error: SerializedError }
  | { event: 'startup-failed' | 'template-failed' | 'create-failed'; error: SerializedError }
  | { event: 'created'; from: 'template' | 'initdb' };

type SerializedError = { name: string; message: string } & Partial<Record<string, string>>;

function toSqlError({ name, message, ...fields }: SerializedError): SqlError {
  const err = Object.assign(new SqlError(message), fields);
  if (name !== 'Error') err.name = name;
  return err;
}

/**
 * PostgreSQL settings of the embedded database, given as `-c` start parameters after PGlite's own
 * (PGlite.defaultStartParams, which stay as they are: single-user mode, and PGlite's durability).
 * They apply to every data directory, however old: they win over initdb's postgresql.conf.
 *
 * PGlite keeps PostgreSQL's shared memory in its WASM heap, which never shrinks and is resident as
 * far as it has been touched. shared_buffers is what counts: with initdb's 128MB, PGlite alone in a
 * worker held about 260 MB once open; with 8MB about 120 MB, and 80-90 MB with the compiler and
 * heap limits below as well (test/memory/pglite-roads.js). The call log is small and its files
 * stay in the OS page cache, so a buffer miss costs a copy from the page cache, not a disk read.
 * max_connections sizes per-backend arrays in shared memory, and single-user mode has one backend
 * (about 6 MB less than 100). maintenance_work_mem bounds what one index build in a migration may
 * add to the heap (64MB by default); it makes no difference until one runs.
 */
export const PGLITE_SETTINGS: Readonly<Record<string, string>> = {
  shared_buffers: '8MB',
  max_connections: '5',
  maintenance_work_mem: '16MB',
};

/**
 * The worker's V8 heap: a young generation of 2 MB rather than V8's default (16 MB semi-spaces),
 * which filled with the garbage of PGlite's start-up and of query results and stayed resident:
 * about 10 MB less while the database runs, with no change in write throughput measured.
 */
export const PGLITE_WORKER_RESOURCE_LIMITS: ResourceLimits = { maxYoungGenerationSizeMb: 2 };

/** How long the embedded database's worker stays up with nothing to do. */
export const PGLITE_IDLE_STOP_MS = 30_000;

export interface PgliteSqlClientOptions {
  /**
   * Stops the worker after this long without a query or an open transaction, giving its memory
   * back; the next query starts it again, about a second later. 0 or Infinity: never. An in-memory
   * database ('memory://') is never stopped, as that would empty it. PGLITE_IDLE_STOP_MS when not
   * given.
   */
  readonly idleStopMs?: number;
  /** Runs the idle timer: without one the worker is never stopped for being idle. */
  readonly scheduler?: Scheduler;
  /** PostgreSQL settings; PGLITE_SETTINGS when not given. */
  readonly settings?: Readonly<Record<string, string>>;
}

let liftoffOnly = false;

/**
 * Compiles WebAssembly with V8's baseline compiler (Liftoff) only, for the whole process. Otherwise
 * V8 recompiles PGlite's hot functions (9 MB of WASM) with its optimizing compiler as the database
 * is used: 40-75 MB more while the worker runs, and 40-65 MB of that still resident after the
 * worker has ended (compiler memory freed into malloc arenas, which keep it). Writes were no
 * slower for it (test/memory/pglite-roads.js: 20,000 upserts in 7.6 s against 7.9 s). Started as
 * `node --liftoff-only`, the process has it already; else it is set here, before the first worker
 * compiles PGlite (Node warns that V8 flags set after start-up may misbehave or do nothing; this
 * one is read when a module is compiled, and the specs and measurements run with it set this way).
 * Nothing else in the service compiles WebAssembly on a hot path.
 */
function useLiftoffOnly(): void {
  if (liftoffOnly) return;
  if (!process.execArgv.includes('--liftoff-only')) setFlagsFromString('--liftoff-only');
  liftoffOnly = true;
}

/** Nice value of the PGlite thread: below the audio relay, which stays at the process's own. */
export const PGLITE_WORKER_NICENESS = 10;

interface Waiter {
  readonly worker: Worker;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

/**
 * Embedded PostgreSQL (PGlite, WASM) in a local directory, or in memory with 'memory://'.
 *
 * PGlite runs in a worker thread. It executes each query synchronously in WASM, and on this
 * thread that would stall the audio of every live call for as long as the query (or the seconds
 * of start-up) takes. It also loads itself with dynamic import(), which the test runner cannot do
 * in its sandbox. PGlite has one connection and queues transactions and queries itself, one at
 * a time.
 *
 * The worker holds 70-90 MB while it runs, and a thread's WASM memory goes back to the system
 * only when the thread ends; so the worker is started when a query comes and stopped (PGlite closed
 * cleanly) after idleStopMs with nothing to do. Queries that come while it starts or stops wait for
 * it; what was committed is on disk either way. A new data directory is a copy of a template
 * cluster (pglite-template.ts) rather than the work of initdb.
 */
export class PgliteSqlClient extends SqlClient {
  readonly kind = 'pglite' as const;
  private worker?: Worker;
  /** Set while a new data directory's cluster is being created; requests wait for it. */
  private creating?: Promise<void>;
  /** Set while an idle worker is being stopped; requests wait for it, then start a new one. */
  private stopping?: Promise<void>;
  /** Workers stopped on purpose (idle, or closing): their exit is not a crash. */
  private readonly retired = new WeakSet<Worker>();
  private readonly pending = new Map<number, Waiter>();
  private openTransactions = 0;
  private idleTask?: ScheduledTask;
  /** The last start failed (reported by the worker); cleared by the next answered query. */
  private startupFailed = false;
  private nextId = 1;
  private closing?: Promise<void>;
  private readonly idleStopMs: number;
  private readonly scheduler?: Scheduler;
  private readonly settings: Readonly<Record<string, string>>;

  constructor(
    private readonly dataDir: string,
    private readonly logger: Logger,
    options: PgliteSqlClientOptions = {},
  ) {
    super();
    const onDisk = !dataDir.includes('://');
    const idleStopMs = options.idleStopMs ?? PGLITE_IDLE_STOP_MS;
    this.scheduler = options.scheduler;
    this.idleStopMs = onDisk && this.scheduler && idleStopMs > 0 && Number.isFinite(idleStopMs) ? idleStopMs : 0;
    this.settings = options.settings ?? PGLITE_SETTINGS;
    // Start now, so the database is ready by the time the app first needs it (migrations, at boot).
    if (!onDisk || existsSync(join(dataDir, 'PG_VERSION'))) {
      this.spawn();
    } else {
      this.creating = this.createCluster().finally(() => {
        this.creating = undefined;
        if (!this.closing) this.spawn();
      });
    }
  }

  /** Whether the worker is up (or starting); false while it is stopped for being idle. */
  get running(): boolean {
    return this.worker !== undefined;
  }

  async query<T>(sql: string, params?: readonly unknown[]): Promise<T[]> {
    return (await this.request({ op: 'query', sql, params: hasParams(params) ? [...params] : undefined })) as T[];
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    // Counted from BEGIN to the end: an open transaction keeps the worker up, however long fn waits.
    this.openTransactions++;
    try {
      const tx = (await this.request({ op: 'begin' })) as number;
      let result: T;
      try {
        result = await fn({
          query: async <R>(sql: string, params?: readonly unknown[]) =>
            (await this.request({ op: 'query', sql, params: hasParams(params) ? [...params] : undefined, tx })) as R[],
        });
      } catch (err) {
        await this.request({ op: 'end', tx, commit: false }).catch((rollbackErr: unknown) =>
          this.logger.warn({ err: rollbackErr }, 'embedded database could not roll back'),
        );
        throw err;
      }
      await this.request({ op: 'end', tx, commit: true });
      return result;
    } finally {
      this.openTransactions--;
      this.armIdleStop();
    }
  }

  /**
   * A stopped worker is not started for this: the database starts on the next query, and a start
   * that failed is tried again here. A running one answers a round trip, which does not put off
   * its idle stop: a readiness probe every few seconds must not keep it up.
   */
  override async ping(): Promise<void> {
    if (!this.closing && !this.worker && !this.creating && !this.startupFailed) return;
    await this.request({ op: 'query', sql: 'SELECT 1', params: undefined }, { probe: true });
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.cancelIdleStop();
      await this.creating;
      await this.stopping;
      const worker = this.worker;
      if (!worker) return;
      this.worker = undefined;
      await this.stop(worker);
    })();
    return this.closing;
  }

  /** probe: leaves the idle stop where it was (armIdleStop() keeps a timer already set). */
  private request(message: WorkerRequest, { probe = false } = {}): Promise<unknown> {
    if (this.closing) return Promise.reject(new SqlError('embedded database is closed'));
    const busy = this.creating ?? this.stopping;
    if (busy) return busy.then(() => this.request(message, { probe }));
    if (!probe) this.cancelIdleStop();
    return this.send(this.worker ?? this.spawn(), message);
  }

  /**
   * Makes a new data directory's cluster in a sibling directory, syncs it and renames it into
   * place, so that a creation cut short leaves no half-made cluster where one is looked for: it is
   * redone. From the template when there is one for the installed PGlite (a few MB), else with
   * PGlite's initdb in a worker of its own (600-850 MB for a few seconds, given back when the
   * thread ends). If creating fails, the worker that runs the database tries initdb and reports why.
   */
  private async createCluster(): Promise<void> {
    const staging = `${this.dataDir}.creating`;
    try {
      await rm(staging, { recursive: true, force: true });
      await mkdir(staging, { recursive: true, mode: 0o700 });
      const from = await this.makeCluster(staging);
      await syncTree(staging);
      // Without PG_VERSION the directory is no cluster (PostgreSQL refuses it): at most what a
      // creation cut short left.
      await rm(this.dataDir, { recursive: true, force: true });
      await rename(staging, this.dataDir);
      await syncPath(dirname(this.dataDir));
      this.logger.info({ dataDir: this.dataDir, from }, 'embedded database created');
    } catch (err) {
      this.logger.warn({ err, dataDir: this.dataDir }, 'embedded database could not be created; tried again as it starts');
    }
  }

  private makeCluster(dir: string): Promise<'template' | 'initdb'> {
    const template = loadPgliteTemplate();
    if (!template) {
      this.logger.warn(
        { dataDir: this.dataDir, pglite: installedPgliteVersion() },
        'no embedded database template for this PGlite version: initdb will create the cluster, which needs about 800 MB for a few seconds',
      );
    }
    return new Promise((resolve, reject) => {
      const worker = this.newWorker('create', dir, template);
      worker.stdout.resume();
      worker.stderr.resume();
      let outcome: { from: 'template' | 'initdb' } | { error: Error } = { error: new Error('the worker ended without a word') };
      worker.on('message', (message: WorkerMessage) => {
        if (!('event' in message)) return;
        if (message.event === 'template-failed') {
          this.logger.warn({ err: toSqlError(message.error), dataDir: this.dataDir }, 'embedded database template not used: initdb will create the cluster');
          return;
        }
        outcome = message.event === 'created' ? { from: message.from } : { error: toSqlError(message.error) };
        void worker.terminate();
      });
      worker.on('error', (error) => {
        outcome = { error };
        void worker.terminate();
      });
      worker.on('exit', () => ('from' in outcome ? resolve(outcome.from) : reject(outcome.error)));
    });
  }

  private newWorker(task: 'create' | 'serve', dataDir = this.dataDir, template?: PgliteTemplate): Worker {
    useLiftoffOnly();
    return new Worker(PGLITE_WORKER_SOURCE, {
      eval: true,
      workerData: {
        modulePath: require.resolve('@electric-sql/pglite'),
        dataDir,
        niceness: PGLITE_WORKER_NICENESS,
        startParams: Object.entries(this.settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
        task,
        template,
        tarModulePath: require.resolve('tar'),
      },
      resourceLimits: PGLITE_WORKER_RESOURCE_LIMITS,
      // Whatever PGlite prints goes to the log, not into the JSON log stream on stdout.
      stdout: true,
      stderr: true,
    });
  }

  private send(worker: Worker, message: WorkerRequest): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { worker, resolve, reject });
      // Keep the process alive while an answer is awaited, and only then.
      if (this.pending.size === 1) worker.ref();
      worker.postMessage({ ...message, id });
    });
  }

  private settle(id: number, outcome: { result?: unknown; error?: SerializedError }): void {
    const waiter = this.pending.get(id);
    if (!waiter) return;
    this.pending.delete(id);
    if (this.pending.size === 0) waiter.worker.unref();
    if (outcome.error) {
      waiter.reject(toSqlError(outcome.error));
    } else {
      if (waiter.worker === this.worker) this.startupFailed = false;
      waiter.resolve(outcome.result);
    }
    this.armIdleStop();
  }

  private armIdleStop(): void {
    if (!this.idleStopMs || !this.scheduler || this.idleTask || !this.worker || this.closing) return;
    if (this.pending.size > 0 || this.openTransactions > 0) return;
    this.idleTask = this.scheduler.after(this.idleStopMs, () => {
      this.idleTask = undefined;
      this.stopIdle();
    });
  }

  private cancelIdleStop(): void {
    this.idleTask?.cancel();
    this.idleTask = undefined;
  }

  private stopIdle(): void {
    const worker = this.worker;
    if (!worker || this.closing || this.stopping || this.pending.size > 0 || this.openTransactions > 0) return;
    this.worker = undefined;
    this.logger.debug({ idleMs: this.idleStopMs }, 'embedded database stopped while idle');
    this.stopping = this.stop(worker).finally(() => {
      this.stopping = undefined;
    });
  }

  /** Closes PGlite (a clean shutdown, with a checkpoint) and ends the thread; resolves once it has exited. */
  private async stop(worker: Worker): Promise<void> {
    this.retired.add(worker);
    try {
      await this.send(worker, { op: 'close' });
    } catch (err) {
      this.logger.warn({ err }, 'embedded database did not close cleanly');
    }
    // Resolves once the thread has exited (at once if it already had).
    await worker.terminate();
  }

  private spawn(): Worker {
    const worker = this.newWorker('serve');
    worker.unref();
    worker.stdout.on('data', (chunk: Buffer) => this.logger.debug({ output: chunk.toString().trimEnd() }, 'embedded database output'));
    worker.stderr.on('data', (chunk: Buffer) => this.logger.warn({ output: chunk.toString().trimEnd() }, 'embedded database output'));
    worker.on('message', (message: WorkerMessage) => {
      if (!('event' in message)) {
        this.settle(message.id, message);
      } else if (message.event === 'startup-failed') {
        if (worker === this.worker) this.startupFailed = true;
        this.logger.error({ err: toSqlError(message.error) }, 'embedded database failed to start');
      }
    });
    worker.on('error', (err) => this.logger.error({ err }, 'embedded database crashed'));
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = undefined;
      const message = `embedded database stopped (exit code ${code})`;
      for (const [id, waiter] of this.pending) if (waiter.worker === worker) this.settle(id, { error: { name: 'Error', message } });
      // Started again on the next request; what was committed is on disk.
      if (!this.retired.has(worker)) this.logger.error({ code }, 'embedded database stopped');
    });
    this.worker = worker;
    this.armIdleStop();
    return worker;
  }
}

const NUMERIC_OID = 1700;
const INT8_OID = 20;

// Per pool rather than on pg's global type registry, so nothing else in the process is affected.
const PG_TYPE_PARSERS: CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary'): ((value: string) => unknown) =>
    (oid === NUMERIC_OID || oid === INT8_OID) && format !== 'binary'
      ? toNumber
      : (pgTypes.getTypeParser(oid, format) as (value: string) => unknown)) as CustomTypesConfig['getTypeParser'],
};

export interface PgSqlClientOptions {
  readonly maxConnections?: number;
  /** How long to wait for a connection before a query fails (the server may be unreachable). */
  readonly connectTimeoutMs?: number;
}

/**
 * PostgreSQL through a pg pool. Connections open on first use, so a server that is down at boot
 * only makes queries fail; the service itself starts and answers calls.
 */
export class PgSqlClient extends SqlClient {
  readonly kind = 'postgres' as const;
  private readonly pool: Pool;
  private closing?: Promise<void>;

  constructor(
    connectionString: string,
    private readonly logger: Logger,
    options: PgSqlClientOptions = {},
  ) {
    super();
    this.pool = new Pool({
      connectionString,
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: 'call-operator',
      types: PG_TYPE_PARSERS,
    });
    // An idle connection that breaks (server restart, network) is reported here; unhandled, the
    // 'error' event would end the process. The pool drops that connection and opens a new one later.
    this.pool.on('error', (err) => this.logger.warn({ err }, 'idle PostgreSQL connection failed'));
  }

  async query<T>(sql: string, params?: readonly unknown[]): Promise<T[]> {
    return rowsOf<T>(await this.pool.query(sql, hasParams(params) ? [...params] : undefined));
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    // A checked-out connection reports its errors on itself, not on the pool.
    const onError = (err: Error) => this.logger.warn({ err }, 'PostgreSQL connection failed during a transaction');
    client.on('error', onError);
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await fn({ query: <R>(sql: string, params?: readonly unknown[]) => queryOn<R>(client, sql, params) });
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch((rollbackErr: unknown) => {
        broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
      });
      throw err;
    } finally {
      client.off('error', onError);
      // A connection that could not roll back is in an unknown state: destroy it rather than reuse it.
      client.release(broken);
    }
  }

  close(): Promise<void> {
    this.closing ??= this.pool.end().catch((err: unknown) => this.logger.warn({ err }, 'PostgreSQL pool did not close cleanly'));
    return this.closing;
  }
}

async function queryOn<T>(client: PoolClient, sql: string, params: readonly unknown[] | undefined): Promise<T[]> {
  return rowsOf<T>(await client.query(sql, hasParams(params) ? [...params] : undefined));
}

/** Several statements in one text come back as one result per statement. */
function rowsOf<T>(result: QueryResult | QueryResult[]): T[] {
  const last = Array.isArray(result) ? result.at(-1) : result;
  return (last?.rows ?? []) as T[];
}

/** Where a connection string points, for logs: never the password, nor the query string. */
export function describePostgresTarget(connectionString: string): Record<string, string> {
  try {
    const url = new URL(connectionString);
    const target: Record<string, string> = { host: url.hostname, port: url.port || '5432' };
    const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
    if (database) target.database = database;
    if (url.username) target.user = decodeURIComponent(url.username);
    return target;
  } catch {
    return {};
  }
}
