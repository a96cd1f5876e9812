import { Module, type OnModuleDestroy } from '@nestjs/common';
import { CallLogModule } from '../call-log/call-log.module';
import { CrmModule } from '../crm/crm.module';
import { OutboundModule } from '../outbound/outbound.module';
import { RealtimeModule } from '../realtime/realtime.module';
import { RecordingModule } from '../recording/recording.module';
import { SessionModule } from '../session/session.module';
import { SummaryModule } from '../summary/summary.module';
import { ToolsModule } from '../tools/tools.module';
import { TwilioModule } from '../twilio/twilio.module';
import { CallDrain } from './call-drain';
import { CallFactory } from './call-factory';
import { CallRecordsFactory } from './call-records';
import { CallRegistry } from './call-registry';

@Module({
  imports: [RealtimeModule, SessionModule, CrmModule, CallLogModule, OutboundModule, RecordingModule, SummaryModule, ToolsModule, TwilioModule],
  providers: [CallFactory, CallRecordsFactory, CallRegistry, CallDrain],
  exports: [CallFactory, CallRegistry],
})
export class CallModule implements OnModuleDestroy {
  constructor(private readonly drain: CallDrain) {}

  /**
   * First step of shutdown (SIGTERM): stop taking calls, so readiness turns 503 and new calls get
   * the fallback, and drain the live ones (CallDrain). This module is destroyed before the ones it
   * imports, so the CRM queue still works meanwhile, and the summaries of the calls it ends are
   * made or given up when SummaryModule is destroyed next; records and recordings are flushed in the
   * next step (beforeApplicationShutdown), and the database closes last (onApplicationShutdown).
   */
  onModuleDestroy(): Promise<void> {
    return this.drain.run();
  }
}
