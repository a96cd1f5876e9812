import { randomBytes } from 'node:crypto';
import pino from 'pino';
import type { AppLogger } from '../logging/app-logger';
import { PgliteSqlClient, PgSqlClient, type SqlBackend, type SqlClient } from './sql-client';

/**
 * The databases the SQL specs run on: in-memory PGlite always, PostgreSQL too when DATABASE_URL
 * is set. Each `open()` is an empty database of its own: a fresh schema, reached through
 * search_path, that `dispose()` drops. On PGlite the schemas share one instance (starting one
 * takes seconds), so open one at a time there; `shutdown()` closes it.
 */
export interface SqlTestBackend {
  readonly name: SqlBackend;
  open(): Promise<SqlTestDatabase>;
  shutdown(): Promise<void>;
}

export interface SqlTestDatabase {
  readonly client: SqlClient;
  /** Another client on the same database, for concurrency (PGlite: the same single connection). */
  connect(): SqlClient;
  dispose(): Promise<void>;
}

export const silentLogger = pino({ level: 'silent' });
export const silentAppLogger = { root: silentLogger, child: () => silentLogger, flush: () => undefined } as unknown as AppLogger;

const schemaName = () => `test_${randomBytes(6).toString('hex')}`;

function pgliteBackend(): SqlTestBackend {
  let shared: PgliteSqlClient | undefined;
  return {
    name: 'pglite',
    async open() {
      const client = (shared ??= new PgliteSqlClient('memory://', silentLogger));
      const schema = schemaName();
      // One connection, so a session setting holds for everything the spec runs until dispose().
      await client.query(`CREATE SCHEMA ${schema}; SET search_path TO ${schema}`);
      return {
        client,
        connect: () => client,
        dispose: () => client.query(`SET search_path TO public; DROP SCHEMA ${schema} CASCADE`).then(() => undefined),
      };
    },
    async shutdown() {
      await shared?.close();
      shared = undefined;
    },
  };
}

function postgresBackend(databaseUrl: string): SqlTestBackend {
  return {
    name: 'postgres',
    async open() {
      const schema = schemaName();
      const admin = new PgSqlClient(databaseUrl, silentLogger, { maxConnections: 1 });
      await admin.query(`CREATE SCHEMA ${schema}`);
      const url = new URL(databaseUrl);
      url.searchParams.set('options', `-c search_path=${schema}`);
      const clients: PgSqlClient[] = [];
      const connect = () => {
        const client = new PgSqlClient(url.toString(), silentLogger, { maxConnections: 4 });
        clients.push(client);
        return client;
      };
      return {
        client: connect(),
        connect,
        async dispose() {
          await Promise.all(clients.map((c) => c.close()));
          await admin.query(`DROP SCHEMA ${schema} CASCADE`);
          await admin.close();
        },
      };
    },
    async shutdown() {},
  };
}

export function sqlTestBackends(): SqlTestBackend[] {
  const url = process.env.DATABASE_URL;
  return url ? [pgliteBackend(), postgresBackend(url)] : [pgliteBackend()];
}
