import { Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { Clock } from '../common/clock';
import { raceTimeout, TIMED_OUT } from '../common/race-timeout';
import { Scheduler } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import { AppLogger } from '../logging/app-logger';
import { EMPTY_ROTA, OnCallRota, type OnCallNow, type Rota, type RotaOverride } from './rota';
import { parseRotaJson } from './rota.dto';
import { RotaStore } from './rota-store';

/** Overrides that ended this long ago are dropped when one is added. */
const OVERRIDE_HISTORY_MS = 90 * 24 * 60 * 60 * 1000;

/** The rota in force and where it comes from. */
export interface RotaInForce {
  readonly rota: Rota;
  /** `database`: edited through the API; `default`: ON_CALL_ROTA(_FILE); `none`: neither (nobody is on call). */
  readonly source: 'database' | 'default' | 'none';
  readonly updatedAt: string | null;
}

/**
 * The rota in force: the database copy once one was saved through the API, else the default from
 * ON_CALL_ROTA or ON_CALL_ROTA_FILE (checked at boot: a bad one stops it, naming every problem).
 * The last copy read is kept, for when the database cannot be reached.
 */
@Injectable()
export class OnCallRotas {
  readonly defaultRota: Rota | null;
  private lastRead: RotaInForce | null = null;
  private readonly log: Logger;

  constructor(
    private readonly store: RotaStore,
    private readonly clock: Clock,
    private readonly scheduler: Scheduler,
    private readonly config: AppConfig,
    logger: AppLogger,
  ) {
    const given = config.onCall.defaultRota;
    this.defaultRota = given ? parseRotaJson(given.json, given.source, config.onCall.defaultTimeZone) : null;
    this.log = logger.child({ component: 'on-call' });
  }

  /** From the database; rejects when it cannot be read. */
  async current(): Promise<RotaInForce> {
    const stored = await this.store.get();
    this.lastRead = stored
      ? { rota: stored.rota, source: 'database', updatedAt: stored.updatedAt }
      : this.defaultRota
        ? { rota: this.defaultRota, source: 'default', updatedAt: null }
        : { rota: EMPTY_ROTA(this.config.onCall.defaultTimeZone), source: 'none', updatedAt: null };
    return this.lastRead;
  }

  /**
   * Who is on call now, read within `withinMs`: when the database is slow or down, from the copy read
   * last (or the default, if none was read yet). Never rejects: a caller is waiting for the answer.
   */
  async onCallNow(withinMs: number): Promise<OnCallNow & { readonly stale: boolean }> {
    const now = this.clock.epochMs();
    const read = this.current().then(
      (r) => r,
      (err: unknown) => {
        this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'on-call rota not read from the database; using the copy read last');
        return null;
      },
    );
    const fresh = await raceTimeout(read, withinMs, this.scheduler);
    const inForce = fresh === TIMED_OUT || fresh === null ? this.fallback() : fresh;
    return { ...new OnCallRota(inForce.rota).at(now), stale: fresh === TIMED_OUT || fresh === null };
  }

  private fallback(): RotaInForce {
    if (this.lastRead) return this.lastRead;
    return this.defaultRota
      ? { rota: this.defaultRota, source: 'default', updatedAt: null }
      : { rota: EMPTY_ROTA(this.config.onCall.defaultTimeZone), source: 'none', updatedAt: null };
  }

  async replace(rota: Rota): Promise<RotaInForce> {
    const stored = await this.store.replace(rota, this.nowIso());
    this.log.info({ people: rota.people.length, windows: rota.windows.length, overrides: rota.overrides.length }, 'on-call rota replaced');
    return (this.lastRead = { rota: stored.rota, source: 'database', updatedAt: stored.updatedAt });
  }

  /** Adds (or, by id, replaces) an override; the first edit saves the rota in force as the database copy. */
  async addOverride(override: RotaOverride): Promise<RotaInForce> {
    const seed = (await this.current()).rota;
    const now = this.clock.epochMs();
    const stored = await this.store.addOverride(override, seed, new Date(now).toISOString(), new Date(now - OVERRIDE_HISTORY_MS).toISOString());
    this.log.info({ override: override.id, people: override.people }, 'on-call override added');
    return (this.lastRead = { rota: stored.rota, source: 'database', updatedAt: stored.updatedAt });
  }

  async removeOverride(id: string): Promise<boolean> {
    const removed = await this.store.removeOverride(id, this.nowIso());
    if (removed) this.log.info({ override: id }, 'on-call override removed');
    return removed;
  }

  private nowIso(): string {
    return new Date(this.clock.epochMs()).toISOString();
  }
}
