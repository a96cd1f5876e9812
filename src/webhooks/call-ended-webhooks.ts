import { Injectable, type OnModuleInit } from '@nestjs/common';
import type { CallRecord } from '../call-log/call-record';
import { EndedCallHooks, type EndedCallHook } from '../call-log/ended-call-hooks';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app-config';
import type { SqlExecutor } from '../database/sql-client';
import { RecordingLinks } from '../recording/recording-links';
import { buildCallEndedEvent } from './call-ended-event';
import { WebhookDispatcher } from './webhook-dispatcher';
import { WebhookOutbox } from './webhook-outbox';

/**
 * Makes each call's call.ended event where the call's ended record is written, in the same
 * transaction (an EndedCallHook of the call log): off the audio path, and never lost to a database
 * outage, since the record's write is retried, spooled to disk and replayed at the next boot, and
 * the event with it. Every ended record counts: a call that ended, one sent to the fallback, and
 * one whose instance died (ended by another instance).
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
  ) {
    this.urls = config.webhooks.urls;
  }

  onModuleInit(): void {
    if (this.dispatcher.enabled) this.hooks.add(this);
  }

  async written(tx: SqlExecutor, record: CallRecord): Promise<void> {
    const recordingUrl = record.recording ? (this.links.urlFor(record.callSid) ?? null) : null;
    await this.outbox.add(tx, buildCallEndedEvent(record, { recordingUrl, now: this.clock.epochMs() }), this.urls);
  }

  committed(): void {
    this.dispatcher.wake();
  }
}
