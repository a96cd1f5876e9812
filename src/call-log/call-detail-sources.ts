import { Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { AppLogger } from '../logging/app-logger';
import type { CallRecord } from './call-record';

/** Facts about calls kept outside their records (e.g. emergency pages), by call SID; calls without any are left out. */
export type CallDetailSource = (callSids: readonly string[]) => Promise<ReadonlyMap<string, unknown>>;

/**
 * Details that other features keep in tables of their own, often written after the call ended,
 * joined into the records the API serves under `details[key]`. A feature registers its source at
 * boot; the call log knows nothing of it. A source that fails is logged and left out: the records
 * are still served.
 */
@Injectable()
export class CallDetailSources {
  private readonly sources = new Map<string, CallDetailSource>();
  private readonly log: Logger;

  constructor(logger: AppLogger) {
    this.log = logger.child({ component: 'call-log' });
  }

  register(key: string, source: CallDetailSource): void {
    if (this.sources.has(key)) throw new Error(`a call detail source for "${key}" is registered already`);
    this.sources.set(key, source);
  }

  /** The records with every source's details merged in. */
  async join(records: readonly CallRecord[]): Promise<CallRecord[]> {
    if (records.length === 0 || this.sources.size === 0) return [...records];
    const callSids = records.map((r) => r.callSid);
    const found = await Promise.all(
      [...this.sources].map(async ([key, source]) => {
        try {
          return [key, await source(callSids)] as const;
        } catch (err) {
          this.log.warn({ key, err: err instanceof Error ? err.message : String(err) }, 'call details not joined');
          return [key, new Map<string, unknown>()] as const;
        }
      }),
    );
    return records.map((record) => {
      const extra = Object.fromEntries(found.filter(([, byCall]) => byCall.has(record.callSid)).map(([key, byCall]) => [key, byCall.get(record.callSid)]));
      return Object.keys(extra).length > 0 ? { ...record, details: { ...record.details, ...extra } } : record;
    });
  }
}
