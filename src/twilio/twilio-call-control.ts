import { Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import twilio from 'twilio';
import { AppConfig } from '../config/app-config';
import { AppLogger } from '../logging/app-logger';
import { createTwilioClient, describeTwilioFailure, type TwilioClient } from './twilio-client';

/** A failed call-control request; `status`/`code` are Twilio's when it answered at all. */
export class TwilioCallControlError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly code?: number,
  ) {
    super(message);
    this.name = 'TwilioCallControlError';
  }
}

/** Controls a live call through Twilio's REST API (PROTOCOLS A5). The DI token for call code. */
export abstract class TwilioCallControl {
  /** False when REST credentials are not configured; the methods then reject without a request. */
  abstract readonly available: boolean;
  /** Replaces the call's TwiML with <Dial>toNumber</Dial>, which also ends the media stream. */
  abstract transfer(callSid: string, toNumber: string): Promise<void>;
  /** Ends the call. */
  abstract hangUp(callSid: string): Promise<void>;
  /** Replaces the call's TwiML with <Say>text</Say><Hangup/> (Twilio's text-to-speech), which also ends the media stream. */
  abstract sayAndHangUp(callSid: string, text: string): Promise<void>;
}

@Injectable()
export class TwilioRestCallControl extends TwilioCallControl {
  readonly available: boolean;
  private readonly client: TwilioClient | null;
  private readonly logger: Logger;

  constructor(config: AppConfig, appLogger: AppLogger) {
    super();
    this.logger = appLogger.child({ component: 'twilio-rest' });
    this.client = createTwilioClient(config);
    this.available = this.client !== null;
  }

  async transfer(callSid: string, toNumber: string): Promise<void> {
    const response = new twilio.twiml.VoiceResponse();
    response.dial(toNumber);
    await this.update('transfer', callSid, { twiml: response.toString() });
  }

  async hangUp(callSid: string): Promise<void> {
    await this.update('hang up', callSid, { status: 'completed' });
  }

  async sayAndHangUp(callSid: string, text: string): Promise<void> {
    const response = new twilio.twiml.VoiceResponse();
    response.say(text);
    response.hangup();
    await this.update('say and hang up', callSid, { twiml: response.toString() });
  }

  private async update(action: string, callSid: string, params: { twiml: string } | { status: 'completed' }): Promise<void> {
    if (!this.client) {
      throw new TwilioCallControlError(
        `Cannot ${action} call ${callSid}: Twilio REST credentials (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN) are not configured`,
      );
    }
    this.logger.info({ callSid, action }, 'twilio call update');
    try {
      await this.client.calls(callSid).update(params);
    } catch (error) {
      const failure = describeFailure(action, callSid, error);
      // Only the derived fields: the raw error (an axios error) carries the Authorization header.
      this.logger.warn({ callSid, action, status: failure.status, code: failure.code, err: failure.message }, 'twilio call update failed');
      throw failure;
    }
    this.logger.info({ callSid, action }, 'twilio call updated');
  }
}

function describeFailure(action: string, callSid: string, error: unknown): TwilioCallControlError {
  const { message, status, code } = describeTwilioFailure(`Twilio ${action} of call ${callSid} failed`, error);
  return new TwilioCallControlError(message, status, code);
}
