import { Module } from '@nestjs/common';
import { RecordingModule } from '../recording/recording.module';
import { SecurityModule } from '../security/security.module';
import { SummaryModule } from '../summary/summary.module';
import { CallEndedWebhooks } from './call-ended-webhooks';
import { SqlWebhookOutbox } from './sql-webhook-outbox';
import { WebhookDispatcher } from './webhook-dispatcher';
import { WebhookOutbox } from './webhook-outbox';
import { WebhookSender } from './webhook-sender';
import { WebhooksController } from './webhooks.controller';

/**
 * Post-call webhooks: a signed call.ended event to each WEBHOOK_URLS receiver when a call ends.
 * Events are written to an outbox in the database with the call's ended record (CallEndedWebhooks,
 * a hook of the global call log), sent and retried from there (WebhookDispatcher), and shown by
 * /api/webhooks. Without WEBHOOK_URLS nothing is written or sent; the API still answers.
 */
@Module({
  imports: [RecordingModule, SecurityModule, SummaryModule],
  controllers: [WebhooksController],
  providers: [{ provide: WebhookOutbox, useClass: SqlWebhookOutbox }, WebhookSender, WebhookDispatcher, CallEndedWebhooks],
})
export class WebhooksModule {}
