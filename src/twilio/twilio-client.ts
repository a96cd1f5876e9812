import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient';
import { AppConfig } from '../config/app-config';

/** Where twilio-node addresses the Voice API; rewritten to config.twilio.apiBaseUrl. */
const TWILIO_API_ORIGIN = 'https://api.twilio.com';

/** A live call waits on these requests, so a stuck API must not hold it for the library's 30 s default. */
export const TWILIO_REQUEST_TIMEOUT_MS = 10_000;

export type TwilioClient = ReturnType<typeof twilio>;

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

/** The REST client for TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN at TWILIO_API_BASE_URL; null without credentials. */
export function createTwilioClient(config: AppConfig): TwilioClient | null {
  const { accountSid, authToken, apiBaseUrl } = config.twilio;
  if (!accountSid || !authToken) return null;
  return twilio(accountSid, authToken, {
    httpClient: new RebasedRequestClient(apiBaseUrl, { timeout: TWILIO_REQUEST_TIMEOUT_MS }),
  });
}

/** What a failed REST request came to: Twilio's HTTP status and error code when it answered at all. */
export interface TwilioFailure {
  readonly message: string;
  readonly status?: number;
  readonly code?: number;
}

/**
 * Reads a twilio-node error down to its message, status and code. Only these derived fields may be
 * logged: the raw error (an axios error) carries the request's Authorization header.
 */
export function describeTwilioFailure(prefix: string, error: unknown): TwilioFailure {
  if (error instanceof twilio.RestException) {
    const code = error.code === undefined ? '' : ` (code ${error.code})`;
    return { message: `${prefix}: HTTP ${error.status}${code}: ${error.message}`, status: error.status, code: error.code };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { message: `${prefix}: ${message}` };
}
