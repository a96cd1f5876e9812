import { Module, type OnModuleInit } from '@nestjs/common';
import { CallDetailSources } from '../call-log/call-detail-sources';
import { CallLogModule } from '../call-log/call-log.module';
import { JobsModule } from '../jobs/jobs.module';
import { SecurityModule } from '../security/security.module';
import { EmergencyAlerts } from './emergency-alerts';
import { OnCallPager } from './on-call-pager';
import { OnCallReplies } from './on-call-replies';
import { OnCallRotas } from './on-call-rotas';
import { OnCallSms } from './on-call-sms';
import { OnCallController } from './on-call.controller';
import { PagingStore, SqlPagingStore } from './paging-store';
import { RotaStore, SqlRotaStore } from './rota-store';

/**
 * On call and emergencies: the rota (default from ON_CALL_ROTA or ON_CALL_ROTA_FILE, edited through
 * /api/on-call), the emergencies the job request tool raises (EmergencyAlerts), their paging by SMS
 * on the durable queue (OnCallPager), and the staff's YES/NO replies (OnCallReplies, reached through
 * the SMS webhook). Every emergency's pages and answers are joined into its call record
 * (`details.paging`).
 */
@Module({
  imports: [CallLogModule, JobsModule, SecurityModule],
  controllers: [OnCallController],
  providers: [
    OnCallRotas,
    OnCallSms,
    OnCallPager,
    EmergencyAlerts,
    OnCallReplies,
    { provide: RotaStore, useClass: SqlRotaStore },
    { provide: PagingStore, useClass: SqlPagingStore },
  ],
  exports: [EmergencyAlerts, OnCallReplies, OnCallRotas, PagingStore, OnCallSms, OnCallPager],
})
export class OnCallModule implements OnModuleInit {
  constructor(
    private readonly details: CallDetailSources,
    private readonly paging: PagingStore,
  ) {}

  onModuleInit(): void {
    this.details.register('paging', (callSids) => this.paging.forCalls(callSids));
  }
}
