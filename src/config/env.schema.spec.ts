import { AppConfig } from './app-config';
import { validateEnvironment } from './env.schema';

describe('validateEnvironment', () => {
  it('boots on defaults with nothing set', () => {
    const env = validateEnvironment({});
    expect(env).toMatchObject({
      PORT: 8080,
      OPENAI_REALTIME_URL: 'wss://api.openai.com/v1/realtime',
      OPENAI_REALTIME_MODEL: 'gpt-realtime',
      OPENAI_VOICE: 'alloy',
      OPERATOR_COMPANY_NAME: 'Call Operator Pro Plumbing',
      SESSION_TTL_MINUTES: 30,
      HUBSPOT_ENABLED: false,
    });
    expect(env.OPENAI_API_KEY).toBeUndefined();
  });

  it('converts numbers and booleans from strings', () => {
    const env = validateEnvironment({ PORT: '9000', MAX_CONCURRENT_CALLS: '12', HUBSPOT_ENABLED: 'true', HUBSPOT_ACCESS_TOKEN: 'pat-na1-0123456789' });
    expect(env.PORT).toBe(9000);
    expect(env.MAX_CONCURRENT_CALLS).toBe(12);
    expect(env.HUBSPOT_ENABLED).toBe(true);
  });

  it('serves /metrics on PORT unless METRICS_PORT is set', () => {
    expect(new AppConfig(validateEnvironment({ METRICS_PORT: '' })).metricsPort).toBeUndefined();
    expect(new AppConfig(validateEnvironment({ METRICS_PORT: '9464' })).metricsPort).toBe(9464);
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ OPENAI_REALTIME_URL: 'https://api.openai.com/v1/realtime' }, 'OPENAI_REALTIME_URL'],
    [{ OPENAI_REALTIME_API: 'v2' }, 'OPENAI_REALTIME_API'],
    [{ SESSION_TTL_MINUTES: '0' }, 'SESSION_TTL_MINUTES'],
    [{ FALLBACK_PHONE_NUMBER: '555-1234' }, 'FALLBACK_PHONE_NUMBER'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ HUBSPOT_ENABLED: 'maybe' }, 'HUBSPOT_ENABLED'],
    [{ HUBSPOT_ENABLED: 'true' }, 'HUBSPOT_ACCESS_TOKEN'],
    [{ PUBLIC_BASE_URL: 'op.example.com' }, 'PUBLIC_BASE_URL'],
    [{ METRICS_PORT: '70000' }, 'METRICS_PORT'],
    [{ METRICS_PORT: '8080' }, 'METRICS_PORT'],
  ])('rejects %j naming %s', (env, variable) => {
    expect(() => validateEnvironment(env)).toThrow(new RegExp(`^Invalid configuration:[\\s\\S]*\\b${variable}:`));
  });

  it('never echoes a secret in the error', () => {
    expect(() => validateEnvironment({ OPENAI_API_KEY: 'short' })).toThrow(/OPENAI_API_KEY: .*\(got \[redacted\]\)/);
  });
});

describe('AppConfig', () => {
  it('picks the beta shape for preview models and GA otherwise, unless told', () => {
    expect(new AppConfig(validateEnvironment({})).openai.api).toBe('ga');
    expect(new AppConfig(validateEnvironment({ OPENAI_REALTIME_MODEL: 'gpt-4o-realtime-preview-2025-06-03' })).openai.api).toBe('beta');
    expect(new AppConfig(validateEnvironment({ OPENAI_REALTIME_MODEL: 'gpt-realtime', OPENAI_REALTIME_API: 'beta' })).openai.api).toBe('beta');
  });

  it('fills the company name into the prompt file and the greeting', () => {
    const config = new AppConfig(validateEnvironment({ OPERATOR_COMPANY_NAME: 'Acme Plumbing' }));
    expect(config.operator.instructions).toContain('Acme Plumbing');
    expect(config.operator.instructions).not.toContain('{{');
    expect(config.operator.greeting).toContain('Acme Plumbing');
  });

  it('lets OPERATOR_SYSTEM_PROMPT and OPERATOR_GREETING override the defaults', () => {
    const config = new AppConfig(
      validateEnvironment({ OPERATOR_COMPANY_NAME: 'Acme', OPERATOR_SYSTEM_PROMPT: 'You answer for {{COMPANY_NAME}}.', OPERATOR_GREETING: 'Hi, {{COMPANY_NAME}} here.' }),
    );
    expect(config.operator.instructions).toBe('You answer for Acme.');
    expect(config.operator.greeting).toBe('Hi, Acme here.');
  });
});
