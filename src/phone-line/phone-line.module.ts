import { Module } from '@nestjs/common';
import { CallLogModule } from '../call-log/call-log.module';
import { CallModule } from '../call/call.module';
import { OnCallModule } from '../on-call/on-call.module';
import { OutboundModule } from '../outbound/outbound.module';
import { SecurityModule } from '../security/security.module';
import { SessionModule } from '../session/session.module';
import { SmsModule } from '../sms/sms.module';
import { TwilioModule } from '../twilio/twilio.module';
import { InboundSmsController } from './inbound-sms.controller';
import { MediaStreamGateway } from './media-stream.gateway';
import { OutboundCallbacksController } from './outbound-callbacks.controller';
import { VoiceController } from './voice.controller';

/** Where Twilio reaches the service: the voice webhook, the media stream endpoint, the callbacks of outbound calls, and inbound SMS. */
@Module({
  imports: [CallModule, CallLogModule, OnCallModule, OutboundModule, SecurityModule, SessionModule, SmsModule, TwilioModule],
  controllers: [VoiceController, OutboundCallbacksController, InboundSmsController],
  providers: [MediaStreamGateway],
})
export class PhoneLineModule {}
