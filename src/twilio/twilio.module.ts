import { Module } from '@nestjs/common';
import { TwilioCallControl, TwilioRestCallControl } from './twilio-call-control';
import { TwimlBuilder } from './twiml.builder';

/** Twilio's side of things below the call: TwiML, and call control over the REST API. */
@Module({
  providers: [TwimlBuilder, { provide: TwilioCallControl, useClass: TwilioRestCallControl }],
  exports: [TwimlBuilder, TwilioCallControl],
})
export class TwilioModule {}
