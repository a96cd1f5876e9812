import { Injectable } from '@nestjs/common';
import type { SqlExecutor } from '../database/sql-client';
import type { CallRecord } from './call-record';

/**
 * Something that must be written together with the record of a call that has ended (the webhook
 * outbox), so that it is never lost when the database is down: it rides on the record's own write,
 * whose retries and spool file (CallLogWriter) already survive an outage and a restart.
 */
export interface EndedCallHook {
  /**
   * Runs inside the transaction that writes an ended record (any status but in-progress: a call
   * that ended, one sent to the fallback, one whose instance died). Throwing rolls the record back
   * with it, to be written again later. May run more than once for one call (a write repeated
   * after a lost answer, a spool file replayed): it must be idempotent.
   */
  written(tx: SqlExecutor, record: CallRecord): Promise<void>;
  /** After that transaction committed. Must not throw. */
  committed?(record: CallRecord): void;
}

/**
 * The hooks the call log runs when it writes an ended record. Modules above the call log add
 * theirs while the application starts (before any call is taken or spool file replayed), so the
 * call log knows nothing of what they write.
 */
@Injectable()
export class EndedCallHooks {
  private readonly hooks: EndedCallHook[] = [];

  add(hook: EndedCallHook): void {
    this.hooks.push(hook);
  }

  /** False: an ended record is written alone, as any other snapshot. */
  get active(): boolean {
    return this.hooks.length > 0;
  }

  async written(tx: SqlExecutor, record: CallRecord): Promise<void> {
    for (const hook of this.hooks) await hook.written(tx, record);
  }

  committed(record: CallRecord): void {
    for (const hook of this.hooks) hook.committed?.(record);
  }
}
