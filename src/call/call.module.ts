import { Module, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { CallLogModule } from '../call-log/call-log.module';
import { CrmModule } from '../crm/crm.module';
import { RealtimeModule } from '../realtime/realtime.module';
import { RecordingModule } from '../recording/recording.module';
import { SecurityModule } from '../security/security.module';
import { ToolsModule } from '../tools/tools.module';
import { SessionJanitor } from '../session/session-janitor';
import { SessionModule } from '../session/session.module';
import { CallBridgeFactory } from './call-bridge.factory';
import { CallDrain } from './call-drain';
import { CallRegistry } from './call-registry';

@Module({
  imports: [RealtimeModule, SessionModule, CrmModule, CallLogModule, RecordingModule, ToolsModule, SecurityModule],
  providers: [CallBridgeFactory, CallRegistry, CallDrain],
  exports: [CallBridgeFactory, CallRegistry],
})
export class CallModule implements OnModuleInit, OnModuleDestroy {
  constructor(
    private readonly registry: CallRegistry,
    private readonly janitor: SessionJanitor,
    private readonly drain: CallDrain,
  ) {}

  onModuleInit(): void {
    this.janitor.onExpired((session) => this.registry.find(session.callSid)?.end('ttl_expired'));
  }

  /**
   * First step of shutdown (SIGTERM): stop taking calls, so readiness turns 503 and new calls get
   * the fallback, and drain the live ones (CallDrain). This module is destroyed before the ones it
   * imports, so the CRM queue and the session janitor still work meanwhile; records and
   * recordings are flushed in the next step (beforeApplicationShutdown), and the database closes
   * last (onApplicationShutdown).
   */
  onModuleDestroy(): Promise<void> {
    return this.drain.run();
  }
}
