import { Injectable } from '@nestjs/common';
import { MigrationRunner } from '../database/migration-runner';
import { SqlClient, type SqlExecutor } from '../database/sql-client';
import {
  OutboundRequests,
  type AttemptCap,
  type Consent,
  type NewOutboundRequest,
  type OutboundAttempt,
  type OutboundListQuery,
  type OutboundRequest,
  type OutboundStatus,
} from './outbound-request';

interface RequestRow {
  id: string;
  to_number: string;
  purpose: string;
  consent: Consent | null;
  callback_of: string | null;
  timezone: string | null;
  not_before: Date | null;
  metadata: Record<string, unknown>;
  idempotency_key: string | null;
  status: OutboundStatus;
  status_reason: string | null;
  next_attempt_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

interface AttemptRow {
  attempt: number;
  call_sid: string | null;
  status: string;
  answered_by: string | null;
  started_at: Date;
  ended_at: Date | null;
  detail: Record<string, unknown>;
}

const REQUEST_COLUMNS =
  'id, to_number, purpose, consent, callback_of, timezone, not_before, metadata, idempotency_key, status, status_reason, next_attempt_at, created_at, updated_at';
const OPEN = `status NOT IN ('completed', 'exhausted', 'cancelled', 'refused')`;

/** Outbound requests in the SQL database (PostgreSQL, or the embedded PGlite). */
@Injectable()
export class SqlOutboundRequests extends OutboundRequests {
  constructor(
    private readonly sql: SqlClient,
    private readonly migrations: MigrationRunner,
  ) {
    super();
  }

  async create(r: NewOutboundRequest, nextAttemptAt: string, dedupeSince: string): Promise<{ request: OutboundRequest; created: boolean }> {
    await this.migrations.ensureMigrated();
    const id = await this.sql.transaction(async (tx) => {
      // One creator at a time per key (or per to and purpose), on every instance: the dedupe check and the insert are one step.
      const lock = r.idempotencyKey ? `outbound-key:${r.idempotencyKey}` : `outbound:${r.to}:${r.purpose}`;
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [lock]);
      const existing = r.idempotencyKey
        ? await tx.query<{ id: string }>('SELECT id FROM outbound_requests WHERE idempotency_key = $1', [r.idempotencyKey])
        : await tx.query<{ id: string }>(
            `SELECT id FROM outbound_requests WHERE to_number = $1 AND purpose = $2 AND created_at >= $3::timestamptz ORDER BY created_at DESC LIMIT 1`,
            [r.to, r.purpose, dedupeSince],
          );
      if (existing.length > 0) return { id: existing[0].id, created: false };
      await tx.query(
        `INSERT INTO outbound_requests (id, to_number, purpose, consent, callback_of, timezone, not_before, metadata, idempotency_key, status, next_attempt_at)
         VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7::timestamptz, $8::jsonb, $9, 'queued', $10::timestamptz)`,
        [
          r.id,
          r.to,
          r.purpose,
          r.consent === null ? null : JSON.stringify(r.consent),
          r.callbackOf,
          r.timezone,
          r.notBefore,
          JSON.stringify(r.metadata),
          r.idempotencyKey,
          nextAttemptAt,
        ],
      );
      return { id: r.id, created: true };
    });
    return { request: (await this.get(id.id))!, created: id.created };
  }

  async get(id: string): Promise<OutboundRequest | undefined> {
    await this.migrations.ensureMigrated();
    const [row] = await this.sql.query<RequestRow>(`SELECT ${REQUEST_COLUMNS} FROM outbound_requests WHERE id = $1`, [id]);
    if (!row) return undefined;
    return toRequest(row, await attemptsOf(this.sql, id));
  }

  async list(query: OutboundListQuery): Promise<{ items: OutboundRequest[]; total: number }> {
    await this.migrations.ensureMigrated();
    const params: unknown[] = [];
    const conditions: string[] = [];
    if (query.status !== undefined) conditions.push(`status = $${params.push(query.status)}`);
    if (query.to !== undefined) conditions.push(`to_number = $${params.push(query.to)}`);
    const where = conditions.length ? `WHERE ${conditions.join(' AND ')}` : '';
    const [rows, [count]] = await Promise.all([
      this.sql.query<RequestRow>(
        `SELECT ${REQUEST_COLUMNS} FROM outbound_requests ${where} ORDER BY created_at DESC, id LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
        [...params, query.limit, query.offset],
      ),
      this.sql.query<{ total: number }>(`SELECT count(*)::integer AS total FROM outbound_requests ${where}`, params),
    ]);
    return { items: rows.map((row) => toRequest(row, [])), total: Number(count?.total ?? 0) };
  }

  async cancel(id: string): Promise<OutboundRequest | undefined> {
    await this.migrations.ensureMigrated();
    await this.sql.query(
      `UPDATE outbound_requests SET status = 'cancelled', status_reason = 'cancelled through the API', next_attempt_at = NULL, updated_at = now()
       WHERE id = $1 AND ${OPEN}`,
      [id],
    );
    return this.get(id);
  }

  async claim(id: string, cap?: AttemptCap): Promise<number | null | 'capped'> {
    await this.migrations.ensureMigrated();
    return this.sql.transaction(async (tx) => {
      if (cap) {
        const [request] = await tx.query<{ to_number: string }>(`SELECT to_number FROM outbound_requests WHERE id = $1 AND status = 'queued'`, [id]);
        if (!request) return null;
        // Held until this claim's attempt is committed: the next claim at the number counts it.
        await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`outbound-number:${request.to_number}`]);
        // After `since` to the millisecond, as the dial gate sees start times (JavaScript dates): the two agree at the cap's edge.
        const [{ started }] = await tx.query<{ started: number }>(
          `SELECT count(*)::integer AS started FROM outbound_attempts WHERE to_number = $1 AND started_at >= $2::timestamptz + interval '1 millisecond'`,
          [request.to_number, cap.since],
        );
        if (started >= cap.max) return 'capped';
      }
      const claimed = await tx.query<{ to_number: string }>(
        `UPDATE outbound_requests SET status = 'dialing', next_attempt_at = NULL, updated_at = now() WHERE id = $1 AND status = 'queued' RETURNING to_number`,
        [id],
      );
      if (claimed.length === 0) return null;
      const [{ attempt }] = await tx.query<{ attempt: number }>(
        `INSERT INTO outbound_attempts (request_id, attempt, to_number, status, started_at)
         SELECT $1, COALESCE(MAX(attempt), 0) + 1, $2, 'dialing', now() FROM outbound_attempts WHERE request_id = $1
         RETURNING attempt`,
        [id, claimed[0].to_number],
      );
      return attempt;
    });
  }

  async requeue(id: string, at: string, reason: string): Promise<boolean> {
    await this.migrations.ensureMigrated();
    const rows = await this.sql.query(
      `UPDATE outbound_requests SET status = 'queued', next_attempt_at = $2::timestamptz, status_reason = $3, updated_at = now() WHERE id = $1 AND ${OPEN} RETURNING id`,
      [id, at, reason],
    );
    return rows.length > 0;
  }

  async finish(id: string, status: 'completed' | 'exhausted' | 'refused', reason: string): Promise<boolean> {
    await this.migrations.ensureMigrated();
    const rows = await this.sql.query(
      `UPDATE outbound_requests SET status = $2, status_reason = $3, next_attempt_at = NULL, updated_at = now() WHERE id = $1 AND ${OPEN} RETURNING id`,
      [id, status, reason],
    );
    return rows.length > 0;
  }

  async hasOpenRequest(to: string): Promise<boolean> {
    await this.migrations.ensureMigrated();
    const rows = await this.sql.query(`SELECT 1 FROM outbound_requests WHERE to_number = $1 AND ${OPEN} LIMIT 1`, [to]);
    return rows.length > 0;
  }
}

async function attemptsOf(sql: SqlExecutor, id: string): Promise<OutboundAttempt[]> {
  const rows = await sql.query<AttemptRow>(
    'SELECT attempt, call_sid, status, answered_by, started_at, ended_at, detail FROM outbound_attempts WHERE request_id = $1 ORDER BY attempt',
    [id],
  );
  return rows.map((a) => ({
    attempt: a.attempt,
    callSid: a.call_sid,
    status: a.status,
    answeredBy: a.answered_by,
    startedAt: a.started_at.toISOString(),
    endedAt: a.ended_at?.toISOString() ?? null,
    detail: a.detail,
  }));
}

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

function toRequest(row: RequestRow, attempts: OutboundAttempt[]): OutboundRequest {
  return {
    id: row.id,
    to: row.to_number,
    purpose: row.purpose,
    consent: row.consent,
    callbackOf: row.callback_of,
    timezone: row.timezone,
    notBefore: iso(row.not_before),
    metadata: row.metadata,
    idempotencyKey: row.idempotency_key,
    status: row.status,
    statusReason: row.status_reason,
    nextAttemptAt: iso(row.next_attempt_at),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    attempts,
  };
}
