import { Module } from '@nestjs/common';
import { CallLogModule } from '../call-log/call-log.module';
import { CallModule } from '../call/call.module';
import { OutboundModule } from '../outbound/outbound.module';
import { SecurityModule } from '../security/security.module';
import { SessionModule } from '../session/session.module';
import { TwilioModule } from '../twilio/twilio.module';
import { MediaStreamGateway } from './media-stream.gateway';
import { OutboundCallbacksController } from './outbound-callbacks.controller';
import { VoiceController } from './voice.controller';

/** Where Twilio reaches the service: the voice webhook, the media stream endpoint, and the callbacks of outbound calls. */
@Module({
  imports: [CallModule, CallLogModule, OutboundModule, SecurityModule, SessionModule, TwilioModule],
  controllers: [VoiceController, OutboundCallbacksController],
  providers: [MediaStreamGateway],
})
export class PhoneLineModule {}
