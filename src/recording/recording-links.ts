import { Injectable } from '@nestjs/common';
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app-config';
import { AppLogger } from '../logging/app-logger';

/** What a recording link's expiry and signature say about it. */
export type RecordingLinkVerdict = 'ok' | 'expired' | 'forged';

/** Where the signing secret came from. */
export type RecordingLinkSecretSource = 'configured' | 'stream_token_secret' | 'twilio_auth_token' | 'api_token' | 'none';

/** The public path of a recording: `/recordings/<CallSid>.wav`. */
export const RECORDING_LINK_PATH = 'recordings';

// A label of its own, so the derived key differs from the secret it comes from and from the stream tokens' key.
const DERIVATION_LABEL = 'call-operator recording link v1';
const EXPIRES = /^\d{1,12}$/;
const SIGNATURE = /^[\w-]{43}$/;

/**
 * The signing key: RECORDING_LINK_SECRET, else derived from the first shared secret configured
 * (STREAM_TOKEN_SECRET, TWILIO_AUTH_TOKEN, API_TOKEN), so every instance and every restart
 * agrees. Never random: links live for days, longer than a process.
 */
export function recordingLinkSecret(config: AppConfig): { secret: Buffer | undefined; source: RecordingLinkSecretSource } {
  if (config.recordingLinks.secret) return { secret: Buffer.from(config.recordingLinks.secret, 'utf8'), source: 'configured' };
  const shared: Array<[string | undefined, RecordingLinkSecretSource]> = [
    [config.security.streamTokenSecret, 'stream_token_secret'],
    [config.twilio.authToken, 'twilio_auth_token'],
    [config.apiToken, 'api_token'],
  ];
  for (const [value, source] of shared) {
    if (value) return { secret: createHmac('sha256', value).update(DERIVATION_LABEL).digest(), source };
  }
  return { secret: undefined, source: 'none' };
}

/**
 * Links to a call's recording that anyone holding them may fetch until they expire, for the CRM
 * (HubSpot plays `hs_call_recording_url` without our API token). A link is
 * `PUBLIC_BASE_URL/recordings/<CallSid>.wav?expires=<epoch s>&signature=<HMAC-SHA256>`: nothing
 * is stored, and rotating the secret revokes every link at once.
 */
@Injectable()
export class RecordingLinks {
  readonly secretSource: RecordingLinkSecretSource;
  private readonly secret: Buffer | undefined;
  private readonly baseUrl: string | undefined;
  private readonly ttlMs: number;
  private readonly log: Logger;
  /** Why no link can be made is said once per process, not once per call. */
  private warned = false;

  constructor(
    config: AppConfig,
    private readonly clock: Clock,
    logger: AppLogger,
  ) {
    ({ secret: this.secret, source: this.secretSource } = recordingLinkSecret(config));
    this.baseUrl = config.calls.publicBaseUrl;
    this.ttlMs = config.recordingLinks.ttlMs;
    this.log = logger.child({ component: 'recording-links' });
  }

  /** The absolute link for `callSid`'s recording; undefined when links cannot be made here (logged once). */
  urlFor(callSid: string): string | undefined {
    if (!this.baseUrl || !this.secret) {
      this.warnOnce();
      return undefined;
    }
    const expires = Math.ceil((this.clock.epochMs() + this.ttlMs) / 1000);
    const query = new URLSearchParams({ expires: String(expires), signature: this.sign(this.secret, callSid, expires) });
    return `${this.baseUrl}/${RECORDING_LINK_PATH}/${encodeURIComponent(callSid)}.wav?${query.toString()}`;
  }

  /** Checks a link's query against the call it names; the signature is checked before the expiry. */
  verify(callSid: string, expires: unknown, signature: unknown): RecordingLinkVerdict {
    if (!this.secret || typeof expires !== 'string' || typeof signature !== 'string') return 'forged';
    if (!EXPIRES.test(expires) || !SIGNATURE.test(signature)) return 'forged';
    // Compared as text, not decoded: a second spelling of the same bytes is no valid link either.
    const expected = Buffer.from(this.sign(this.secret, callSid, Number(expires)), 'ascii');
    if (!timingSafeEqual(Buffer.from(signature, 'ascii'), expected)) return 'forged';
    return Number(expires) * 1000 <= this.clock.epochMs() ? 'expired' : 'ok';
  }

  private sign(secret: Buffer, callSid: string, expires: number): string {
    return createHmac('sha256', secret).update(`${callSid}.${expires}`).digest('base64url');
  }

  private warnOnce(): void {
    if (this.warned) return;
    this.warned = true;
    if (!this.baseUrl) {
      this.log.warn('PUBLIC_BASE_URL is not set: the CRM gets no recording links');
    } else {
      this.log.warn(
        'No secret to sign recording links with: the CRM gets none. Set RECORDING_LINK_SECRET ' +
          '(or STREAM_TOKEN_SECRET, TWILIO_AUTH_TOKEN or API_TOKEN, from which one is derived)',
      );
    }
  }
}
