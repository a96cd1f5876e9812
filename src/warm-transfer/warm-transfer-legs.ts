import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { createTwilioClient, describeTwilioFailure, type TwilioClient } from '../twilio/twilio-client';

export interface DialLeg {
  readonly to: string;
  readonly from: string;
  /** The whisper webhook. */
  readonly url: string;
  readonly statusCallback: string;
  readonly timeoutSeconds: number;
}

/** The REST requests of a warm transfer: dial the on-call person, end that leg, move the caller into the conference. */
export abstract class WarmTransferLegs {
  abstract readonly available: boolean;
  /** Places the call to the on-call person; resolves with its SID. */
  abstract dial(leg: DialLeg): Promise<string>;
  /** Ends a leg: cancels it while it rings, hangs it up once answered. */
  abstract end(callSid: string, answered: boolean): Promise<void>;
  /** Replaces a live call's TwiML (the caller's: this ends its media stream). */
  abstract redirect(callSid: string, twiml: string): Promise<void>;
}

@Injectable()
export class TwilioWarmTransferLegs extends WarmTransferLegs {
  readonly available: boolean;
  private readonly client: TwilioClient | null;

  constructor(config: AppConfig) {
    super();
    this.client = createTwilioClient(config);
    this.available = this.client !== null;
  }

  async dial(leg: DialLeg): Promise<string> {
    const call = await this.request('dial the on-call person', (client) =>
      client.calls.create({
        to: leg.to,
        from: leg.from,
        url: leg.url,
        method: 'POST',
        statusCallback: leg.statusCallback,
        statusCallbackMethod: 'POST',
        statusCallbackEvent: ['completed'],
        timeout: leg.timeoutSeconds,
      }),
    );
    return call.sid;
  }

  async end(callSid: string, answered: boolean): Promise<void> {
    await this.request('end the on-call leg', (client) => client.calls(callSid).update({ status: answered ? 'completed' : 'canceled' }));
  }

  async redirect(callSid: string, twiml: string): Promise<void> {
    await this.request('bridge the caller', (client) => client.calls(callSid).update({ twiml }));
  }

  private async request<T>(action: string, run: (client: TwilioClient) => Promise<T>): Promise<T> {
    if (!this.client) throw new Error(`Cannot ${action}: Twilio REST credentials are not configured`);
    try {
      return await run(this.client);
    } catch (error) {
      // Only the derived message: the raw error carries the Authorization header.
      throw new Error(describeTwilioFailure(`Twilio: cannot ${action}`, error).message, { cause: error });
    }
  }
}
