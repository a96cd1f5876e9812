import { Module } from '@nestjs/common';
import { CallControlModule } from '../call-control/call-control.module';
import { CallLogModule } from '../call-log/call-log.module';
import { CallModule } from '../call/call.module';
import { OnCallModule } from '../on-call/on-call.module';
import { OutboundModule } from '../outbound/outbound.module';
import { SecurityModule } from '../security/security.module';
import { SessionModule } from '../session/session.module';
import { SmsModule } from '../sms/sms.module';
import { TwilioModule } from '../twilio/twilio.module';
import { WarmTransferModule } from '../warm-transfer/warm-transfer.module';
import { InboundSmsController } from './inbound-sms.controller';
import { MediaStreamGateway } from './media-stream.gateway';
import { OutboundCallbacksController } from './outbound-callbacks.controller';
import { VoiceController } from './voice.controller';
import { WarmTransferCallbacksController } from './warm-transfer-callbacks.controller';

/**
 * Where Twilio reaches the service: the voice webhook, the media stream endpoint, the callbacks of
 * outbound calls, inbound SMS and message status, and the on-call leg of warm transfers.
 */
@Module({
  imports: [CallControlModule, CallModule, CallLogModule, OnCallModule, OutboundModule, SecurityModule, SessionModule, SmsModule, TwilioModule, WarmTransferModule],
  controllers: [VoiceController, OutboundCallbacksController, InboundSmsController, WarmTransferCallbacksController],
  providers: [MediaStreamGateway],
})
export class PhoneLineModule {}
