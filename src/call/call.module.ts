import { Module, type BeforeApplicationShutdown, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { CrmModule } from '../crm/crm.module';
import { RealtimeModule } from '../realtime/realtime.module';
import { SessionJanitor } from '../session/session-janitor';
import { SessionModule } from '../session/session.module';
import { CallBridgeFactory } from './call-bridge.factory';
import { CallRegistry } from './call-registry';

@Module({
  imports: [RealtimeModule, SessionModule, CrmModule],
  providers: [CallBridgeFactory, CallRegistry],
  exports: [CallBridgeFactory, CallRegistry],
})
export class CallModule implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown {
  constructor(
    private readonly registry: CallRegistry,
    private readonly janitor: SessionJanitor,
  ) {}

  onModuleInit(): void {
    this.janitor.onExpired((session) => this.registry.find(session.callSid)?.end('ttl_expired'));
  }

  /** On SIGTERM: readiness turns 503 and new calls get the fallback at once. */
  beforeApplicationShutdown(): void {
    this.registry.startDraining();
  }

  onApplicationShutdown(): void {
    this.registry.endAll('shutdown');
  }
}
