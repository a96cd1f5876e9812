import { Injectable } from '@nestjs/common';
import { CallLog } from '../call-log/call-log.service';
import { Clock } from '../common/clock';
import { Scheduler } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import { CrmService } from '../crm/crm.port';
import { AppLogger } from '../logging/app-logger';
import { RealtimeConnector } from '../realtime/realtime-client';
import { RecordingService } from '../recording/recording.service';
import { StreamTokens } from '../security/stream-tokens';
import { ToolRegistry } from '../tools/tool-registry';
import { SessionStore } from '../session/session-store';
import { TwilioCallControl } from '../twilio/twilio-call-control';
import { CallBridge } from './call-bridge';
import { CallProfileResolver } from '../profile/call-profile.resolver';
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
    private readonly callLog: CallLog,
    private readonly recordings: RecordingService,
    private readonly tools: ToolRegistry,
    private readonly streamTokens: StreamTokens,
    private readonly scheduler: Scheduler,
    private readonly callControl: TwilioCallControl,
    private readonly profiles: CallProfileResolver,
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
      callLog: this.callLog,
      recordings: this.recordings,
      tools: this.tools,
      streamTokens: this.streamTokens,
      scheduler: this.scheduler,
      callControl: this.callControl,
      profiles: this.profiles,
    });
  }
}
