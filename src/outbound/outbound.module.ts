import { Module } from '@nestjs/common';
import { CallLogModule } from '../call-log/call-log.module';
import { SecurityModule } from '../security/security.module';
import { AutomaticCallbacks } from './automatic-callbacks';
import { DoNotCallController } from './dnc.controller';
import { DoNotCallList, SqlDoNotCallList } from './do-not-call';
import { AttemptOutcomes, OutboundAttempts, RecordedOnlyAttemptOutcomes } from './outbound-attempts';
import { OutboundCalls } from './outbound-calls.service';
import { OutboundRequests } from './outbound-request';
import { OutboundController } from './outbound.controller';
import { SqlOutboundAttempts } from './sql-outbound-attempts';
import { SqlOutboundRequests } from './sql-outbound-requests';

/**
 * Outbound calls: requests through the API, the do-not-call list, the attempts and what they came
 * to. AttemptOutcomes is bound to RecordedOnlyAttemptOutcomes until the dialer worker, which
 * schedules retries, replaces the binding.
 */
@Module({
  imports: [CallLogModule, SecurityModule],
  controllers: [OutboundController, DoNotCallController],
  providers: [
    OutboundCalls,
    AutomaticCallbacks,
    { provide: OutboundRequests, useClass: SqlOutboundRequests },
    { provide: DoNotCallList, useClass: SqlDoNotCallList },
    { provide: OutboundAttempts, useClass: SqlOutboundAttempts },
    { provide: AttemptOutcomes, useClass: RecordedOnlyAttemptOutcomes },
  ],
  exports: [OutboundRequests, DoNotCallList, OutboundAttempts, AttemptOutcomes, AutomaticCallbacks],
})
export class OutboundModule {}
