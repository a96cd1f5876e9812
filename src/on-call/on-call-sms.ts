import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { createTwilioClient, describeTwilioFailure, type TwilioClient } from '../twilio/twilio-client';

/**
 * An SMS that did not go. `rejected`: Twilio answered with a client error (a bad number, an
 * unverified recipient on a trial account…): trying again will not help. `unreachable`: no answer,
 * a timeout, a 5xx or a 429: it may go if tried again.
 */
export class SmsError extends Error {
  constructor(
    message: string,
    readonly reason: 'rejected' | 'unreachable',
    /** Twilio's error code when it answered with one (21610: the recipient replied STOP). */
    readonly code?: number,
  ) {
    super(message);
    this.name = 'SmsError';
  }
}

/** Sends texts (pages, callers' confirmations) through Twilio Messaging (Messages.json create) from SMS_FROM_NUMBER. */
@Injectable()
export class OnCallSms {
  private readonly client: TwilioClient | null;
  private readonly from: string | undefined;

  constructor(config: AppConfig) {
    this.client = createTwilioClient(config);
    this.from = config.onCall.smsFrom;
  }

  /** Why no SMS can be sent with this configuration, or null when they can. */
  get unavailableReason(): string | null {
    const missing = [this.client ? null : 'TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN', this.from ? null : 'SMS_FROM_NUMBER'].filter((m): m is string => m !== null);
    return missing.length ? `texts need ${missing.join(' and ')}` : null;
  }

  /**
   * The message's SID (SM…) once Twilio has taken it; rejects with SmsError. `statusCallback`: where
   * Twilio reports its delivery.
   */
  async send(to: string, body: string, statusCallback?: string): Promise<string> {
    if (!this.client || !this.from) throw new SmsError(`Cannot send an SMS: ${this.unavailableReason}`, 'rejected');
    try {
      const message = await this.client.messages.create({ to, from: this.from, body, ...(statusCallback ? { statusCallback } : {}) });
      return message.sid;
    } catch (error) {
      // Only the derived fields: the raw error (an axios error) carries the Authorization header.
      const failure = describeTwilioFailure('Twilio did not take the SMS', error);
      const retryable = failure.status === undefined || failure.status >= 500 || failure.status === 429;
      throw new SmsError(failure.message, retryable ? 'unreachable' : 'rejected', failure.code);
    }
  }
}
