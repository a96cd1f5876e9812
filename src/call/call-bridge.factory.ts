import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app-config';
import { CrmService } from '../crm/crm.port';
import { AppLogger } from '../logging/app-logger';
import { RealtimeConnector } from '../realtime/realtime-client';
import { SessionStore } from '../session/session-store';
import { CallBridge } from './call-bridge';
import { CallRegistry } from './call-registry';

/**
 * Makes one CallBridge per Media Stream connection, wired with the injected services.
 * Synchronous on purpose: the bridge must listen on the socket before its first frame arrives.
 */
@Injectable()
export class CallBridgeFactory {
  constructor(
    private readonly config: AppConfig,
    private readonly realtime: RealtimeConnector,
    private readonly sessions: SessionStore,
    private readonly crm: CrmService,
    private readonly clock: Clock,
    private readonly logger: AppLogger,
    private readonly registry: CallRegistry,
  ) {}

  create(): CallBridge {
    return new CallBridge({
      config: this.config,
      realtime: this.realtime,
      sessions: this.sessions,
      crm: this.crm,
      clock: this.clock,
      logger: this.logger,
      registry: this.registry,
    });
  }
}
