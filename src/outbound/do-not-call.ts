import { Injectable } from '@nestjs/common';
import { MigrationRunner } from '../database/migration-runner';
import { SqlClient } from '../database/sql-client';

export interface DoNotCallEntry {
  /** E.164. */
  readonly number: string;
  readonly reason: string | null;
  /** Who added it: `api`, or `call` when the callee asked during a call. */
  readonly source: string;
  readonly addedAt: string;
}

/** Numbers never to be called: checked when a request is made and again right before each dial. */
export abstract class DoNotCallList {
  abstract has(number: string): Promise<boolean>;
  /** Adds the number (idempotent: the first entry stays); returns the entry. */
  abstract add(number: string, source: string, reason: string | null): Promise<DoNotCallEntry>;
  /** False when it was not on the list. */
  abstract remove(number: string): Promise<boolean>;
  /** Newest first. */
  abstract list(limit: number, offset: number): Promise<{ items: DoNotCallEntry[]; total: number }>;
}

interface Row {
  number: string;
  reason: string | null;
  source: string;
  added_at: Date;
}

const toEntry = (r: Row): DoNotCallEntry => ({ number: r.number, reason: r.reason, source: r.source, addedAt: r.added_at.toISOString() });

@Injectable()
export class SqlDoNotCallList extends DoNotCallList {
  constructor(
    private readonly sql: SqlClient,
    private readonly migrations: MigrationRunner,
  ) {
    super();
  }

  async has(number: string): Promise<boolean> {
    await this.migrations.ensureMigrated();
    return (await this.sql.query('SELECT 1 FROM do_not_call WHERE number = $1', [number])).length > 0;
  }

  async add(number: string, source: string, reason: string | null): Promise<DoNotCallEntry> {
    await this.migrations.ensureMigrated();
    await this.sql.query('INSERT INTO do_not_call (number, reason, source) VALUES ($1, $2, $3) ON CONFLICT (number) DO NOTHING', [number, reason, source]);
    const [row] = await this.sql.query<Row>('SELECT number, reason, source, added_at FROM do_not_call WHERE number = $1', [number]);
    return toEntry(row);
  }

  async remove(number: string): Promise<boolean> {
    await this.migrations.ensureMigrated();
    return (await this.sql.query('DELETE FROM do_not_call WHERE number = $1 RETURNING number', [number])).length > 0;
  }

  async list(limit: number, offset: number): Promise<{ items: DoNotCallEntry[]; total: number }> {
    await this.migrations.ensureMigrated();
    const [rows, [count]] = await Promise.all([
      this.sql.query<Row>('SELECT number, reason, source, added_at FROM do_not_call ORDER BY added_at DESC, number LIMIT $1 OFFSET $2', [limit, offset]),
      this.sql.query<{ total: number }>('SELECT count(*)::integer AS total FROM do_not_call'),
    ]);
    return { items: rows.map(toEntry), total: Number(count?.total ?? 0) };
  }
}
