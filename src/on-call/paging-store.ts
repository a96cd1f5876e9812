import { Injectable } from '@nestjs/common';
import { MigrationRunner } from '../database/migration-runner';
import { SqlClient, type SqlExecutor } from '../database/sql-client';
import type { EmergencyFacts } from './page-message';
import type { EscalationStatus, PageAnswer, PageStatus } from './paging-policy';
import type { OnCallPerson } from './rota';

/** One page of an emergency, as kept (and as the call record shows it). */
export interface Page {
  readonly step: number;
  readonly personId: string;
  readonly personName: string;
  /** E.164. */
  readonly to: string;
  readonly status: PageStatus;
  /** The job that claimed it for sending. */
  readonly claimedBy: string;
  readonly claimedAt: string;
  readonly sentAt: string | null;
  /** Twilio's SM… of the SMS. */
  readonly messageSid: string | null;
  /** Why it was not sent. */
  readonly error: string | null;
  readonly answer: PageAnswer | null;
  readonly answeredAt: string | null;
  /** The SM… of the reply. */
  readonly answerSid: string | null;
  /** What Twilio last reported of its delivery (the message's status callback), when it did. */
  readonly delivery: PageDelivery | null;
  /** Twilio's error code with an undelivered or failed delivery. */
  readonly deliveryError: number | null;
  readonly deliveryAt: string | null;
}

/** The final states of a message Twilio reports through its status callback. */
export type PageDelivery = 'delivered' | 'undelivered' | 'failed';

/** A delivery report matched to the page it is about. */
export interface DeliveredPage {
  readonly callSid: string;
  readonly step: number;
  /** The page was waiting for an answer and did not reach its person: it now counts as failed. */
  readonly failed: boolean;
}

/** An emergency's paging: whom it pages, what the pages say, each page and answer, and how it ended. */
export interface Escalation {
  readonly callSid: string;
  readonly startedAt: string;
  readonly people: readonly OnCallPerson[];
  readonly facts: EmergencyFacts;
  readonly status: EscalationStatus;
  readonly ackedAt: string | null;
  /** The person who took it. */
  readonly ackedBy: string | null;
  /** `sms` (a YES reply), or what another feature reports (`transfer`). */
  readonly ackedVia: string | null;
  readonly gaveUpAt: string | null;
  /** In step order. */
  readonly pages: readonly Page[];
}

export interface NewEscalation {
  readonly callSid: string;
  readonly startedAt: string;
  readonly people: readonly OnCallPerson[];
  readonly facts: EmergencyFacts;
}

/** A reply matched to the page it answers. */
export interface AnsweredPage {
  readonly callSid: string;
  readonly step: number;
  readonly personId: string;
  readonly personName: string;
  readonly facts: EmergencyFacts;
  /** Whether the escalation was still paging when the answer came (a late YES after giving up still takes it). */
  readonly wasPaging: boolean;
}

/** Emergencies and their pages, shared by every instance. */
export abstract class PagingStore {
  /** Starts an emergency's paging; when it exists, only its facts are brought up to date (the list stays). */
  abstract begin(escalation: NewEscalation): Promise<void>;
  /** Brings the facts the pages say up to date (the caller corrected or added details); false when there is no such emergency. */
  abstract updateFacts(callSid: string, facts: EmergencyFacts): Promise<boolean>;
  abstract get(callSid: string): Promise<Escalation | null>;
  abstract forCalls(callSids: readonly string[]): Promise<Map<string, Escalation>>;
  /** Claims step `step` for sending by `claimant` (true), or finds it claimed already (false): only one SMS per step. */
  abstract claim(callSid: string, step: number, person: OnCallPerson, claimant: string, at: string): Promise<boolean>;
  abstract sent(callSid: string, step: number, messageSid: string, at: string): Promise<void>;
  abstract failed(callSid: string, step: number, error: string): Promise<void>;
  /** Marks it unacknowledged; false when it was no longer paging. */
  abstract giveUp(callSid: string, at: string): Promise<boolean>;
  /**
   * The reply of `from` to the latest page sent to that number and not answered, in an emergency
   * nobody has taken (paging, or given up on); null when there is none. Accepting takes the
   * emergency; declining only answers the page.
   */
  abstract answer(from: string, answer: PageAnswer, at: string, messageSid: string): Promise<AnsweredPage | null>;
  /** Taken by other means (the person answered a transfer); false when it was taken already or does not exist. */
  abstract acknowledge(callSid: string, via: string, at: string, personId: string | null): Promise<boolean>;
  /** Whether any page ever went to this number. */
  abstract wasPaged(number: string): Promise<boolean>;
  /**
   * Twilio's final delivery report for the page sent as `messageSid` (the first one counts); a page
   * not delivered and not answered becomes `failed`. Null when no page was sent as that message.
   */
  abstract delivered(messageSid: string, delivery: PageDelivery, errorCode: number | null, at: string): Promise<DeliveredPage | null>;
  /** The emergencies still paging, oldest first. */
  abstract paging(limit: number): Promise<Escalation[]>;
}

interface EscalationRow {
  call_sid: string;
  started_at: Date;
  people: OnCallPerson[];
  facts: EmergencyFacts;
  status: EscalationStatus;
  acked_at: Date | null;
  acked_by: string | null;
  acked_via: string | null;
  gave_up_at: Date | null;
}

interface PageRow {
  call_sid: string;
  step: number;
  person_id: string;
  person_name: string;
  to_number: string;
  status: PageStatus;
  claimed_by: string;
  claimed_at: Date;
  sent_at: Date | null;
  message_sid: string | null;
  error: string | null;
  answer: PageAnswer | null;
  answered_at: Date | null;
  answer_sid: string | null;
  delivery: PageDelivery | null;
  delivery_error: number | null;
  delivery_at: Date | null;
}

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());
const ESCALATION_COLUMNS = 'call_sid, started_at, people, facts, status, acked_at, acked_by, acked_via, gave_up_at';
const PAGE_COLUMNS =
  'call_sid, step, person_id, person_name, to_number, status, claimed_by, claimed_at, sent_at, message_sid, error, answer, answered_at, answer_sid, delivery, delivery_error, delivery_at';

function toPage(r: PageRow): Page {
  return {
    step: r.step,
    personId: r.person_id,
    personName: r.person_name,
    to: r.to_number,
    status: r.status,
    claimedBy: r.claimed_by,
    claimedAt: r.claimed_at.toISOString(),
    sentAt: iso(r.sent_at),
    messageSid: r.message_sid,
    error: r.error,
    answer: r.answer,
    answeredAt: iso(r.answered_at),
    answerSid: r.answer_sid,
    delivery: r.delivery,
    deliveryError: r.delivery_error === null ? null : Number(r.delivery_error),
    deliveryAt: iso(r.delivery_at),
  };
}

function toEscalation(r: EscalationRow, pages: readonly PageRow[]): Escalation {
  return {
    callSid: r.call_sid,
    startedAt: r.started_at.toISOString(),
    people: r.people,
    facts: r.facts,
    status: r.status,
    ackedAt: iso(r.acked_at),
    ackedBy: r.acked_by,
    ackedVia: r.acked_via,
    gaveUpAt: iso(r.gave_up_at),
    pages: pages.filter((p) => p.call_sid === r.call_sid).sort((a, b) => a.step - b.step).map(toPage),
  };
}

@Injectable()
export class SqlPagingStore extends PagingStore {
  constructor(
    private readonly sql: SqlClient,
    private readonly migrations: MigrationRunner,
  ) {
    super();
  }

  async begin(e: NewEscalation): Promise<void> {
    await this.migrations.ensureMigrated();
    await this.sql.query(
      `INSERT INTO on_call_escalations (call_sid, started_at, people, facts, status)
       VALUES ($1, $2::timestamptz, $3::jsonb, $4::jsonb, 'paging')
       ON CONFLICT (call_sid) DO UPDATE SET facts = EXCLUDED.facts`,
      [e.callSid, e.startedAt, JSON.stringify(e.people), JSON.stringify(e.facts)],
    );
  }

  async updateFacts(callSid: string, facts: EmergencyFacts): Promise<boolean> {
    await this.migrations.ensureMigrated();
    const rows = await this.sql.query('UPDATE on_call_escalations SET facts = $2::jsonb WHERE call_sid = $1 RETURNING call_sid', [callSid, JSON.stringify(facts)]);
    return rows.length > 0;
  }

  async get(callSid: string): Promise<Escalation | null> {
    return (await this.forCalls([callSid])).get(callSid) ?? null;
  }

  async forCalls(callSids: readonly string[]): Promise<Map<string, Escalation>> {
    await this.migrations.ensureMigrated();
    if (callSids.length === 0) return new Map();
    const sids = [...new Set(callSids)];
    const [escalations, pages] = await this.sql.transaction(async (tx) => [
      await tx.query<EscalationRow>(`SELECT ${ESCALATION_COLUMNS} FROM on_call_escalations WHERE call_sid = ANY($1::text[])`, [sids]),
      await tx.query<PageRow>(`SELECT ${PAGE_COLUMNS} FROM on_call_pages WHERE call_sid = ANY($1::text[])`, [sids]),
    ] as const);
    return new Map(escalations.map((e) => [e.call_sid, toEscalation(e, pages)]));
  }

  async claim(callSid: string, step: number, person: OnCallPerson, claimant: string, at: string): Promise<boolean> {
    await this.migrations.ensureMigrated();
    const rows = await this.sql.query(
      `INSERT INTO on_call_pages (call_sid, step, person_id, person_name, to_number, status, claimed_by, claimed_at)
       VALUES ($1, $2, $3, $4, $5, 'sending', $6, $7::timestamptz)
       ON CONFLICT (call_sid, step) DO NOTHING
       RETURNING step`,
      [callSid, step, person.id, person.name, person.mobile, claimant, at],
    );
    return rows.length > 0;
  }

  async sent(callSid: string, step: number, messageSid: string, at: string): Promise<void> {
    await this.migrations.ensureMigrated();
    await this.sql.query(`UPDATE on_call_pages SET status = 'sent', sent_at = $3::timestamptz, message_sid = $4, error = NULL WHERE call_sid = $1 AND step = $2`, [
      callSid,
      step,
      at,
      messageSid,
    ]);
  }

  async failed(callSid: string, step: number, error: string): Promise<void> {
    await this.migrations.ensureMigrated();
    await this.sql.query(`UPDATE on_call_pages SET status = 'failed', error = $3 WHERE call_sid = $1 AND step = $2 AND status = 'sending'`, [callSid, step, error.slice(0, 500)]);
  }

  async giveUp(callSid: string, at: string): Promise<boolean> {
    await this.migrations.ensureMigrated();
    const rows = await this.sql.query(
      `UPDATE on_call_escalations SET status = 'unacknowledged', gave_up_at = $2::timestamptz WHERE call_sid = $1 AND status = 'paging' RETURNING call_sid`,
      [callSid, at],
    );
    return rows.length > 0;
  }

  async answer(from: string, answer: PageAnswer, at: string, messageSid: string): Promise<AnsweredPage | null> {
    await this.migrations.ensureMigrated();
    return this.sql.transaction(async (tx) => {
      const [page] = await tx.query<{ call_sid: string; step: number; person_id: string; person_name: string; facts: EmergencyFacts; status: EscalationStatus }>(
        `SELECT p.call_sid, p.step, p.person_id, p.person_name, e.facts, e.status
           FROM on_call_pages p JOIN on_call_escalations e ON e.call_sid = p.call_sid
          WHERE p.to_number = $1 AND p.status = 'sent' AND p.answer IS NULL AND e.status <> 'acknowledged'
          ORDER BY p.sent_at DESC, p.call_sid
          LIMIT 1
          FOR UPDATE OF p, e`,
        [from],
      );
      if (!page) return null;
      await tx.query(`UPDATE on_call_pages SET answer = $3, answered_at = $4::timestamptz, answer_sid = $5 WHERE call_sid = $1 AND step = $2`, [
        page.call_sid,
        page.step,
        answer,
        at,
        messageSid,
      ]);
      if (answer === 'accepted') await acknowledge(tx, page.call_sid, 'sms', at, page.person_id);
      return { callSid: page.call_sid, step: page.step, personId: page.person_id, personName: page.person_name, facts: page.facts, wasPaging: page.status === 'paging' };
    });
  }

  async acknowledge(callSid: string, via: string, at: string, personId: string | null): Promise<boolean> {
    await this.migrations.ensureMigrated();
    return acknowledge(this.sql, callSid, via, at, personId);
  }

  async wasPaged(number: string): Promise<boolean> {
    await this.migrations.ensureMigrated();
    return (await this.sql.query('SELECT 1 FROM on_call_pages WHERE to_number = $1 LIMIT 1', [number])).length > 0;
  }

  async delivered(messageSid: string, delivery: PageDelivery, errorCode: number | null, at: string): Promise<DeliveredPage | null> {
    await this.migrations.ensureMigrated();
    const error = `not delivered: ${delivery}${errorCode === null ? '' : ` (Twilio error ${errorCode})`}`;
    const [row] = await this.sql.query<{ call_sid: string; step: number; failed: boolean }>(
      `UPDATE on_call_pages
          SET delivery = $2, delivery_error = $3, delivery_at = $4::timestamptz,
              status = CASE WHEN $2 <> 'delivered' AND status = 'sent' AND answer IS NULL THEN 'failed' ELSE status END,
              error = CASE WHEN $2 <> 'delivered' AND status = 'sent' AND answer IS NULL THEN $5 ELSE error END
        WHERE message_sid = $1 AND delivery IS NULL
        RETURNING call_sid, step, (status = 'failed' AND error = $5) AS failed`,
      [messageSid, delivery, errorCode, at, error],
    );
    return row ? { callSid: row.call_sid, step: Number(row.step), failed: row.failed } : null;
  }

  async paging(limit: number): Promise<Escalation[]> {
    await this.migrations.ensureMigrated();
    const rows = await this.sql.query<{ call_sid: string }>(`SELECT call_sid FROM on_call_escalations WHERE status = 'paging' ORDER BY started_at, call_sid LIMIT $1`, [limit]);
    const found = await this.forCalls(rows.map((r) => r.call_sid));
    return rows.map((r) => found.get(r.call_sid)).filter((e): e is Escalation => e !== undefined);
  }
}

async function acknowledge(tx: SqlExecutor, callSid: string, via: string, at: string, personId: string | null): Promise<boolean> {
  const rows = await tx.query(
    `UPDATE on_call_escalations SET status = 'acknowledged', acked_at = $2::timestamptz, acked_via = $3, acked_by = $4
      WHERE call_sid = $1 AND status <> 'acknowledged' RETURNING call_sid`,
    [callSid, at, via, personId],
  );
  return rows.length > 0;
}
