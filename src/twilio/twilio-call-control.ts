import { Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient';
import { AppConfig } from '../config/app-config';
import { AppLogger } from '../logging/app-logger';

/** Where twilio-node addresses the Voice API; rewritten to config.twilio.apiBaseUrl. */
const TWILIO_API_ORIGIN = 'https://api.twilio.com';

/** A live call waits on these requests, so a stuck API must not hold it for the library's 30 s default. */
export const TWILIO_REQUEST_TIMEOUT_MS = 10_000;

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
}

/**
 * twilio-node always builds https://api.twilio.com/... URIs and has no base-URL option (only
 * edge/region host rewriting), but it accepts a custom httpClient: this one moves the requests
 * to the configured base URL, e.g. a local fake in tests.
 */
class RebasedRequestClient extends twilio.RequestClient {
  constructor(
    private readonly baseUrl: string,
    opts: RequestClient.RequestClientOptions,
  ) {
    super(opts);
  }

  override request<TData>(opts: RequestClient.RequestOptions<TData>) {
    const uri = opts.uri === TWILIO_API_ORIGIN || opts.uri.startsWith(`${TWILIO_API_ORIGIN}/`)
      ? this.baseUrl + opts.uri.slice(TWILIO_API_ORIGIN.length)
      : opts.uri;
    return super.request({ ...opts, uri });
  }
}

type TwilioClient = ReturnType<typeof twilio>;

@Injectable()
export class TwilioRestCallControl extends TwilioCallControl {
  readonly available: boolean;
  private readonly client: TwilioClient | null;
  private readonly logger: Logger;

  constructor(config: AppConfig, appLogger: AppLogger) {
    super();
    this.logger = appLogger.child({ component: 'twilio-rest' });
    const { accountSid, authToken, apiBaseUrl } = config.twilio;
    this.available = Boolean(accountSid && authToken);
    this.client = accountSid && authToken
      ? twilio(accountSid, authToken, {
          httpClient: new RebasedRequestClient(apiBaseUrl, { timeout: TWILIO_REQUEST_TIMEOUT_MS }),
        })
      : null;
  }

  async transfer(callSid: string, toNumber: string): Promise<void> {
    const response = new twilio.twiml.VoiceResponse();
    response.dial(toNumber);
    await this.update('transfer', callSid, { twiml: response.toString() });
  }

  async hangUp(callSid: string): Promise<void> {
    await this.update('hang up', callSid, { status: 'completed' });
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
  const prefix = `Twilio ${action} of call ${callSid} failed`;
  if (error instanceof twilio.RestException) {
    const code = error.code === undefined ? '' : ` (code ${error.code})`;
    return new TwilioCallControlError(`${prefix}: HTTP ${error.status}${code}: ${error.message}`, error.status, error.code);
  }
  const message = error instanceof Error ? error.message : String(error);
  return new TwilioCallControlError(`${prefix}: ${message}`);
}
