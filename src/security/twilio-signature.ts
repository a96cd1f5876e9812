import { Injectable } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import twilio from 'twilio';
import { AppConfig } from '../config/app-config';
import { firstHeaderValue, requestHost, streamUrl } from '../twilio/twiml.builder';

type Headers = IncomingMessage['headers'];

/** Whether Twilio signatures are checked: 'off' by TWILIO_VALIDATE_SIGNATURE=false, 'no_token' without TWILIO_AUTH_TOKEN. */
export type SignatureMode = 'enforced' | 'off' | 'no_token';

/** What a webhook request looks like to the verifier (an Express request satisfies it). */
export interface WebhookRequest {
  readonly method: string;
  readonly originalUrl: string;
  readonly headers: Headers;
  readonly body?: unknown;
  /** http or https as this service received it. */
  readonly protocol: string;
}


/**
 * The URL Twilio signed for a webhook: what Twilio requested, scheme through query string.
 * PUBLIC_BASE_URL (with any path prefix a proxy strips) + the path and query this service saw;
 * without it, the forwarded or Host header as for the stream URL. Null when no host can be trusted.
 */
export function signedWebhookUrl(publicBaseUrl: string | undefined, req: Pick<WebhookRequest, 'originalUrl' | 'headers' | 'protocol'>): string | null {
  if (publicBaseUrl) return `${publicBaseUrl.replace(/\/+$/, '')}${req.originalUrl}`;
  const host = requestHost(req.headers);
  if (!host) return null;
  const forwardedProto = firstHeaderValue(req.headers['x-forwarded-proto']);
  const scheme = forwardedProto === 'https' || forwardedProto === 'http' ? forwardedProto : req.protocol;
  return `${scheme}://${host}${req.originalUrl}`;
}

/** Checks X-Twilio-Signature on webhooks and on the media stream's WebSocket upgrade. */
@Injectable()
export class TwilioSignatureVerifier {
  readonly mode: SignatureMode;
  private readonly authToken: string;
  private readonly publicBaseUrl: string | undefined;
  /** One HMAC per request, though both the rate limiter and the guard ask. */
  private readonly verdicts = new WeakMap<object, boolean>();

  constructor(config: AppConfig) {
    this.authToken = config.twilio.authToken ?? '';
    this.publicBaseUrl = config.calls.publicBaseUrl;
    this.mode = !config.security.validateTwilioSignature ? 'off' : this.authToken ? 'enforced' : 'no_token';
  }

  get enforced(): boolean {
    return this.mode === 'enforced';
  }

  /** True when the request carries a valid signature. Form parameters of a POST are signed too. */
  isSignedWebhook(req: WebhookRequest): boolean {
    let verdict = this.verdicts.get(req);
    if (verdict === undefined) {
      const signature = firstHeaderValue(req.headers['x-twilio-signature']);
      const url = signedWebhookUrl(this.publicBaseUrl, req);
      const params = req.method === 'POST' && typeof req.body === 'object' && req.body !== null ? (req.body as Record<string, unknown>) : {};
      verdict = Boolean(this.enforced && signature && url && twilio.validateRequest(this.authToken, signature, url, params));
      this.verdicts.set(req, verdict);
    }
    return verdict;
  }

  /**
   * True when the upgrade carries a valid signature. Twilio signs the wss:// URL exactly as the
   * TwiML gave it, with no parameters; its docs say to accept it with a trailing slash too.
   */
  isSignedUpgrade(req: Pick<IncomingMessage, 'headers'>): boolean {
    const signature = firstHeaderValue(req.headers['x-twilio-signature']);
    const url = streamUrl(this.publicBaseUrl, req.headers);
    if (!this.enforced || !signature || !url) return false;
    return twilio.validateRequest(this.authToken, signature, url, {}) || twilio.validateRequest(this.authToken, signature, `${url}/`, {});
  }
}
