import { Inject, Injectable, Optional } from '@nestjs/common';
import { MigrationRunner } from '../database/migration-runner';
import { SqlClient, type SqlExecutor } from '../database/sql-client';
import {
  CallLogRepository,
  EMPTY_USAGE,
  type CallListPage,
  type CallListQuery,
  type CallRecord,
  type CallStatus,
  type CallUsage,
  type TranscriptTurn,
} from './call-record';
import { outcomeCondition } from './call-outcome';
import { EndedCallHooks } from './ended-call-hooks';

/** A row as both SqlClients return it: timestamptz as Date, numeric as number, jsonb parsed. */
interface CallRow {
  call_sid: string;
  stream_sid: string | null;
  direction: CallRecord['direction'];
  from_number: string;
  to_number: string;
  status: CallStatus;
  started_at: Date;
  ended_at: Date | null;
  duration_ms: number | null;
  end_reason: string | null;
  transcript: unknown;
  usage: unknown;
  cost_usd: number;
  recording: string | null;
  details: unknown;
  profile: string | null;
  crm: unknown;
}

const COLUMNS = [
  'call_sid',
  'stream_sid',
  'direction',
  'from_number',
  'to_number',
  'status',
  'started_at',
  'ended_at',
  'duration_ms',
  'end_reason',
  'transcript',
  'usage',
  'cost_usd',
  'recording',
  'details',
  'profile',
] as const;

const WRITTEN_COLUMNS = COLUMNS.join(', ');
const SELECT_COLUMNS = `${WRITTEN_COLUMNS}, crm`;

// Casts make the parameter types explicit rather than inferred, identically on both backends.
const CASTS: Partial<Record<(typeof COLUMNS)[number], string>> = {
  started_at: 'timestamptz',
  ended_at: 'timestamptz',
  duration_ms: 'integer',
  transcript: 'jsonb',
  usage: 'jsonb',
  cost_usd: 'numeric',
  details: 'jsonb',
};

const UPSERT = `
  INSERT INTO calls (${WRITTEN_COLUMNS})
  VALUES (${COLUMNS.map((c, i) => `$${i + 1}${CASTS[c] ? `::${CASTS[c]}` : ''}`).join(', ')})
  ON CONFLICT (call_sid) DO UPDATE SET
    ${COLUMNS.filter((c) => c !== 'call_sid')
      .map((c) => `${c} = EXCLUDED.${c}`)
      .join(',\n    ')},
    updated_at = now()`;

/**
 * The call log in the SQL database (PostgreSQL, or embedded PGlite). A record that ends (its
 * status no longer in-progress) is written in one transaction with what the EndedCallHooks add
 * (the webhook outbox), when there are any.
 */
@Injectable()
export class SqlCallLogRepository extends CallLogRepository {
  private readonly hooks: EndedCallHooks;

  constructor(
    private readonly sql: SqlClient,
    private readonly migrations: MigrationRunner,
    // Named: the metadata of an optional union type would not name the class.
    @Optional() @Inject(EndedCallHooks) hooks?: EndedCallHooks | null,
  ) {
    super();
    this.hooks = hooks ?? new EndedCallHooks();
  }

  async save(record: CallRecord): Promise<void> {
    await this.migrations.ensureMigrated();
    if (record.status === 'in-progress' || !this.hooks.active) {
      await this.upsert(this.sql, record);
      return;
    }
    await this.sql.transaction(async (tx) => {
      await this.upsert(tx, record);
      await this.hooks.written(tx, record);
    });
    this.hooks.committed(record);
  }

  private async upsert(sql: SqlExecutor, record: CallRecord): Promise<void> {
    await sql.query(UPSERT, [
      record.callSid,
      record.streamSid,
      record.direction,
      record.from,
      record.to,
      record.status,
      record.startedAt,
      record.endedAt,
      // The column holds whole milliseconds; a fraction would fail the whole write.
      record.durationMs === null ? null : Math.round(record.durationMs),
      record.endReason,
      // Serialised here: pg would send a JS array as a PostgreSQL array, not as JSON.
      JSON.stringify(record.transcript),
      JSON.stringify(record.usage),
      record.costUsd,
      record.recording,
      JSON.stringify(record.details),
      record.profile,
    ]);
  }

  async get(callSid: string): Promise<CallRecord | undefined> {
    await this.migrations.ensureMigrated();
    const [row] = await this.sql.query<CallRow>(`SELECT ${SELECT_COLUMNS} FROM calls WHERE call_sid = $1`, [callSid]);
    return row ? toRecord(row) : undefined;
  }

  async mergeCrm(callSid: string, patch: Record<string, unknown>): Promise<boolean> {
    await this.migrations.ensureMigrated();
    const rows = await this.sql.query(
      'UPDATE calls SET crm = crm || $2::jsonb, updated_at = now() WHERE call_sid = $1 RETURNING call_sid',
      [callSid, JSON.stringify(patch)],
    );
    return rows.length > 0;
  }

  async hasJobRequestFrom(number: string, since: string): Promise<boolean> {
    await this.migrations.ensureMigrated();
    const rows = await this.sql.query(
      `SELECT 1 FROM calls WHERE from_number = $1 AND started_at >= $2::timestamptz AND details ? 'jobRequest' LIMIT 1`,
      [number, since],
    );
    return rows.length > 0;
  }

  async inProgress(startedBefore: string, limit: number): Promise<string[]> {
    await this.migrations.ensureMigrated();
    const rows = await this.sql.query<{ call_sid: string }>(
      `SELECT call_sid FROM calls WHERE status = 'in-progress' AND started_at < $1::timestamptz ORDER BY started_at, call_sid LIMIT $2`,
      [startedBefore, limit],
    );
    return rows.map((r) => r.call_sid);
  }

  async endAbandoned(callSid: string, endReason: string, endedAt: string | null, details: Record<string, unknown>): Promise<boolean> {
    await this.migrations.ensureMigrated();
    // Unknown, the end is put at the record's last write. Never before the start, whatever the
    // clocks of two instances say.
    const end = 'GREATEST(COALESCE($3::timestamptz, updated_at), started_at)';
    const update = (sql: SqlExecutor) => sql.query<CallRow>(
      `UPDATE calls SET
         status = 'failed',
         end_reason = $2,
         ended_at = ${end},
         duration_ms = round(extract(epoch FROM ${end} - started_at) * 1000)::integer,
         details = details || $4::jsonb,
         updated_at = now()
       WHERE call_sid = $1 AND status = 'in-progress'
       RETURNING ${SELECT_COLUMNS}`,
      [callSid, endReason, endedAt, JSON.stringify(details)],
    );
    if (!this.hooks.active) return (await update(this.sql)).length > 0;
    const ended = await this.sql.transaction(async (tx) => {
      const [row] = await update(tx);
      if (!row) return null;
      const record = toRecord(row);
      await this.hooks.written(tx, record);
      return record;
    });
    if (ended) this.hooks.committed(ended);
    return ended !== null;
  }

  async list(query: CallListQuery): Promise<CallListPage> {
    await this.migrations.ensureMigrated();
    const params: unknown[] = [];
    const conditions: string[] = [];
    const where = (clause: (placeholder: string) => string, value: unknown) => {
      params.push(value);
      conditions.push(clause(`$${params.length}`));
    };
    if (query.number !== undefined) where((p) => `(from_number = ${p} OR to_number = ${p})`, query.number);
    if (query.since !== undefined) where((p) => `started_at >= ${p}::timestamptz`, query.since);
    if (query.until !== undefined) where((p) => `started_at < ${p}::timestamptz`, query.until);
    if (query.status !== undefined) where((p) => `status = ${p}`, query.status);
    if (query.outcome !== undefined) conditions.push(outcomeCondition(query.outcome));
    if (query.urgency !== undefined) where((p) => `details->'jobRequest'->>'urgency' = ${p}`, query.urgency);
    const filter = conditions.length ? `WHERE ${conditions.join(' AND ')}` : '';

    const [rows, [count]] = await Promise.all([
      this.sql.query<CallRow>(
        `SELECT ${SELECT_COLUMNS} FROM calls ${filter}
         ORDER BY ${query.order === 'emergency_first' ? `(details->'jobRequest'->>'urgency' IS NOT DISTINCT FROM 'emergency') DESC, ` : ''}started_at DESC, call_sid
         LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
        [...params, query.limit, query.offset],
      ),
      this.sql.query<{ total: number }>(`SELECT count(*)::integer AS total FROM calls ${filter}`, params),
    ]);
    return { items: rows.map(toRecord), total: Number(count?.total ?? 0) };
  }
}

function toRecord(row: CallRow): CallRecord {
  return {
    callSid: row.call_sid,
    streamSid: row.stream_sid,
    direction: row.direction,
    from: row.from_number,
    to: row.to_number,
    status: row.status,
    startedAt: row.started_at.toISOString(),
    endedAt: row.ended_at === null ? null : row.ended_at.toISOString(),
    durationMs: row.duration_ms,
    endReason: row.end_reason,
    transcript: row.transcript as TranscriptTurn[],
    // The column's default is '{}': a row written without usage still reads as a full CallUsage.
    usage: { ...EMPTY_USAGE, ...(row.usage as Partial<CallUsage>) },
    costUsd: row.cost_usd,
    recording: row.recording,
    details: row.details as Record<string, unknown>,
    profile: row.profile,
    crm: (row.crm ?? {}) as Record<string, unknown>,
  };
}
