import { Module, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Logger } from 'pino';
import { CallLogModule } from '../call-log/call-log.module';
import { CrmModule } from '../crm/crm.module';
import { AppLogger } from '../logging/app-logger';
import { RealtimeModule } from '../realtime/realtime.module';
import { RecordingModule } from '../recording/recording.module';
import { SecurityModule } from '../security/security.module';
import { ToolsModule } from '../tools/tools.module';
import { SessionJanitor } from '../session/session-janitor';
import { SessionModule } from '../session/session.module';
import { CallBridgeFactory } from './call-bridge.factory';
import { CallRegistry } from './call-registry';

@Module({
  imports: [RealtimeModule, SessionModule, CrmModule, CallLogModule, RecordingModule, ToolsModule, SecurityModule],
  providers: [CallBridgeFactory, CallRegistry],
  exports: [CallBridgeFactory, CallRegistry],
})
export class CallModule implements OnModuleInit, OnModuleDestroy {
  private readonly log: Logger;

  constructor(
    private readonly registry: CallRegistry,
    private readonly janitor: SessionJanitor,
    logger: AppLogger,
  ) {
    this.log = logger.child({ component: 'calls' });
  }

  onModuleInit(): void {
    this.janitor.onExpired((session) => this.registry.find(session.callSid)?.end('ttl_expired'));
  }

  /**
   * First step of shutdown (SIGTERM): stop taking calls, so readiness turns 503 and new calls get
   * the fallback, then end the live ones. Their records and recordings are flushed in the next
   * step (beforeApplicationShutdown), and the database closes last (onApplicationShutdown).
   */
  onModuleDestroy(): void {
    this.registry.startDraining();
    this.log.info({ activeCalls: this.registry.activeCalls }, 'shutting down: no new calls, ending the live ones');
    this.registry.endAll('shutdown');
  }
}
