import { Injectable } from '@nestjs/common';
import { MigrationRunner } from '../database/migration-runner';
import { SqlClient, type SqlExecutor } from '../database/sql-client';

export type ConfirmationStatus = 'pending' | 'sending' | 'sent' | 'skipped' | 'failed';

/** What the call record shows as `details.smsConfirmation` (never the text itself). */
export interface ConfirmationDetail {
  readonly reference: string;
  readonly status: ConfirmationStatus;
  /** Why it was skipped or failed: `opted-out`, `no-mobile-number`, `sms-not-configured`, `too-late`, or Twilio's error. */
  readonly reason: string | null;
  readonly messageSid: string | null;
  readonly attempts: number;
  /** ISO 8601: when the status was last set. */
  readonly at: string;
}

export interface NewConfirmation {
  readonly callSid: string;
  readonly reference: string;
  readonly to: string | null;
  readonly body: string | null;
  readonly status: 'pending' | 'skipped';
  readonly reason: string | null;
  readonly at: string;
  /** ISO 8601: not sent before then (the call's summary is on its way); null: at once. */
  readonly notBefore: string | null;
}

export interface ClaimedConfirmation {
  readonly callSid: string;
  readonly to: string;
  readonly body: string;
  /** This claim included. */
  readonly attempts: number;
}

interface Row {
  call_sid: string;
  reference: string;
  status: ConfirmationStatus;
  reason: string | null;
  message_sid: string | null;
  attempts: number;
  updated_at: Date;
}

/**
 * The confirmations to send, one row per call (the outbox): written with the call's ended record,
 * claimed (pending → sending) by exactly one sender before the text goes, so that it is sent at
 * most once however many instances, restarts and replays of the record there are.
 */
@Injectable()
export class SmsConfirmationStore {
  constructor(
    private readonly sql: SqlClient,
    private readonly migrations: MigrationRunner,
  ) {}

  /** Inside the ended record's transaction; a second write for the call keeps the first. False: there was one already. */
  async add(tx: SqlExecutor, c: NewConfirmation): Promise<boolean> {
    const rows = await tx.query(
      `INSERT INTO sms_confirmations (call_sid, reference, to_number, body, status, reason, created_at, updated_at, not_before)
       VALUES ($1, $2, $3, $4, $5, $6, $7::timestamptz, $7::timestamptz, $8::timestamptz) ON CONFLICT (call_sid) DO NOTHING RETURNING call_sid`,
      [c.callSid, c.reference, c.to, c.body, c.status, c.reason, c.at, c.notBefore],
    );
    return rows.length > 0;
  }

  /**
   * The final text of a confirmation not yet taken for sending (the summary it waited for came, or
   * failed), released at once. One already sending or sent keeps its text.
   */
  async release(tx: SqlExecutor, callSid: string, body: string): Promise<void> {
    await tx.query(`UPDATE sms_confirmations SET body = $2, not_before = NULL WHERE call_sid = $1 AND status = 'pending'`, [callSid, body]);
  }

  /** Due at `now`, oldest first. */
  async pending(limit: number, now: string): Promise<string[]> {
    await this.migrations.ensureMigrated();
    const rows = await this.sql.query<{ call_sid: string }>(
      `SELECT call_sid FROM sms_confirmations WHERE status = 'pending' AND (not_before IS NULL OR not_before <= $2::timestamptz)
       ORDER BY updated_at, call_sid LIMIT $1`,
      [limit, now],
    );
    return rows.map((r) => r.call_sid);
  }

  /** Takes a pending confirmation for sending; null when it is not pending (sent, skipped, taken by another). */
  async claim(callSid: string, at: string): Promise<ClaimedConfirmation | null> {
    await this.migrations.ensureMigrated();
    const [row] = await this.sql.query<{ to_number: string; body: string; attempts: number }>(
      `UPDATE sms_confirmations SET status = 'sending', attempts = attempts + 1, updated_at = $2::timestamptz
       WHERE call_sid = $1 AND status = 'pending' RETURNING to_number, body, attempts`,
      [callSid, at],
    );
    return row ? { callSid, to: row.to_number, body: row.body, attempts: Number(row.attempts) } : null;
  }

  /** A claimed confirmation's outcome; `pending` hands it back to be tried again. */
  async settle(callSid: string, status: 'pending' | 'sent' | 'skipped' | 'failed', at: string, fields: { reason?: string | null; messageSid?: string | null } = {}): Promise<void> {
    await this.migrations.ensureMigrated();
    await this.sql.query(
      `UPDATE sms_confirmations SET status = $2, reason = $3, message_sid = $4, updated_at = $5::timestamptz WHERE call_sid = $1 AND status = 'sending'`,
      [callSid, status, fields.reason ?? null, fields.messageSid ?? null, at],
    );
  }

  async forCalls(callSids: readonly string[]): Promise<Map<string, ConfirmationDetail>> {
    await this.migrations.ensureMigrated();
    const rows = await this.sql.query<Row>(
      'SELECT call_sid, reference, status, reason, message_sid, attempts, updated_at FROM sms_confirmations WHERE call_sid = ANY($1::text[])',
      [[...callSids]],
    );
    return new Map(
      rows.map((r) => [
        r.call_sid,
        { reference: r.reference, status: r.status, reason: r.reason, messageSid: r.message_sid, attempts: Number(r.attempts), at: r.updated_at.toISOString() },
      ]),
    );
  }
}
