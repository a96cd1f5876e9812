import { Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { MigrationRunner } from '../database/migration-runner';
import { SqlClient, type SqlExecutor } from '../database/sql-client';
import type { NewWebhookEvent } from './call-ended-event';
import {
  WebhookOutbox,
  type ClaimedDelivery,
  type DeliveryListQuery,
  type DeliveryStatus,
  type Settlement,
  type WebhookDelivery,
  type WebhookEventView,
} from './webhook-outbox';

interface DeliveryRow {
  id: string;
  event_id: string;
  event_type: string;
  call_sid: string | null;
  url: string;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: Date;
  last_attempt_at: Date | null;
  last_status: number | null;
  last_error: string | null;
  delivered_at: Date | null;
  created_at: Date;
}

const DELIVERY_COLUMNS = `d.id, d.event_id, e.type AS event_type, e.call_sid, d.url, d.status, d.attempts, d.next_attempt_at,
  d.last_attempt_at, d.last_status, d.last_error, d.delivered_at, d.created_at`;
const FROM_DELIVERIES = 'webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id';

const iso = (ms: number): string => new Date(ms).toISOString();

/** Delivery ids: `whd_` and 24 hex digits (no digit run a log scrubber could take for a phone number follows a separator). */
export const newDeliveryId = (): string => `whd_${randomBytes(12).toString('hex')}`;

/** The webhook outbox in the SQL database (PostgreSQL, or the embedded PGlite). */
@Injectable()
export class SqlWebhookOutbox extends WebhookOutbox {
  constructor(
    private readonly sql: SqlClient,
    private readonly migrations: MigrationRunner,
  ) {
    super();
  }

  async add(tx: SqlExecutor, event: NewWebhookEvent, urls: readonly string[]): Promise<boolean> {
    // The caller's transaction has its record written already: the schema is current.
    const inserted = await tx.query(
      `INSERT INTO webhook_events (id, type, call_sid, body, created_at) VALUES ($1, $2, $3, $4, $5::timestamptz)
       ON CONFLICT (id) DO NOTHING RETURNING id`,
      [event.id, event.type, event.callSid, event.body, iso(event.createdAt)],
    );
    if (inserted.length === 0) return false;
    for (const url of urls) {
      await tx.query(
        `INSERT INTO webhook_deliveries (id, event_id, url, status, next_attempt_at, created_at)
         VALUES ($1, $2, $3, 'pending', $4::timestamptz, $5::timestamptz) ON CONFLICT (event_id, url) DO NOTHING`,
        [newDeliveryId(), event.id, url, iso(Math.max(event.notBefore ?? event.createdAt, event.createdAt)), iso(event.createdAt)],
      );
    }
    return true;
  }

  async release(tx: SqlExecutor, event: NewWebhookEvent, now: number): Promise<boolean> {
    // The deliveries are locked first: a claim (FOR UPDATE SKIP LOCKED) taken meanwhile either
    // committed before, and its attempt is counted here, or waits for this transaction to end.
    const deliveries = await tx.query<{ attempts: number }>(
      'SELECT attempts FROM webhook_deliveries WHERE event_id = $1 ORDER BY id FOR UPDATE',
      [event.id],
    );
    if (deliveries.some((d) => d.attempts > 0)) return false;
    const updated = await tx.query('UPDATE webhook_events SET body = $2 WHERE id = $1 RETURNING id', [event.id, event.body]);
    if (updated.length === 0) return false;
    await tx.query(
      `UPDATE webhook_deliveries SET next_attempt_at = LEAST(next_attempt_at, $2::timestamptz), updated_at = now()
        WHERE event_id = $1 AND status = 'pending' AND attempts = 0`,
      [event.id, iso(now)],
    );
    return true;
  }

  async claim(urls: readonly string[], now: number, limit: number, leaseMs: number, inFlight: readonly string[] = []): Promise<ClaimedDelivery[]> {
    if (urls.length === 0 || limit <= 0) return [];
    await this.migrations.ensureMigrated();
    const rows = await this.sql.query<{ id: string; event_id: string; url: string; attempts: number; body: string; event_created_at: Date }>(
      `WITH due AS (
         SELECT id FROM webhook_deliveries
          WHERE status = 'pending' AND url = ANY($1::text[]) AND next_attempt_at <= $2::timestamptz
            AND (locked_until IS NULL OR locked_until <= $2::timestamptz) AND id <> ALL($5::text[])
          ORDER BY next_attempt_at, id
          LIMIT $3
          FOR UPDATE SKIP LOCKED
       )
       UPDATE webhook_deliveries d
          SET attempts = d.attempts + 1, locked_until = $4::timestamptz, last_attempt_at = $2::timestamptz, updated_at = now()
         FROM due, webhook_events e
        WHERE d.id = due.id AND e.id = d.event_id
       RETURNING d.id, d.event_id, d.url, d.attempts, e.body, e.created_at AS event_created_at`,
      [[...urls], iso(now), limit, iso(now + leaseMs), [...inFlight]],
    );
    return rows
      .map((r) => ({ id: r.id, eventId: r.event_id, url: r.url, attempt: r.attempts, body: r.body, eventCreatedAt: r.event_created_at.getTime() }))
      .sort((a, b) => a.eventCreatedAt - b.eventCreatedAt || a.id.localeCompare(b.id));
  }

  async settle(id: string, attempt: number, outcome: Settlement, now: number): Promise<boolean> {
    await this.migrations.ensureMigrated();
    const guard = `WHERE id = $1 AND attempts = $2 AND status = 'pending' RETURNING id`;
    let rows: unknown[];
    switch (outcome.status) {
      case 'delivered':
        rows = await this.sql.query(
          `UPDATE webhook_deliveries SET status = 'delivered', delivered_at = $3::timestamptz, last_status = $4, last_error = NULL,
             locked_until = NULL, updated_at = now() ${guard}`,
          [id, attempt, iso(now), outcome.httpStatus],
        );
        break;
      case 'pending':
        rows = await this.sql.query(
          `UPDATE webhook_deliveries SET next_attempt_at = $3::timestamptz, last_status = $4, last_error = $5,
             locked_until = NULL, updated_at = now() ${guard}`,
          [id, attempt, iso(outcome.nextAttemptAt), outcome.httpStatus, outcome.error],
        );
        break;
      case 'failed':
        rows = await this.sql.query(
          `UPDATE webhook_deliveries SET status = 'failed', last_status = $3, last_error = $4, locked_until = NULL, updated_at = now() ${guard}`,
          [id, attempt, outcome.httpStatus, outcome.error],
        );
        break;
    }
    return rows.length > 0;
  }

  async nextDue(urls: readonly string[]): Promise<number | null> {
    if (urls.length === 0) return null;
    await this.migrations.ensureMigrated();
    const [row] = await this.sql.query<{ due: Date | null }>(
      `SELECT min(GREATEST(next_attempt_at, COALESCE(locked_until, next_attempt_at))) AS due
         FROM webhook_deliveries WHERE status = 'pending' AND url = ANY($1::text[])`,
      [[...urls]],
    );
    return row?.due ? row.due.getTime() : null;
  }

  async list(query: DeliveryListQuery): Promise<{ items: WebhookDelivery[]; total: number }> {
    await this.migrations.ensureMigrated();
    const params: unknown[] = [];
    const conditions: string[] = [];
    if (query.status !== undefined) {
      params.push(query.status);
      conditions.push(`d.status = $${params.length}`);
    }
    if (query.callSid !== undefined) {
      params.push(query.callSid);
      conditions.push(`e.call_sid = $${params.length}`);
    }
    const filter = conditions.length ? `WHERE ${conditions.join(' AND ')}` : '';
    const [rows, [count]] = await Promise.all([
      this.sql.query<DeliveryRow>(
        `SELECT ${DELIVERY_COLUMNS} FROM ${FROM_DELIVERIES} ${filter}
          ORDER BY d.created_at DESC, d.id LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
        [...params, query.limit, query.offset],
      ),
      this.sql.query<{ total: number }>(`SELECT count(*)::integer AS total FROM ${FROM_DELIVERIES} ${filter}`, params),
    ]);
    return { items: rows.map(toDelivery), total: Number(count?.total ?? 0) };
  }

  async event(id: string): Promise<WebhookEventView | undefined> {
    await this.migrations.ensureMigrated();
    const [event] = await this.sql.query<{ id: string; type: string; call_sid: string | null; body: string; created_at: Date }>(
      'SELECT id, type, call_sid, body, created_at FROM webhook_events WHERE id = $1',
      [id],
    );
    if (!event) return undefined;
    const deliveries = await this.sql.query<DeliveryRow>(`SELECT ${DELIVERY_COLUMNS} FROM ${FROM_DELIVERIES} WHERE d.event_id = $1 ORDER BY d.url`, [id]);
    return {
      id: event.id,
      type: event.type,
      callSid: event.call_sid,
      createdAt: event.created_at.toISOString(),
      payload: JSON.parse(event.body) as unknown,
      deliveries: deliveries.map(toDelivery),
    };
  }

  async delivery(id: string): Promise<WebhookDelivery | undefined> {
    await this.migrations.ensureMigrated();
    const [row] = await this.sql.query<DeliveryRow>(`SELECT ${DELIVERY_COLUMNS} FROM ${FROM_DELIVERIES} WHERE d.id = $1`, [id]);
    return row ? toDelivery(row) : undefined;
  }

  async retryNow(id: string, now: number): Promise<WebhookDelivery | undefined> {
    await this.migrations.ensureMigrated();
    // An attempt in flight keeps its hold; it settles the delivery, and the next one is due now.
    await this.sql.query(
      `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $2::timestamptz, updated_at = now()
        WHERE id = $1 AND status IN ('pending', 'failed')`,
      [id, iso(now)],
    );
    return this.delivery(id);
  }
}

function toDelivery(row: DeliveryRow): WebhookDelivery {
  return {
    id: row.id,
    eventId: row.event_id,
    eventType: row.event_type,
    callSid: row.call_sid,
    url: row.url,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.status === 'pending' ? row.next_attempt_at.toISOString() : null,
    lastAttemptAt: row.last_attempt_at?.toISOString() ?? null,
    lastStatus: row.last_status,
    lastError: row.last_error,
    deliveredAt: row.delivered_at?.toISOString() ?? null,
    createdAt: row.created_at.toISOString(),
  };
}
