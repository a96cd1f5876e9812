import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Pool, types as pgTypes, type CustomTypesConfig, type PoolClient, type QueryResult } from 'pg';
import type { Logger } from 'pino';
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
  | { event: 'startup-failed'; error: SerializedError };

type SerializedError = { name: string; message: string } & Partial<Record<string, string>>;

function toSqlError({ name, message, ...fields }: SerializedError): SqlError {
  const err = Object.assign(new SqlError(message), fields);
  if (name !== 'Error') err.name = name;
  return err;
}

/**
 * Embedded PostgreSQL (PGlite, WASM) in a local directory, or in memory with 'memory://'.
 *
 * PGlite runs in a worker thread. It executes each query synchronously in WASM, and on this
 * thread that would stall the audio of every live call for as long as the query (or the seconds
 * of start-up) takes. It also loads itself with dynamic import(), which the test runner cannot do
 * in its sandbox. PGlite has one connection and queues transactions and queries itself, one at
 * a time.
 */
/** Nice value of the PGlite thread: below the audio relay, which stays at the process's own. */
export const PGLITE_WORKER_NICENESS = 10;

export class PgliteSqlClient extends SqlClient {
  readonly kind = 'pglite' as const;
  private worker?: Worker;
  /** Set while a new data directory's cluster is being created; requests wait for it. */
  private creating?: Promise<void>;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  private nextId = 1;
  private closing?: Promise<void>;

  constructor(
    private readonly dataDir: string,
    private readonly logger: Logger,
  ) {
    super();
    // Start now, so the database is ready by the time the app first needs it.
    if (dataDir.includes('://') || existsSync(join(dataDir, 'PG_VERSION'))) {
      this.spawn();
    } else {
      this.creating = this.createCluster().finally(() => {
        this.creating = undefined;
        if (!this.closing) this.spawn();
      });
    }
  }

  async query<T>(sql: string, params?: readonly unknown[]): Promise<T[]> {
    return (await this.request({ op: 'query', sql, params: hasParams(params) ? [...params] : undefined })) as T[];
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
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
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.creating;
      const worker = this.worker;
      if (!worker) return;
      try {
        await this.send(worker, { op: 'close' });
      } catch (err) {
        this.logger.warn({ err }, 'embedded database did not close cleanly');
      }
      await worker.terminate();
    })();
    return this.closing;
  }

  private request(message: WorkerRequest): Promise<unknown> {
    if (this.closing) return Promise.reject(new SqlError('embedded database is closed'));
    if (this.creating) return this.creating.then(() => this.request(message));
    return this.send(this.worker ?? this.spawn(), message);
  }

  /**
   * Creates a new data directory's cluster in a worker of its own, which then exits: creating
   * takes about twice the memory of running (~800 MB against ~300 MB), and a thread's WASM
   * memory goes back to the system only when the thread ends. If creating fails, the worker
   * that runs the database reports why.
   */
  private createCluster(): Promise<void> {
    return new Promise((resolve) => {
      const worker = this.newWorker();
      worker.stdout.resume();
      worker.stderr.resume();
      // Any answer to 'close' (done, or failed because start-up failed) means the work is over.
      worker.on('message', () => void worker.terminate());
      worker.on('error', () => void worker.terminate());
      worker.on('exit', () => resolve());
      worker.postMessage({ op: 'close', id: 0 });
    });
  }

  private newWorker(): Worker {
    return new Worker(PGLITE_WORKER_SOURCE, {
      eval: true,
      workerData: { modulePath: require.resolve('@electric-sql/pglite'), dataDir: this.dataDir, niceness: PGLITE_WORKER_NICENESS },
      // Whatever PGlite prints goes to the log, not into the JSON log stream on stdout.
      stdout: true,
      stderr: true,
    });
  }

  private send(worker: Worker, message: WorkerRequest): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // Keep the process alive while an answer is awaited, and only then.
      if (this.pending.size === 1) worker.ref();
      worker.postMessage({ ...message, id });
    });
  }

  private settle(id: number, outcome: { result?: unknown; error?: SerializedError }): void {
    const waiter = this.pending.get(id);
    if (!waiter) return;
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker?.unref();
    if (outcome.error) waiter.reject(toSqlError(outcome.error));
    else waiter.resolve(outcome.result);
  }

  private spawn(): Worker {
    const worker = this.newWorker();
    worker.unref();
    worker.stdout.on('data', (chunk: Buffer) => this.logger.debug({ output: chunk.toString().trimEnd() }, 'embedded database output'));
    worker.stderr.on('data', (chunk: Buffer) => this.logger.warn({ output: chunk.toString().trimEnd() }, 'embedded database output'));
    worker.on('message', (message: WorkerMessage) => {
      if ('event' in message) this.logger.error({ err: toSqlError(message.error) }, 'embedded database failed to start');
      else this.settle(message.id, message);
    });
    worker.on('error', (err) => this.logger.error({ err }, 'embedded database crashed'));
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = undefined;
      const message = `embedded database stopped (exit code ${code})`;
      for (const [id] of this.pending) this.settle(id, { error: { name: 'Error', message } });
      // Started again on the next request; what was committed is on disk.
      if (!this.closing) this.logger.error({ code }, 'embedded database stopped');
    });
    this.worker = worker;
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
