import { Module } from '@nestjs/common';
import { CallLogModule } from '../call-log/call-log.module';
import { OnCallModule } from '../on-call/on-call.module';
import { SecurityModule } from '../security/security.module';
import { SummaryModule } from '../summary/summary.module';
import { CallerReplies } from './caller-replies';
import { SmsConfirmationStore } from './confirmation-store';
import { SmsConfirmations } from './sms-confirmations';
import { SmsController } from './sms.controller';
import { SmsOptOuts, SqlSmsOptOuts } from './sms-opt-outs';

/**
 * Texts to callers: the confirmation of a saved job request when the call ends (SmsConfirmations,
 * SMS_CONFIRMATIONS), the opt-out list (STOP, START) and HELP (CallerReplies, reached through the SMS
 * webhook), GET /api/sms/opt-outs. Each confirmation is joined into its call record as
 * `details.smsConfirmation`.
 */
@Module({
  imports: [CallLogModule, OnCallModule, SecurityModule, SummaryModule],
  controllers: [SmsController],
  providers: [SmsConfirmationStore, SmsConfirmations, CallerReplies, { provide: SmsOptOuts, useClass: SqlSmsOptOuts }],
  exports: [CallerReplies, SmsOptOuts],
})
export class SmsModule {}
