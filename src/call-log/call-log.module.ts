import { Module } from '@nestjs/common';
import { RecordingModule } from '../recording/recording.module';
import { SecurityModule } from '../security/security.module';
import { ApiTokenGuard } from './api-token.guard';
import { CallLog } from './call-log.service';
import { CallLogWriter } from './call-log-writer';
import { CallsController } from './calls.controller';
import { RecordingLinksController } from './recording-links.controller';

/** The durable call log: written off the audio path, read through the API; recordings also through signed links. */
@Module({
  imports: [RecordingModule, SecurityModule],
  controllers: [CallsController, RecordingLinksController],
  providers: [CallLog, CallLogWriter, ApiTokenGuard],
  exports: [CallLog, CallLogWriter],
})
export class CallLogModule {}
