import { Injectable } from '@nestjs/common';
import { MigrationRunner } from '../database/migration-runner';
import { SqlClient, type SqlExecutor } from '../database/sql-client';
import {
  attemptOutcome,
  DIALING,
  FINAL_CALL_STATUSES,
  OutboundAttempts,
  statusRank,
  type AttemptRef,
  type AttemptState,
  type MachineAction,
  type MachineHandling,
  type StatusReport,
} from './outbound-attempts';

interface Row {
  request_id: string;
  attempt: number;
  call_sid: string | null;
  status: string;
  answered_by: string | null;
  ended_at: Date | null;
  detail: { sequence?: number; outcome?: string } & MachineHandling & Record<string, unknown>;
}

const COLUMNS = 'request_id, attempt, call_sid, status, answered_by, ended_at, detail';

interface Change {
  readonly status?: string;
  readonly answeredBy?: string;
  readonly endedAt?: string;
  readonly detail: Record<string, unknown>;
}

/** Outbound attempts in the SQL database (PostgreSQL, or the embedded PGlite). */
@Injectable()
export class SqlOutboundAttempts extends OutboundAttempts {
  constructor(
    private readonly sql: SqlClient,
    private readonly migrations: MigrationRunner,
  ) {
    super();
  }

  async started(requestId: string, attempt: number, to: string, startedAt: string): Promise<boolean> {
    await this.migrations.ensureMigrated();
    const rows = await this.sql.query(
      `INSERT INTO outbound_attempts (request_id, attempt, to_number, status, started_at) VALUES ($1, $2, $3, $4, $5::timestamptz)
       ON CONFLICT (request_id, attempt) DO NOTHING RETURNING 1`,
      [requestId, attempt, to, DIALING, startedAt],
    );
    return rows.length > 0;
  }

  async dialed(requestId: string, attempt: number, callSid: string, status = 'queued'): Promise<void> {
    await this.migrations.ensureMigrated();
    // A status callback that arrived first has claimed the SID already and moved the status on.
    await this.sql.query(
      `UPDATE outbound_attempts SET call_sid = $3, status = CASE WHEN call_sid IS NULL AND status = $5 THEN $4 ELSE status END
       WHERE request_id = $1 AND attempt = $2 AND (call_sid IS NULL OR call_sid = $3)`,
      [requestId, attempt, callSid, status, DIALING],
    );
  }

  async dialFailed(requestId: string, attempt: number, reason: string, at: string): Promise<AttemptState | undefined> {
    await this.migrations.ensureMigrated();
    return this.sql.transaction(async (tx) => {
      const [row] = await tx.query<Row>(`SELECT ${COLUMNS} FROM outbound_attempts WHERE request_id = $1 AND attempt = $2 FOR UPDATE`, [requestId, attempt]);
      if (!row) return undefined;
      if (FINAL_CALL_STATUSES.has(row.status)) return state(row, false, false);
      return apply(tx, row, { status: 'failed', endedAt: at, detail: { dialError: reason } });
    });
  }

  async statusReported(report: StatusReport): Promise<AttemptState | undefined> {
    await this.migrations.ensureMigrated();
    return this.sql.transaction(async (tx) => {
      const row = await lockAttempt(tx, report.callSid, report.link);
      if (!row) return undefined;
      const stale = report.sequence !== undefined && row.detail.sequence !== undefined && report.sequence <= row.detail.sequence;
      if (stale || statusRank(report.status) <= statusRank(row.status)) {
        return row.call_sid === null ? apply(tx, row, { detail: {} }, report.callSid) : state(row, false, false);
      }
      const final = FINAL_CALL_STATUSES.has(report.status);
      return apply(
        tx,
        row,
        {
          status: report.status,
          endedAt: final ? report.at : undefined,
          detail: {
            ...(report.sequence === undefined ? {} : { sequence: report.sequence }),
            ...(report.durationSeconds === undefined ? {} : { durationSeconds: report.durationSeconds }),
            [`${report.status}At`]: report.at,
          },
        },
        report.callSid,
      );
    });
  }

  async answeredBy(callSid: string, value: string, at: string, link?: AttemptRef, action?: MachineAction): Promise<AttemptState | undefined> {
    await this.migrations.ensureMigrated();
    return this.sql.transaction(async (tx) => {
      const row = await lockAttempt(tx, callSid, link);
      if (!row) return undefined;
      if (row.answered_by !== null) return state(row, false, false);
      return apply(tx, row, { answeredBy: value, detail: { answeredByAt: at, ...(action ? { machineAction: action } : {}) } }, callSid);
    });
  }

  async machineActionFailed(callSid: string, reason: string): Promise<AttemptState | undefined> {
    await this.migrations.ensureMigrated();
    return this.sql.transaction(async (tx) => {
      const [row] = await tx.query<Row>(`SELECT ${COLUMNS} FROM outbound_attempts WHERE call_sid = $1 FOR UPDATE`, [callSid]);
      if (!row) return undefined;
      return apply(tx, row, { detail: { machineActionError: reason } });
    });
  }

  async recentAttempts(to: string, since: string): Promise<number[]> {
    await this.migrations.ensureMigrated();
    const rows = await this.sql.query<{ started_at: Date }>(
      'SELECT started_at FROM outbound_attempts WHERE to_number = $1 AND started_at >= $2::timestamptz ORDER BY started_at',
      [to, since],
    );
    return rows.map((r) => r.started_at.getTime());
  }
}

/**
 * The attempt with this call, else the linked attempt unless another call is recorded on it;
 * locked for the transaction. Not found by its SID, the callback came before dialed() recorded it,
 * or while it did: then the linked row is read once that write has committed, with this very SID.
 */
async function lockAttempt(tx: SqlExecutor, callSid: string, link: AttemptRef | undefined): Promise<Row | undefined> {
  const [bySid] = await tx.query<Row>(`SELECT ${COLUMNS} FROM outbound_attempts WHERE call_sid = $1 FOR UPDATE`, [callSid]);
  if (bySid || !link) return bySid;
  const [byLink] = await tx.query<Row>(`SELECT ${COLUMNS} FROM outbound_attempts WHERE request_id = $1 AND attempt = $2 FOR UPDATE`, [
    link.requestId,
    link.attempt,
  ]);
  return byLink && (byLink.call_sid === null || byLink.call_sid === callSid) ? byLink : undefined;
}

/** Writes a change (and the SID, when the attempt had none), recomputing the outcome; the attempt as it now is. */
async function apply(tx: SqlExecutor, row: Row, change: Change, callSid?: string): Promise<AttemptState> {
  const status = change.status ?? row.status;
  const answeredBy = change.answeredBy ?? row.answered_by;
  const outcome = attemptOutcome(status, answeredBy, { ...row.detail, ...change.detail });
  const outcomeChanged = outcome !== null && outcome !== (row.detail.outcome ?? null);
  const detail = { ...change.detail, ...(outcomeChanged ? { outcome } : {}) };
  const [updated] = await tx.query<Row>(
    `UPDATE outbound_attempts
       SET call_sid = COALESCE(call_sid, $3), status = $4, answered_by = $5, ended_at = COALESCE($6::timestamptz, ended_at), detail = detail || $7::jsonb
     WHERE request_id = $1 AND attempt = $2 RETURNING ${COLUMNS}`,
    [row.request_id, row.attempt, callSid ?? null, status, answeredBy, change.endedAt ?? null, JSON.stringify(detail)],
  );
  const applied = change.status !== undefined || change.answeredBy !== undefined || (row.call_sid === null && callSid !== undefined);
  return state(updated, applied, outcomeChanged);
}

function state(row: Row, applied: boolean, outcomeChanged: boolean): AttemptState {
  return {
    requestId: row.request_id,
    attempt: row.attempt,
    callSid: row.call_sid ?? '',
    status: row.status,
    answeredBy: row.answered_by,
    endedAt: row.ended_at?.toISOString() ?? null,
    applied,
    outcome: attemptOutcome(row.status, row.answered_by, row.detail),
    outcomeChanged,
  };
}
