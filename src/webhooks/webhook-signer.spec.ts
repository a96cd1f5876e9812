import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { WebhookSigner } from './webhook-signer';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;

/**
 * The manual recipe of the README, written out independently of the library: the key is the
 * base64 after whsec_, decoded; the signed content is "<webhook-id>.<webhook-timestamp>.<raw body>";
 * the header holds space-separated "v1,<base64 HMAC-SHA256>" entries; the timestamp must be recent.
 */
function verifyByHand(secret: string, headers: Record<string, string>, rawBody: string, nowSeconds: number): boolean {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  if (!id || !/^\d+$/.test(timestamp ?? '') || Math.abs(nowSeconds - Number(timestamp)) > 300) return false;
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${rawBody}`).digest();
  return (headers['webhook-signature'] ?? '').split(' ').some((entry) => {
    const [version, signature] = entry.split(',');
    const given = Buffer.from(signature ?? '', 'base64');
    return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
  });
}

describe('WebhookSigner', () => {
  const signer = new WebhookSigner(SECRET);
  const body = JSON.stringify({ type: 'call.ended', timestamp: '2026-12-01T12:00:00.000Z', data: { callSid: 'CA' + 'a'.repeat(32), note: 'naïve ☃ "quoted"' } });

  it('signs as the Standard Webhooks spec says: verified by its library', () => {
    const now = Date.now();
    const headers = signer.sign('evt_0123456789abcdef', now, body);
    expect(headers['webhook-id']).toBe('evt_0123456789abcdef');
    expect(headers['webhook-timestamp']).toBe(String(Math.floor(now / 1000)));
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(new Webhook(SECRET).verify(body, { ...headers })).toEqual(JSON.parse(body));
  });

  it('verifies with the manual recipe (node:crypto, no library)', () => {
    const now = Date.now();
    const headers = { ...signer.sign('evt_1', now, body) };
    expect(verifyByHand(SECRET, headers, body, Math.floor(now / 1000))).toBe(true);
  });

  it('fails verification when anything signed changes, or with another secret', () => {
    const now = Date.now();
    const headers = { ...signer.sign('evt_2', now, body) };
    const nowS = Math.floor(now / 1000);
    expect(verifyByHand(SECRET, headers, body.replace('12:00', '12:01'), nowS)).toBe(false);
    expect(verifyByHand(SECRET, { ...headers, 'webhook-id': 'evt_3' }, body, nowS)).toBe(false);
    expect(verifyByHand(SECRET, { ...headers, 'webhook-timestamp': String(nowS + 1) }, body, nowS)).toBe(false);
    expect(verifyByHand(`whsec_${randomBytes(32).toString('base64')}`, headers, body, nowS)).toBe(false);
    expect(() => new Webhook(SECRET).verify(body.replace('call.ended', 'call.started'), headers)).toThrow(WebhookVerificationError);
  });

  it('signs each attempt with its own timestamp; a stale one is refused by receivers', () => {
    const now = Date.now();
    const first = signer.sign('evt_4', now - 10 * 60_000, body);
    const retry = signer.sign('evt_4', now, body);
    expect(retry['webhook-signature']).not.toBe(first['webhook-signature']);
    expect(() => new Webhook(SECRET).verify(body, { ...first })).toThrow(/too old/);
    expect(() => new Webhook(SECRET).verify(body, { ...retry })).not.toThrow();
  });

  it('refuses a secret that is not whsec_', () => {
    expect(() => new WebhookSigner('plain-secret-0123456789')).toThrow(/whsec_/);
  });
});
