import { Injectable } from '@nestjs/common';
import { MigrationRunner } from '../database/migration-runner';
import { SqlClient } from '../database/sql-client';
import { FINAL_CALL_STATUSES, type AttemptOutcome, type AttemptRef } from './outbound-attempts';

/** An attempt whose call should have ended by now, and whose final status has not arrived. */
export interface OverdueAttempt extends AttemptRef {
  readonly callSid: string;
  /** Its status as last reported (queued, initiated, ringing or in-progress). */
  readonly status: string;
  readonly startedAt: string;
}

/**
 * Finds the attempts with a call whose final status never arrived (table outbound_attempts), for
 * the reconciler to ask Twilio about. A find marks what it returns as checked, so that the other
 * instances of a fleet pass those attempts over for a while.
 */
export abstract class OverdueAttempts {
  /**
   * Up to `limit` attempts, oldest first, that have a call SID, no final status, started before
   * `startedBefore`, and were not checked since `checkedBefore` (by any instance); each is marked
   * checked at `now`. Rows another instance is marking are skipped, not waited for.
   */
  abstract claim(startedBefore: string, checkedBefore: string, now: string, limit: number): Promise<OverdueAttempt[]>;
  /**
   * Up to `limit` requests still `dialing` whose latest attempt has an outcome and ended before
   * `endedBefore`: the dialer never took that outcome (it failed while doing so), and the request
   * would otherwise stay `dialing` for ever.
   */
  abstract unsettled(endedBefore: string, limit: number): Promise<Array<AttemptRef & { readonly outcome: AttemptOutcome }>>;
}

interface Row {
  request_id: string;
  attempt: number;
  call_sid: string;
  status: string;
  started_at: Date;
}

/** The key of the attempt's detail that holds when it was last checked at Twilio. */
export const CHECKED_AT = 'twilioCheckedAt';

@Injectable()
export class SqlOverdueAttempts extends OverdueAttempts {
  constructor(
    private readonly sql: SqlClient,
    private readonly migrations: MigrationRunner,
  ) {
    super();
  }

  async claim(startedBefore: string, checkedBefore: string, now: string, limit: number): Promise<OverdueAttempt[]> {
    await this.migrations.ensureMigrated();
    // One statement: the rows are locked (SKIP LOCKED: another instance's pick is not ours) and
    // marked in the same transaction, so two instances never pick the same attempt in one period.
    // A final status always sets ended_at; the status test is belt and braces.
    const rows = await this.sql.query<Row>(
      `WITH picked AS (
         SELECT request_id, attempt FROM outbound_attempts
         WHERE ended_at IS NULL AND call_sid IS NOT NULL AND started_at < $1::timestamptz AND status <> ALL($4::text[])
           AND (detail->>'${CHECKED_AT}' IS NULL OR (detail->>'${CHECKED_AT}')::timestamptz < $2::timestamptz)
         ORDER BY started_at
         LIMIT $5
         FOR UPDATE SKIP LOCKED
       )
       UPDATE outbound_attempts a SET detail = a.detail || jsonb_build_object('${CHECKED_AT}', $3::text)
       FROM picked WHERE a.request_id = picked.request_id AND a.attempt = picked.attempt
       RETURNING a.request_id, a.attempt, a.call_sid, a.status, a.started_at`,
      [startedBefore, checkedBefore, now, [...FINAL_CALL_STATUSES], limit],
    );
    return rows
      .map((r) => ({ requestId: r.request_id, attempt: r.attempt, callSid: r.call_sid, status: r.status, startedAt: r.started_at.toISOString() }))
      .sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  }

  async unsettled(endedBefore: string, limit: number): Promise<Array<AttemptRef & { readonly outcome: AttemptOutcome }>> {
    await this.migrations.ensureMigrated();
    const rows = await this.sql.query<{ request_id: string; attempt: number; outcome: AttemptOutcome }>(
      `SELECT r.id AS request_id, a.attempt, a.detail->>'outcome' AS outcome
       FROM outbound_requests r
       JOIN outbound_attempts a ON a.request_id = r.id
       WHERE r.status = 'dialing' AND a.ended_at < $1::timestamptz AND a.detail->>'outcome' IS NOT NULL
         AND a.attempt = (SELECT max(attempt) FROM outbound_attempts WHERE request_id = r.id)
       ORDER BY a.ended_at
       LIMIT $2`,
      [endedBefore, limit],
    );
    return rows.map((r) => ({ requestId: r.request_id, attempt: r.attempt, outcome: r.outcome }));
  }
}
