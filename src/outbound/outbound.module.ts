import { Module } from '@nestjs/common';
import { CallLogModule } from '../call-log/call-log.module';
import { CalleeLocator, LibphonenumberCalleeLocator } from '../calling-rules/callee-location';
import { JobsModule } from '../jobs/jobs.module';
import { SecurityModule } from '../security/security.module';
import { TwilioModule } from '../twilio/twilio.module';
import { AnsweringMachines } from './answering-machine';
import { AttemptProgress } from './attempt-progress';
import { AutomaticCallbacks } from './automatic-callbacks';
import { DoNotCallController } from './dnc.controller';
import { DoNotCallList, SqlDoNotCallList } from './do-not-call';
import { AttemptOutcomes, OutboundAttempts } from './outbound-attempts';
import { OutboundCalls } from './outbound-calls.service';
import { OutboundDialer } from './outbound-dialer';
import { OutboundReconciler } from './outbound-reconciler';
import { OutboundRequests } from './outbound-request';
import { OutboundController } from './outbound.controller';
import { OverdueAttempts, SqlOverdueAttempts } from './overdue-attempts';
import { SqlOutboundAttempts } from './sql-outbound-attempts';
import { SqlOutboundRequests } from './sql-outbound-requests';

/**
 * Outbound calls: requests through the API, the do-not-call list, the dialer that works them on
 * the durable queue, what each attempt came to (the dialer hears it as AttemptOutcomes), from
 * Twilio's callbacks or, when the final one never arrived, from Twilio's record of the call, and
 * what is done when an answering machine picks up.
 */
@Module({
  imports: [CallLogModule, JobsModule, SecurityModule, TwilioModule],
  controllers: [OutboundController, DoNotCallController],
  providers: [
    OutboundCalls,
    AutomaticCallbacks,
    OutboundDialer,
    AnsweringMachines,
    { provide: AttemptOutcomes, useExisting: OutboundDialer },
    AttemptProgress,
    OutboundReconciler,
    { provide: OverdueAttempts, useClass: SqlOverdueAttempts },
    { provide: CalleeLocator, useClass: LibphonenumberCalleeLocator },
    { provide: OutboundRequests, useClass: SqlOutboundRequests },
    { provide: DoNotCallList, useClass: SqlDoNotCallList },
    { provide: OutboundAttempts, useClass: SqlOutboundAttempts },
  ],
  exports: [OutboundRequests, DoNotCallList, OutboundAttempts, AttemptOutcomes, AttemptProgress, AutomaticCallbacks, AnsweringMachines],
})
export class OutboundModule {}
