export interface Migration {
  readonly version: number;
  readonly name: string;
  /** Runs in one transaction with the record of it being applied. May hold several statements. */
  readonly sql: string;
}

/**
 * The schema, as an append-only list: a migration that has shipped is never edited, a change is a
 * new version. Kept in TypeScript rather than .sql files so the build carries them into dist.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'create calls',
    sql: `
      CREATE TABLE calls (
        call_sid    text PRIMARY KEY,
        stream_sid  text,
        direction   text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
        from_number text NOT NULL,
        to_number   text NOT NULL,
        status      text NOT NULL CHECK (status IN ('in-progress', 'completed', 'failed', 'fallback')),
        started_at  timestamptz NOT NULL,
        ended_at    timestamptz,
        duration_ms integer,
        end_reason  text,
        transcript  jsonb NOT NULL DEFAULT '[]',
        usage       jsonb NOT NULL DEFAULT '{}',
        cost_usd    numeric(12, 6) NOT NULL DEFAULT 0,
        recording   text,
        details     jsonb NOT NULL DEFAULT '{}',
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now()
      );
      -- Lists are newest first with call_sid breaking ties.
      CREATE INDEX calls_started_at_idx ON calls (started_at DESC, call_sid);
      CREATE INDEX calls_from_number_idx ON calls (from_number);
      CREATE INDEX calls_to_number_idx ON calls (to_number);
      CREATE INDEX calls_status_idx ON calls (status);
    `,
  },
  {
    version: 2,
    name: 'calls crm state',
    // Its own column: written by the CRM side only, so call snapshots never overwrite it.
    sql: `ALTER TABLE calls ADD COLUMN crm jsonb NOT NULL DEFAULT '{}';`,
  },
  {
    version: 3,
    name: 'calls profile',
    // Which business profile answered; null on calls recorded before profiles existed.
    sql: `ALTER TABLE calls ADD COLUMN profile text;`,
  },
];
