import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';

const security = (env: Record<string, string>) => new AppConfig(validateEnvironment(env)).security;

describe('security configuration', () => {
  it('checks signatures and trusts no proxy by default', () => {
    expect(security({})).toMatchObject({
      validateTwilioSignature: true,
      streamTokenTtlMs: 60_000,
      trustProxy: false,
      rateLimits: { twilioUnsignedPerMinute: 30, apiPerMinute: 120, apiAuthFailuresPerMinute: 5 },
    });
  });

  it.each([
    ['true', true],
    ['false', false],
    ['1', 1],
    ['loopback', 'loopback'],
    ['10.0.0.0/8, 192.168.1.1', '10.0.0.0/8, 192.168.1.1'],
  ])('reads TRUST_PROXY=%s as express expects it', (value, expected) => {
    expect(security({ TRUST_PROXY: value }).trustProxy).toEqual(expected);
  });

  it.each([
    [{ TRUST_PROXY: 'yes please' }, 'TRUST_PROXY'],
    [{ STREAM_TOKEN_SECRET: 'short' }, 'STREAM_TOKEN_SECRET'],
    [{ STREAM_TOKEN_TTL_SECONDS: '1' }, 'STREAM_TOKEN_TTL_SECONDS'],
    [{ RATE_LIMIT_API_PER_MINUTE: '0' }, 'RATE_LIMIT_API_PER_MINUTE'],
    [{ TWILIO_VALIDATE_SIGNATURE: 'perhaps' }, 'TWILIO_VALIDATE_SIGNATURE'],
  ])('rejects %j naming %s', (env, variable) => {
    expect(() => validateEnvironment(env)).toThrow(new RegExp(`^Invalid configuration:[\\s\\S]*\\b${variable}:`));
  });

  it('never echoes a bad STREAM_TOKEN_SECRET', () => {
    expect(() => validateEnvironment({ STREAM_TOKEN_SECRET: 'short-secret' })).toThrow(/STREAM_TOKEN_SECRET: .*\(got \[redacted\]\)/);
  });
});
