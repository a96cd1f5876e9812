import { Webhook } from 'standardwebhooks';

/** The Standard Webhooks headers every delivery attempt carries. */
export interface WebhookHeaders {
  /** The event's id: the same on every attempt and to every URL, for the receiver to deduplicate by. */
  readonly 'webhook-id': string;
  /** When this attempt was signed, in epoch seconds. */
  readonly 'webhook-timestamp': string;
  /** `v1,` and the base64 HMAC-SHA256, keyed with the secret's decoded bytes, of `<id>.<timestamp>.<body>`. */
  readonly 'webhook-signature': string;
}

/**
 * Signs deliveries as the Standard Webhooks specification says (https://www.standardwebhooks.com),
 * with its reference library, so that any Standard Webhooks library verifies them. The secret is
 * `whsec_` and base64; the key is its decoded bytes. Each attempt is signed anew with its own
 * timestamp, over the same body.
 */
export class WebhookSigner {
  private readonly webhook: Webhook;

  constructor(secret: string) {
    if (!secret.startsWith('whsec_')) throw new Error('a webhook secret starts with whsec_');
    this.webhook = new Webhook(secret);
  }

  sign(eventId: string, atMs: number, body: string): WebhookHeaders {
    const timestamp = new Date(Math.floor(atMs / 1000) * 1000);
    return {
      'webhook-id': eventId,
      'webhook-timestamp': String(timestamp.getTime() / 1000),
      'webhook-signature': this.webhook.sign(eventId, timestamp, body),
    };
  }
}
