import { Module } from '@nestjs/common';
import { CallLogModule } from '../call-log/call-log.module';
import { CallModule } from '../call/call.module';
import { SecurityModule } from '../security/security.module';
import { MediaStreamGateway } from './media-stream.gateway';
import { TwimlBuilder } from './twiml.builder';
import { VoiceController } from './voice.controller';

@Module({
  imports: [CallModule, CallLogModule, SecurityModule],
  controllers: [VoiceController],
  providers: [TwimlBuilder, MediaStreamGateway],
})
export class TwilioModule {}
