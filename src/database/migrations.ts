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
  {
    version: 4,
    name: 'outbound requests, attempts and the do-not-call list',
    sql: `
      CREATE TABLE outbound_requests (
        id              text PRIMARY KEY,
        to_number       text NOT NULL,
        purpose         text NOT NULL,
        -- {source, obtainedAt}; null for a callback to someone who called (callback_of).
        consent         jsonb,
        callback_of     text,
        timezone        text,
        not_before      timestamptz,
        metadata        jsonb NOT NULL DEFAULT '{}',
        idempotency_key text UNIQUE,
        status          text NOT NULL CHECK (status IN ('queued', 'dialing', 'completed', 'exhausted', 'cancelled', 'refused')),
        status_reason   text,
        next_attempt_at timestamptz,
        created_at      timestamptz NOT NULL DEFAULT now(),
        updated_at      timestamptz NOT NULL DEFAULT now()
      );
      -- The same (to, purpose) within the dedupe window is the same request.
      CREATE INDEX outbound_requests_to_purpose_idx ON outbound_requests (to_number, purpose, created_at DESC);
      CREATE INDEX outbound_requests_status_idx ON outbound_requests (status, created_at DESC);

      CREATE TABLE outbound_attempts (
        request_id  text NOT NULL REFERENCES outbound_requests (id) ON DELETE CASCADE,
        attempt     integer NOT NULL,
        to_number   text NOT NULL,
        call_sid    text UNIQUE,
        status      text NOT NULL,
        answered_by text,
        started_at  timestamptz NOT NULL,
        ended_at    timestamptz,
        detail      jsonb NOT NULL DEFAULT '{}',
        PRIMARY KEY (request_id, attempt)
      );
      -- Attempts per number in the last 24 hours, whichever instance dialled.
      CREATE INDEX outbound_attempts_to_started_idx ON outbound_attempts (to_number, started_at DESC);

      CREATE TABLE do_not_call (
        number   text PRIMARY KEY,
        reason   text,
        source   text NOT NULL,
        added_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    version: 5,
    name: 'outbound attempts awaiting their end',
    sql: `
      -- The reconciler's look for calls whose final status never arrived, every minute on every
      -- instance: only the few attempts in flight are indexed.
      CREATE INDEX outbound_attempts_unended_idx ON outbound_attempts (started_at) WHERE ended_at IS NULL AND call_sid IS NOT NULL;
    `,
  },
  {
    version: 6,
    name: 'webhook outbox: events and their deliveries',
    sql: `
      -- One row per event, written in the transaction that ends the call's record: never lost with it, never made twice.
      CREATE TABLE webhook_events (
        id         text PRIMARY KEY,
        type       text NOT NULL,
        call_sid   text,
        -- The JSON body exactly as sent (and signed) on every attempt.
        body       text NOT NULL,
        created_at timestamptz NOT NULL
      );
      CREATE INDEX webhook_events_call_sid_idx ON webhook_events (call_sid);

      -- One row per event and URL: what was tried, when it is due next, and how it ended.
      CREATE TABLE webhook_deliveries (
        id              text PRIMARY KEY,
        event_id        text NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
        url             text NOT NULL,
        status          text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts        integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL,
        -- While an attempt is in flight: no other worker takes the delivery before this.
        locked_until    timestamptz,
        last_attempt_at timestamptz,
        last_status     integer,
        last_error      text,
        delivered_at    timestamptz,
        created_at      timestamptz NOT NULL,
        updated_at      timestamptz NOT NULL DEFAULT now(),
        UNIQUE (event_id, url)
      );
      CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
      CREATE INDEX webhook_deliveries_list_idx ON webhook_deliveries (created_at DESC, id);
      CREATE INDEX webhook_deliveries_status_idx ON webhook_deliveries (status, created_at DESC);
    `,
  },
  {
    version: 7,
    name: 'on-call rota and emergency pages',
    sql: `
      -- The rota as edited through the API; while it has no row, the ON_CALL_ROTA(_FILE) default applies.
      CREATE TABLE on_call_rota (
        id         integer PRIMARY KEY CHECK (id = 1),
        timezone   text NOT NULL,
        updated_at timestamptz NOT NULL
      );
      CREATE TABLE on_call_people (
        id       text PRIMARY KEY,
        position integer NOT NULL,
        name     text NOT NULL,
        mobile   text NOT NULL
      );
      -- A weekly window: with days, start and end are HH:MM; without, "ddd HH:MM". people: ids in escalation order.
      CREATE TABLE on_call_windows (
        position integer PRIMARY KEY,
        days     jsonb,
        starts   text NOT NULL,
        ends     text NOT NULL,
        people   jsonb NOT NULL
      );
      CREATE TABLE on_call_overrides (
        id         text PRIMARY KEY,
        starts_at  timestamptz NOT NULL,
        ends_at    timestamptz NOT NULL CHECK (ends_at > starts_at),
        people     jsonb NOT NULL,
        note       text,
        created_at timestamptz NOT NULL
      );

      -- One per emergency call: whom it pages, in order (the rota when it was raised), and how it ended.
      CREATE TABLE on_call_escalations (
        call_sid   text PRIMARY KEY,
        started_at timestamptz NOT NULL,
        people     jsonb NOT NULL,
        -- What the pages say: caller name, callback number, address, problem, caller ID.
        facts      jsonb NOT NULL,
        status     text NOT NULL CHECK (status IN ('paging', 'acknowledged', 'unacknowledged')),
        acked_at   timestamptz,
        acked_by   text,
        acked_via  text,
        gave_up_at timestamptz
      );
      -- Step k pages people[k]; the key is what keeps a page from being sent twice.
      CREATE TABLE on_call_pages (
        call_sid    text NOT NULL REFERENCES on_call_escalations (call_sid) ON DELETE CASCADE,
        step        integer NOT NULL CHECK (step >= 0),
        person_id   text NOT NULL,
        person_name text NOT NULL,
        to_number   text NOT NULL,
        status      text NOT NULL CHECK (status IN ('sending', 'sent', 'failed')),
        -- The job run that sends it: only a retry of that same job may send it again.
        claimed_by  text NOT NULL,
        claimed_at  timestamptz NOT NULL,
        sent_at     timestamptz,
        message_sid text,
        error       text,
        answer      text CHECK (answer IN ('accepted', 'declined')),
        answered_at timestamptz,
        answer_sid  text,
        PRIMARY KEY (call_sid, step)
      );
      -- A reply is matched to the latest page sent to its number.
      CREATE INDEX on_call_pages_to_number_idx ON on_call_pages (to_number, sent_at DESC);
    `,
  },
  {
    version: 8,
    name: 'SMS confirmations to callers and SMS opt-outs',
    sql: `
      -- Numbers that texted STOP (or that Twilio refused as opted out, error 21610): no texts to them.
      CREATE TABLE sms_opt_outs (
        number  text PRIMARY KEY,
        at      timestamptz NOT NULL,
        keyword text NOT NULL
      );
      -- One per call that ended with a saved job request: the confirmation text, written with the ended record.
      CREATE TABLE sms_confirmations (
        call_sid    text PRIMARY KEY,
        reference   text NOT NULL,
        to_number   text,
        body        text,
        status      text NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'skipped', 'failed')),
        reason      text,
        message_sid text,
        attempts    integer NOT NULL DEFAULT 0,
        created_at  timestamptz NOT NULL,
        updated_at  timestamptz NOT NULL
      );
      CREATE INDEX sms_confirmations_pending_idx ON sms_confirmations (status, updated_at);
    `,
  },
  {
    version: 9,
    name: 'SMS confirmations wait for the call summary',
    sql: `
      -- Held until then (the call's written summary is on its way), unless the summary comes first.
      ALTER TABLE sms_confirmations ADD COLUMN not_before timestamptz;
    `,
  },
  {
    version: 10,
    name: 'on-call page delivery status',
    sql: `
      -- What Twilio reported of a page's delivery (delivered, undelivered, failed), with its error code.
      ALTER TABLE on_call_pages ADD COLUMN delivery text, ADD COLUMN delivery_error integer, ADD COLUMN delivery_at timestamptz;
      CREATE INDEX on_call_pages_message_sid_idx ON on_call_pages (message_sid);
      -- The sweep reads the emergencies still paging.
      CREATE INDEX on_call_escalations_paging_idx ON on_call_escalations (started_at) WHERE status = 'paging';
    `,
  },
];
