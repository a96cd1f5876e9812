import twilio from 'twilio';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import { signedWebhookUrl, TwilioSignatureVerifier, type WebhookRequest } from './twilio-signature';

const AUTH_TOKEN = 'twilio-auth-token-0123456789';
const PARAMS = { CallSid: 'CA0123456789abcdef0123456789abcdef', From: '+15551230000', To: '+15557650000' };

const verifier = (env: Record<string, string> = {}) =>
  new TwilioSignatureVerifier(new AppConfig(validateEnvironment({ TWILIO_AUTH_TOKEN: AUTH_TOKEN, ...env })));

function webhook(originalUrl: string, headers: WebhookRequest['headers'], body: unknown = PARAMS, method = 'POST'): WebhookRequest {
  return { method, originalUrl, headers, body, protocol: 'http' };
}

describe('signedWebhookUrl', () => {
  it('is PUBLIC_BASE_URL with the path and query the service received', () => {
    const req = webhook('/twilio/voice?a=1&b=x%20y', { host: 'internal:8080' });
    expect(signedWebhookUrl('https://op.example.com', req)).toBe('https://op.example.com/twilio/voice?a=1&b=x%20y');
  });

  it('keeps the path prefix of a proxy that strips it', () => {
    expect(signedWebhookUrl('https://example.com/operator', webhook('/twilio/voice', {}))).toBe('https://example.com/operator/twilio/voice');
  });

  it('without PUBLIC_BASE_URL, uses the forwarded protocol and host, else the request’s', () => {
    const forwarded = webhook('/twilio/voice', { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'op.example.com', host: 'internal:8080' });
    expect(signedWebhookUrl(undefined, forwarded)).toBe('https://op.example.com/twilio/voice');
    expect(signedWebhookUrl(undefined, webhook('/twilio/voice', { host: 'localhost:8080' }))).toBe('http://localhost:8080/twilio/voice');
    expect(signedWebhookUrl(undefined, webhook('/twilio/voice', { host: 'bad host/"' }))).toBeNull();
  });
});

describe('TwilioSignatureVerifier', () => {
  const publicUrl = 'https://op.example.com/twilio/voice';

  it('accepts a POST signed over the public URL and its form parameters', () => {
    const signature = twilio.getExpectedTwilioSignature(AUTH_TOKEN, publicUrl, PARAMS);
    const v = verifier({ PUBLIC_BASE_URL: 'https://op.example.com' });
    expect(v.mode).toBe('enforced');
    expect(v.isSignedWebhook(webhook('/twilio/voice', { 'x-twilio-signature': signature }))).toBe(true);
  });

  it('refuses a missing signature, one over other parameters, another URL or another token', () => {
    const v = verifier({ PUBLIC_BASE_URL: 'https://op.example.com' });
    const signed = (url: string, params: Record<string, string>, token = AUTH_TOKEN) => twilio.getExpectedTwilioSignature(token, url, params);
    expect(v.isSignedWebhook(webhook('/twilio/voice', {}))).toBe(false);
    expect(v.isSignedWebhook(webhook('/twilio/voice', { 'x-twilio-signature': signed(publicUrl, { ...PARAMS, From: '+15550000000' }) }))).toBe(false);
    expect(v.isSignedWebhook(webhook('/twilio/voice', { 'x-twilio-signature': signed('https://evil.example.com/twilio/voice', PARAMS) }))).toBe(false);
    expect(v.isSignedWebhook(webhook('/twilio/voice', { 'x-twilio-signature': signed(publicUrl, PARAMS, 'another-auth-token-0123') }))).toBe(false);
  });

  it('signs a GET over the URL with its query and no parameters', () => {
    const url = `${publicUrl}?CallSid=${PARAMS.CallSid}`;
    const signature = twilio.getExpectedTwilioSignature(AUTH_TOKEN, url, {});
    const v = verifier({ PUBLIC_BASE_URL: 'https://op.example.com' });
    expect(v.isSignedWebhook(webhook(`/twilio/voice?CallSid=${PARAMS.CallSid}`, { 'x-twilio-signature': signature }, {}, 'GET'))).toBe(true);
  });

  it('accepts the upgrade signed over the wss:// stream URL, with or without a trailing slash', () => {
    const v = verifier({ PUBLIC_BASE_URL: 'https://op.example.com/base' });
    const streamUrl = 'wss://op.example.com/base/twilio/stream';
    const upgrade = (signature: string) => ({ headers: { host: 'internal:8080', 'x-twilio-signature': signature } });
    expect(v.isSignedUpgrade(upgrade(twilio.getExpectedTwilioSignature(AUTH_TOKEN, streamUrl, {})))).toBe(true);
    expect(v.isSignedUpgrade(upgrade(twilio.getExpectedTwilioSignature(AUTH_TOKEN, `${streamUrl}/`, {})))).toBe(true);
    expect(v.isSignedUpgrade(upgrade(twilio.getExpectedTwilioSignature(AUTH_TOKEN, 'https://op.example.com/base/twilio/stream', {})))).toBe(false);
    expect(v.isSignedUpgrade({ headers: { host: 'internal:8080' } })).toBe(false);
  });

  it('checks nothing when turned off or without an auth token', () => {
    expect(verifier({ TWILIO_VALIDATE_SIGNATURE: 'false' }).mode).toBe('off');
    expect(new TwilioSignatureVerifier(new AppConfig(validateEnvironment({}))).mode).toBe('no_token');
    const signature = twilio.getExpectedTwilioSignature(AUTH_TOKEN, 'http://localhost/twilio/voice', PARAMS);
    expect(verifier({ TWILIO_VALIDATE_SIGNATURE: 'false' }).isSignedWebhook(webhook('/twilio/voice', { host: 'localhost', 'x-twilio-signature': signature }))).toBe(false);
  });
});
