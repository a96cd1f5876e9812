import { Module } from '@nestjs/common';
import { CallControlModule } from './call-control/call-control.module';
import { CallLogModule } from './call-log/call-log.module';
import { CallModule } from './call/call.module';
import { ConsoleModule } from './console/console.module';
import { CommonModule } from './common/common.module';
import { AppConfigModule } from './config/config.module';
import { CrmModule } from './crm/crm.module';
import { DatabaseModule } from './database/database.module';
import { FleetModule } from './fleet/fleet.module';
import { HealthModule } from './health/health.module';
import { LoggingModule } from './logging/logging.module';
import { MetricsModule } from './metrics/metrics.module';
import { OnCallModule } from './on-call/on-call.module';
import { OutboundModule } from './outbound/outbound.module';
import { ProfileModule } from './profile/profile.module';
import { RealtimeModule } from './realtime/realtime.module';
import { SecurityModule } from './security/security.module';
import { SessionModule } from './session/session.module';
import { PhoneLineModule } from './phone-line/phone-line.module';
import { SmsModule } from './sms/sms.module';
import { WarmTransferModule } from './warm-transfer/warm-transfer.module';
import { WebhooksModule } from './webhooks/webhooks.module';

@Module({
  imports: [
    AppConfigModule,
    LoggingModule,
    CommonModule,
    MetricsModule,
    ProfileModule,
    DatabaseModule,
    CallLogModule,
    RealtimeModule,
    SessionModule,
    CrmModule,
    SecurityModule,
    CallModule,
    FleetModule,
    CallControlModule,
    OutboundModule,
    WebhooksModule,
    OnCallModule,
    SmsModule,
    WarmTransferModule,
    ConsoleModule.register(),
    PhoneLineModule,
    HealthModule,
  ],
})
export class AppModule {}
