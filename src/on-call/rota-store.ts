import { Injectable } from '@nestjs/common';
import { MigrationRunner } from '../database/migration-runner';
import { SqlClient, type SqlExecutor } from '../database/sql-client';
import type { Rota, RotaOverride, RotaWindow, Weekday } from './rota';

/** The rota edited through the API, and when it last changed. */
export interface StoredRota {
  readonly rota: Rota;
  readonly updatedAt: string;
}

/** The database copy of the rota. Once saved it wins over the ON_CALL_ROTA(_FILE) default. */
export abstract class RotaStore {
  /** Null while none has been saved. */
  abstract get(): Promise<StoredRota | null>;
  /** Replaces the whole copy (people, windows, overrides). */
  abstract replace(rota: Rota, at: string): Promise<StoredRota>;
  /**
   * Adds an override to the copy; when there is none yet, `seed` (the default in force) is saved
   * first, so that the first edit keeps what was on call. Overrides that ended before `pruneBefore`
   * are dropped.
   */
  abstract addOverride(override: RotaOverride, seed: Rota, at: string, pruneBefore: string): Promise<StoredRota>;
  /** False when the copy has no such override. */
  abstract removeOverride(id: string, at: string): Promise<boolean>;
}

interface RotaRow {
  timezone: string;
  updated_at: Date;
}
interface PersonRow {
  id: string;
  name: string;
  mobile: string;
}
interface WindowRow {
  days: Weekday[] | null;
  starts: string;
  ends: string;
  people: string[];
}
interface OverrideRow {
  id: string;
  starts_at: Date;
  ends_at: Date;
  people: string[];
  note: string | null;
}

@Injectable()
export class SqlRotaStore extends RotaStore {
  constructor(
    private readonly sql: SqlClient,
    private readonly migrations: MigrationRunner,
  ) {
    super();
  }

  async get(): Promise<StoredRota | null> {
    await this.migrations.ensureMigrated();
    return this.sql.transaction((tx) => read(tx));
  }

  async replace(rota: Rota, at: string): Promise<StoredRota> {
    await this.migrations.ensureMigrated();
    return this.sql.transaction(async (tx) => {
      await write(tx, rota, at);
      return (await read(tx))!;
    });
  }

  async addOverride(override: RotaOverride, seed: Rota, at: string, pruneBefore: string): Promise<StoredRota> {
    await this.migrations.ensureMigrated();
    return this.sql.transaction(async (tx) => {
      await lock(tx);
      if (!(await read(tx))) await write(tx, seed, at);
      await tx.query('DELETE FROM on_call_overrides WHERE ends_at < $1::timestamptz', [pruneBefore]);
      await insertOverride(tx, override, at);
      await tx.query('UPDATE on_call_rota SET updated_at = $1::timestamptz', [at]);
      return (await read(tx))!;
    });
  }

  async removeOverride(id: string, at: string): Promise<boolean> {
    await this.migrations.ensureMigrated();
    return this.sql.transaction(async (tx) => {
      const rows = await tx.query('DELETE FROM on_call_overrides WHERE id = $1 RETURNING id', [id]);
      if (rows.length > 0) await tx.query('UPDATE on_call_rota SET updated_at = $1::timestamptz', [at]);
      return rows.length > 0;
    });
  }
}

/** Writers of the rota wait for one another (the row may not exist yet to lock). */
const lock = (tx: SqlExecutor) => tx.query('SELECT pg_advisory_xact_lock($1)', [4_270_113_006]);

async function write(tx: SqlExecutor, rota: Rota, at: string): Promise<void> {
  await lock(tx);
  await tx.query('DELETE FROM on_call_overrides');
  await tx.query('DELETE FROM on_call_windows');
  await tx.query('DELETE FROM on_call_people');
  await tx.query(
    `INSERT INTO on_call_rota (id, timezone, updated_at) VALUES (1, $1, $2::timestamptz)
     ON CONFLICT (id) DO UPDATE SET timezone = EXCLUDED.timezone, updated_at = EXCLUDED.updated_at`,
    [rota.timezone, at],
  );
  for (const [position, p] of rota.people.entries()) {
    await tx.query('INSERT INTO on_call_people (id, position, name, mobile) VALUES ($1, $2, $3, $4)', [p.id, position, p.name, p.mobile]);
  }
  for (const [position, w] of rota.windows.entries()) {
    // Serialised here: pg would send a JS array as a PostgreSQL array, not as JSON.
    await tx.query('INSERT INTO on_call_windows (position, days, starts, ends, people) VALUES ($1, $2::jsonb, $3, $4, $5::jsonb)', [
      position,
      w.days ? JSON.stringify(w.days) : null,
      w.start,
      w.end,
      JSON.stringify(w.people),
    ]);
  }
  for (const o of rota.overrides) await insertOverride(tx, o, at);
}

async function insertOverride(tx: SqlExecutor, o: RotaOverride, at: string): Promise<void> {
  await tx.query(
    `INSERT INTO on_call_overrides (id, starts_at, ends_at, people, note, created_at)
     VALUES ($1, $2::timestamptz, $3::timestamptz, $4::jsonb, $5, $6::timestamptz)
     ON CONFLICT (id) DO UPDATE SET starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at, people = EXCLUDED.people, note = EXCLUDED.note`,
    [o.id, o.start, o.end, JSON.stringify(o.people), o.note, at],
  );
}

async function read(tx: SqlExecutor): Promise<StoredRota | null> {
  const [head] = await tx.query<RotaRow>('SELECT timezone, updated_at FROM on_call_rota WHERE id = 1');
  if (!head) return null;
  const people = await tx.query<PersonRow>('SELECT id, name, mobile FROM on_call_people ORDER BY position');
  const windows = await tx.query<WindowRow>('SELECT days, starts, ends, people FROM on_call_windows ORDER BY position');
  const overrides = await tx.query<OverrideRow>('SELECT id, starts_at, ends_at, people, note FROM on_call_overrides ORDER BY starts_at, created_at, id');
  return {
    updatedAt: head.updated_at.toISOString(),
    rota: {
      timezone: head.timezone,
      people: people.map((p) => ({ id: p.id, name: p.name, mobile: p.mobile })),
      windows: windows.map((w): RotaWindow => ({ days: w.days, start: w.starts, end: w.ends, people: w.people })),
      overrides: overrides.map((o): RotaOverride => ({ id: o.id, start: o.starts_at.toISOString(), end: o.ends_at.toISOString(), people: o.people, note: o.note })),
    },
  };
}
