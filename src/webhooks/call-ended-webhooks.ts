import { Injectable, type OnModuleInit } from '@nestjs/common';
import type { CallRecord } from '../call-log/call-record';
import { EndedCallHooks, type EndedCallHook } from '../call-log/ended-call-hooks';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app-config';
import type { SqlExecutor } from '../database/sql-client';
import { summaryDetailOf } from '../call-log/call-summary';
import { RecordingLinks } from '../recording/recording-links';
import { CallSummaries } from '../summary/call-summaries';
import { buildCallEndedEvent } from './call-ended-event';
import { WebhookDispatcher } from './webhook-dispatcher';
import { WebhookOutbox } from './webhook-outbox';

/**
 * Makes each call's call.ended event where the call's ended record is written, in the same
 * transaction (an EndedCallHook of the call log): off the audio path, and never lost to a database
 * outage, since the record's write is retried, spooled to disk and replayed at the next boot, and
 * the event with it. Every ended record counts: a call that ended, one sent to the fallback, and
 * one whose instance died (ended by another instance).
 *
 * The event carries the call's written summary (src/summary). While the summary is being made, the
 * event is written all the same, with the one-line summary, but its deliveries are held until the
 * summary's deadline (CallSummaries.holdUntil); the record's next write, with the summary made or
 * failed, gives the event its final body and releases it (WebhookOutbox.release). So the event is
 * never lost to a summary that never comes, and never sent twice for one that comes late: an event
 * already tried keeps the body it was sent with.
 */
@Injectable()
export class CallEndedWebhooks implements EndedCallHook, OnModuleInit {
  private readonly urls: readonly string[];

  constructor(
    private readonly hooks: EndedCallHooks,
    private readonly outbox: WebhookOutbox,
    private readonly links: RecordingLinks,
    private readonly dispatcher: WebhookDispatcher,
    private readonly clock: Clock,
    config: AppConfig,
    private readonly summaries: CallSummaries,
  ) {
    this.urls = config.webhooks.urls;
  }

  onModuleInit(): void {
    if (this.dispatcher.enabled) this.hooks.add(this);
  }

  async written(tx: SqlExecutor, record: CallRecord): Promise<void> {
    const recordingUrl = record.recording ? (this.links.urlFor(record.callSid) ?? null) : null;
    const now = this.clock.epochMs();
    const event = buildCallEndedEvent(record, { recordingUrl, now, notBefore: this.summaries.holdUntil(record) ?? undefined });
    const added = await this.outbox.add(tx, event, this.urls);
    // Written before with its summary on the way: now that it is here (or failed), out it goes.
    if (!added && summaryDetailOf(record.details) !== null) await this.outbox.release(tx, event, now);
  }

  committed(): void {
    this.dispatcher.wake();
  }
}
