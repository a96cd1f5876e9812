import { Global, Module } from '@nestjs/common';
import { RecordingModule } from '../recording/recording.module';
import { SecurityModule } from '../security/security.module';
import { SessionModule } from '../session/session.module';
import { ApiTokenGuard } from './api-token.guard';
import { CallDetailSources } from './call-detail-sources';
import { CallLog } from './call-log.service';
import { CallLogWriter } from './call-log-writer';
import { CallLogRepository } from './call-record';
import { CallsController } from './calls.controller';
import { EndedCallHooks } from './ended-call-hooks';
import { RecordingLinksController } from './recording-links.controller';
import { SqlCallLogRepository } from './sql-call-log.repository';

/**
 * The durable call log, in the SQL database (DatabaseModule): written off the audio path, read
 * through the API; recordings also through signed links. Global, as the database was: the CRM
 * writes what reached it into the same records. Modules above add EndedCallHooks: what is written
 * in the same transaction as a record that ends (the webhook outbox). Features that keep call
 * facts in tables of their own (emergency pages) register them with CallDetailSources, which the
 * API joins in.
 */
@Global()
@Module({
  imports: [RecordingModule, SecurityModule, SessionModule],
  controllers: [CallsController, RecordingLinksController],
  providers: [{ provide: CallLogRepository, useClass: SqlCallLogRepository }, CallLog, CallLogWriter, ApiTokenGuard, EndedCallHooks, CallDetailSources],
  exports: [CallLogRepository, CallLog, CallLogWriter, EndedCallHooks, CallDetailSources],
})
export class CallLogModule {}
