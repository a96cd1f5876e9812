import type PgBoss from 'pg-boss';
import type { SqlClient } from '../database/sql-client';

/**
 * pg-boss wraps its schema changes and maintenance in one string, `BEGIN; ...; COMMIT;`, sent
 * without parameters. If a statement in it fails, the rest is skipped and the connection stays in
 * the aborted transaction: on PGlite's single connection every query after it, the call log's too,
 * would then fail ("current transaction is aborted"). Run through SqlClient.transaction() instead,
 * a failure rolls back.
 */
const LOCKED_BLOCK = /^\s*BEGIN;([\s\S]*);\s*COMMIT;\s*$/;

/** pg-boss's `db` option on our SqlClient: one pool (or PGlite's one connection) for everything. */
export class SqlClientDb implements PgBoss.Db {
  constructor(private readonly sql: SqlClient) {}

  async executeSql(text: string, values?: unknown[]): Promise<{ rows: unknown[] }> {
    const block = values?.length ? null : LOCKED_BLOCK.exec(text);
    if (block) return { rows: await this.sql.transaction((tx) => tx.query(block[1])) };
    return { rows: await this.sql.query(text, values) };
  }
}
