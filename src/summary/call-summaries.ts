import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { Logger } from 'pino';
import type { CallRecord } from '../call-log/call-record';
import { modelSummaryOf, oneLineSummary, summaryDetailOf, type CallSummaryDetail, type SummaryFailure } from '../call-log/call-summary';
import { Clock } from '../common/clock';
import { raceTimeout } from '../common/race-timeout';
import { Scheduler, type ScheduledTask } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import { AppLogger } from '../logging/app-logger';
import { CallMetrics } from '../metrics/call-metrics';
import { CallSummarizer, SummaryFailed, type SummaryRequest } from './call-summarizer';

/** A call's summary as the SMS and paging features send it. */
export interface CallSummaryText {
  readonly text: string;
  /** `model`: the text model's three sentences; `one-line`: made without a model (none was made, or it failed). */
  readonly source: 'model' | 'one-line';
}

/**
 * The port the SMS and paging features read a call's written summary through. The webhook reads
 * it from the record (callSummaryText), where it is attached once made.
 */
export abstract class CallSummarySource {
  /**
   * The summary of an ended call: the model's, waiting for one still being made here (at most until
   * its SUMMARY_TIMEOUT_MS is up), else the one-line summary of `record`. Never rejects.
   */
  abstract summaryOf(record: Pick<CallRecord, 'callSid' | 'status' | 'endReason' | 'details'>): Promise<CallSummaryText>;
}

/** Requests to the model at once from this instance; more calls wait their turn (within their deadline). */
export const MAX_SUMMARIES_IN_FLIGHT = 4;
/** The call.ended event waits this much beyond the summary's deadline: room to write the record it is attached to. */
export const SUMMARY_HOLD_MARGIN_MS = 5_000;
/** At shutdown, summaries still being made get this long at most, then are given up (`shutdown`). */
export const SUMMARY_SHUTDOWN_WAIT_MS = 5_000;

interface Summary {
  /** Epoch ms: the call.ended event waits for the summary until then. */
  readonly holdUntil: number;
  /** Settles (never rejects) once the outcome is known and attached. */
  done: Promise<CallSummaryDetail>;
  settled: CallSummaryDetail | null;
  /** Why it was stopped, when it was. */
  stopped: 'timeout' | 'shutdown' | null;
  readonly abort: AbortController;
  readonly deadline: ScheduledTask;
}

/**
 * Makes each ended call's written summary, after the call and off its audio: the call's records
 * ask for it (summarize) before writing the ended record, and get the outcome back to attach to
 * that record (`details.summary`), which is then written again.
 *
 * The call.ended webhook waits for it: the event is written with the ended record, as always (so it
 * is never lost), but its deliveries are held until the summary's deadline plus a margin
 * (holdUntil); the record's second write, with the summary made or failed, gives the event its
 * final body and releases it at once. An instance that dies meanwhile leaves the event to go out
 * at the end of the hold, with the one-line summary.
 *
 * One request per call, never retried; at most MAX_SUMMARIES_IN_FLIGHT at once; each bounded by
 * SUMMARY_TIMEOUT_MS from the call's end, its wait for a turn included. Logs say what happened,
 * never what was said or summarised.
 */
@Injectable()
export class CallSummaries extends CallSummarySource implements OnModuleDestroy {
  private readonly summaries = new Map<string, Summary>();
  private readonly waiting: Array<() => void> = [];
  private readonly log: Logger;
  private readonly timeoutMs: number;
  private inFlight = 0;
  private stopping = false;

  constructor(
    private readonly summarizer: CallSummarizer,
    config: AppConfig,
    private readonly clock: Clock,
    private readonly scheduler: Scheduler,
    logger: AppLogger,
    private readonly metrics: CallMetrics,
  ) {
    super();
    this.timeoutMs = config.summary.timeoutMs;
    this.log = logger.child({ component: 'summaries' });
  }

  /** Whether summaries are made at all. */
  get enabled(): boolean {
    return this.summarizer.model !== null;
  }

  /**
   * A call has ended: makes its summary in the background, unless summaries are off, the caller
   * said nothing, or shutdown is under way. Call it before the ended record is written, so that its
   * webhook event waits. `attach` gets the outcome, made or failed, once; it must not throw.
   */
  summarize(callSid: string, request: SummaryRequest, attach: (detail: CallSummaryDetail) => void): void {
    const model = this.summarizer.model;
    if (model === null || this.stopping || this.summaries.has(callSid)) return;
    if (!request.transcript.some((turn) => turn.speaker === 'caller' && turn.text.trim() !== '')) return;
    this.forgetPast();
    const summary: Summary = {
      holdUntil: this.clock.epochMs() + this.timeoutMs + SUMMARY_HOLD_MARGIN_MS,
      done: Promise.resolve(null as never), // set below, once the summary exists for make() to read
      settled: null,
      stopped: null,
      abort: new AbortController(),
      deadline: this.scheduler.after(this.timeoutMs, () => this.stop(summary, 'timeout')),
    };
    const started = this.clock.now();
    summary.done = this.make(request, summary).then((outcome) => {
      summary.deadline.cancel();
      const at = new Date(this.clock.epochMs()).toISOString();
      const detail: CallSummaryDetail =
        typeof outcome === 'string' ? { status: 'ready', text: outcome, model, at } : { status: 'failed', reason: outcome.reason, model, at };
      summary.settled = detail;
      const ms = Math.round(this.clock.now() - started);
      this.metrics.callSummary(detail.status === 'ready' ? 'ready' : detail.reason);
      if (typeof outcome === 'string') this.log.info({ callSid, model, ms }, 'call summary made');
      else this.log.warn({ callSid, model, ms, reason: outcome.reason, ...outcome.facts }, 'call summary not made; the one-line summary stands in');
      try {
        attach(detail);
      } catch (err) {
        this.log.error({ callSid, err: (err as Error).message }, 'call summary not attached to the record');
      }
      return detail;
    });
    this.summaries.set(callSid, summary);
  }

  /**
   * Until when (epoch ms) the call.ended event of this ended record waits for its summary; null:
   * not at all (the record has its summary, none is being made here, or the wait is over). A record
   * without the summary although it was made already is an older snapshot, a newer one follows.
   */
  holdUntil(record: Pick<CallRecord, 'callSid' | 'details'>): number | null {
    if (summaryDetailOf(record.details) !== null) return null;
    const summary = this.summaries.get(record.callSid);
    return summary && summary.holdUntil > this.clock.epochMs() ? summary.holdUntil : null;
  }

  async summaryOf(record: Pick<CallRecord, 'callSid' | 'status' | 'endReason' | 'details'>): Promise<CallSummaryText> {
    const made = await this.summaries.get(record.callSid)?.done;
    const text = made?.status === 'ready' ? made.text : modelSummaryOf(record.details);
    return text !== null ? { text, source: 'model' } : { text: oneLineSummary(record), source: 'one-line' };
  }

  /**
   * After the calls have ended (CallModule, which imports this module, is destroyed first), before
   * the call log's last flush: summaries still being made get SUMMARY_SHUTDOWN_WAIT_MS at most, then
   * are given up, so that every outcome is attached and written before the database closes.
   */
  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    const open = [...this.summaries.values()].filter((s) => s.settled === null);
    if (open.length === 0) return;
    this.log.info({ summaries: open.length }, 'waiting for call summaries being made');
    await raceTimeout(Promise.all(open.map((s) => s.done)), SUMMARY_SHUTDOWN_WAIT_MS, this.scheduler);
    for (const summary of open) this.stop(summary, 'shutdown');
    await Promise.all(open.map((s) => s.done));
  }

  /** The summary, or why there is none. Never rejects. */
  private async make(request: SummaryRequest, summary: Summary): Promise<string | SummaryFailed> {
    const signal = summary.abort.signal;
    await this.turn(signal);
    try {
      if (signal.aborted) throw new SummaryFailed(summary.stopped ?? 'timeout');
      return await this.summarizer.summarize(request, signal);
    } catch (err) {
      // Stopped: whatever the summarizer made of the abort, the reason is ours.
      if (summary.stopped !== null) return new SummaryFailed(summary.stopped);
      return err instanceof SummaryFailed ? err : new SummaryFailed('error', { error: err instanceof Error ? err.name : typeof err });
    } finally {
      this.release();
    }
  }

  private stop(summary: Summary, reason: Extract<SummaryFailure, 'timeout' | 'shutdown'>): void {
    if (summary.settled !== null || summary.stopped !== null) return;
    summary.stopped = reason;
    summary.deadline.cancel();
    summary.abort.abort();
  }

  /** Resolves when a request may start (or the summary was stopped while it waited). */
  private turn(signal: AbortSignal): Promise<void> {
    if (this.inFlight < MAX_SUMMARIES_IN_FLIGHT) {
      this.inFlight++;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const go = (): void => {
        signal.removeEventListener('abort', leave);
        this.inFlight++;
        resolve();
      };
      const leave = (): void => {
        const index = this.waiting.indexOf(go);
        if (index >= 0) this.waiting.splice(index, 1);
        this.inFlight++; // released by make()'s finally, as a turn taken
        resolve();
      };
      signal.addEventListener('abort', leave, { once: true });
      this.waiting.push(go);
    });
  }

  private release(): void {
    this.inFlight--;
    this.waiting.shift()?.();
  }

  /** Summaries whose event no longer waits are forgotten (the next call's summary does it). */
  private forgetPast(): void {
    const now = this.clock.epochMs();
    for (const [callSid, summary] of this.summaries) {
      if (summary.settled !== null && summary.holdUntil <= now) this.summaries.delete(callSid);
    }
  }
}
