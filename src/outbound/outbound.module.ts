import { Module } from '@nestjs/common';
import { CallLogModule } from '../call-log/call-log.module';
import { SecurityModule } from '../security/security.module';
import { AutomaticCallbacks } from './automatic-callbacks';
import { DoNotCallController } from './dnc.controller';
import { DoNotCallList, SqlDoNotCallList } from './do-not-call';
import { OutboundCalls } from './outbound-calls.service';
import { OutboundRequests } from './outbound-request';
import { OutboundController } from './outbound.controller';
import { SqlOutboundRequests } from './sql-outbound-requests';

/** Outbound calls: requests through the API, the do-not-call list. */
@Module({
  imports: [CallLogModule, SecurityModule],
  controllers: [OutboundController, DoNotCallController],
  providers: [OutboundCalls, AutomaticCallbacks, { provide: OutboundRequests, useClass: SqlOutboundRequests }, { provide: DoNotCallList, useClass: SqlDoNotCallList }],
  exports: [OutboundRequests, DoNotCallList, AutomaticCallbacks],
})
export class OutboundModule {}
