import { Injectable } from '@nestjs/common';
import { MigrationRunner } from '../database/migration-runner';
import { SqlClient } from '../database/sql-client';

export interface SmsOptOut {
  /** E.164. */
  readonly number: string;
  /** ISO 8601. */
  readonly at: string;
  /** What opted it out: the keyword texted (STOP…), or `twilio-21610` when Twilio refused a text as opted out. */
  readonly keyword: string;
}

/** Numbers that asked for no more texts: checked right before each text to a caller. */
export abstract class SmsOptOuts {
  abstract has(number: string): Promise<boolean>;
  /** Opts the number out (idempotent: the first entry stays). */
  abstract add(number: string, keyword: string, at: string): Promise<void>;
  /** Opts it back in; false when it was not opted out. */
  abstract remove(number: string): Promise<boolean>;
  /** Newest first. */
  abstract list(limit: number, offset: number): Promise<{ items: SmsOptOut[]; total: number }>;
}

interface Row {
  number: string;
  at: Date;
  keyword: string;
}

@Injectable()
export class SqlSmsOptOuts extends SmsOptOuts {
  constructor(
    private readonly sql: SqlClient,
    private readonly migrations: MigrationRunner,
  ) {
    super();
  }

  async has(number: string): Promise<boolean> {
    await this.migrations.ensureMigrated();
    return (await this.sql.query('SELECT 1 FROM sms_opt_outs WHERE number = $1', [number])).length > 0;
  }

  async add(number: string, keyword: string, at: string): Promise<void> {
    await this.migrations.ensureMigrated();
    await this.sql.query('INSERT INTO sms_opt_outs (number, at, keyword) VALUES ($1, $2::timestamptz, $3) ON CONFLICT (number) DO NOTHING', [number, at, keyword]);
  }

  async remove(number: string): Promise<boolean> {
    await this.migrations.ensureMigrated();
    return (await this.sql.query('DELETE FROM sms_opt_outs WHERE number = $1 RETURNING number', [number])).length > 0;
  }

  async list(limit: number, offset: number): Promise<{ items: SmsOptOut[]; total: number }> {
    await this.migrations.ensureMigrated();
    const [rows, [count]] = await Promise.all([
      this.sql.query<Row>('SELECT number, at, keyword FROM sms_opt_outs ORDER BY at DESC, number LIMIT $1 OFFSET $2', [limit, offset]),
      this.sql.query<{ total: number }>('SELECT count(*)::integer AS total FROM sms_opt_outs'),
    ]);
    return { items: rows.map((r) => ({ number: r.number, at: r.at.toISOString(), keyword: r.keyword })), total: Number(count?.total ?? 0) };
  }
}
