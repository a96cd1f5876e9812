import { Module } from '@nestjs/common';
import { TwilioCallControl, TwilioRestCallControl } from './twilio-call-control';
import { TwilioDialer } from './twilio-dialer';
import { TwimlBuilder } from './twiml.builder';

/** Twilio's side of things below the call: TwiML, call control and outbound dialling over the REST API. */
@Module({
  providers: [TwimlBuilder, { provide: TwilioCallControl, useClass: TwilioRestCallControl }, TwilioDialer],
  exports: [TwimlBuilder, TwilioCallControl, TwilioDialer],
})
export class TwilioModule {}
