import { Module } from '@nestjs/common';
import { CallModule } from '../call/call.module';
import { MediaStreamGateway } from './media-stream.gateway';
import { TwimlBuilder } from './twiml.builder';
import { VoiceController } from './voice.controller';

@Module({
  imports: [CallModule],
  controllers: [VoiceController],
  providers: [TwimlBuilder, MediaStreamGateway],
})
export class TwilioModule {}
