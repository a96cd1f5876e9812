import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppConfig, openAiHttpBase } from './app-config';
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

  it.each([
    [{ DEFAULT_TIMEZONE: 'Mars/Olympus_Mons' }, 'DEFAULT_TIMEZONE'],
    [{ DEFAULT_TIMEZONE: 'EST5EDT!' }, 'DEFAULT_TIMEZONE'],
    [{ CALLING_WINDOW_START: '8:00' }, 'CALLING_WINDOW_START'],
    [{ CALLING_WINDOW_END: '24:00' }, 'CALLING_WINDOW_END'],
    [{ CALLING_WINDOW_START: '21:00', CALLING_WINDOW_END: '08:00' }, 'CALLING_WINDOW_START'],
    [{ CALLING_WINDOW_START: '09:00', CALLING_WINDOW_END: '09:00' }, 'CALLING_WINDOW_START'],
    [{ CALLING_DIAL_LEAD_SECONDS: '-1' }, 'CALLING_DIAL_LEAD_SECONDS'],
    [{ CALLING_STATE_RULES: 'sometimes' }, 'CALLING_STATE_RULES'],
    [{ OUTBOUND_RETRY_SLOTS: '10:00;14:00' }, 'OUTBOUND_RETRY_SLOTS'],
    [{ OUTBOUND_RETRY_SLOTS: '10:00,25:00' }, 'OUTBOUND_RETRY_SLOTS'],
    [{ OUTBOUND_RETRY_DAYS: '0' }, 'OUTBOUND_RETRY_DAYS'],
    [{ OUTBOUND_VOICEMAIL: 'beep' }, 'OUTBOUND_VOICEMAIL'],
    [{ OUTBOUND_VOICEMAIL_MESSAGE: 'Call {company} at {phone}.' }, 'OUTBOUND_VOICEMAIL_MESSAGE'],
    [{ OUTBOUND_VOICEMAIL_MESSAGE: 'Call us {callback_number' }, 'OUTBOUND_VOICEMAIL_MESSAGE'],
    [{ OUTBOUND_VOICEMAIL_MESSAGE: 'x'.repeat(601) }, 'OUTBOUND_VOICEMAIL_MESSAGE'],
  ])('rejects the outbound setting %j naming %s', (env, variable) => {
    expect(() => validateEnvironment(env)).toThrow(new RegExp(`^Invalid configuration:[\\s\\S]*\\b${variable}[: ]`));
  });

  const WHSEC = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

  it.each([
    [{ WEBHOOK_URLS: 'https://a.example.com/hook' }, 'WEBHOOK_SECRET'],
    [{ WEBHOOK_URLS: 'ftp://a.example.com/hook', WEBHOOK_SECRET: WHSEC }, 'WEBHOOK_URLS'],
    [{ WEBHOOK_URLS: 'https://a.example.com/x, not a url', WEBHOOK_SECRET: WHSEC }, 'WEBHOOK_URLS'],
    [{ WEBHOOK_URLS: 'https://a.example.com/x,https://a.example.com/x', WEBHOOK_SECRET: WHSEC }, 'WEBHOOK_URLS'],
    [{ WEBHOOK_URLS: 'https://user:pw@a.example.com/x', WEBHOOK_SECRET: WHSEC }, 'WEBHOOK_URLS'],
    [{ WEBHOOK_URLS: Array.from({ length: 11 }, (_, i) => `https://h${i}.example.com/`).join(','), WEBHOOK_SECRET: WHSEC }, 'WEBHOOK_URLS'],
    [{ WEBHOOK_SECRET: 'not-a-whsec-secret-0123456789' }, 'WEBHOOK_SECRET'],
    [{ WEBHOOK_SECRET: `whsec_${Buffer.alloc(16).toString('base64')}` }, 'WEBHOOK_SECRET'],
    [{ WEBHOOK_SECRET: `whsec_${Buffer.alloc(65).toString('base64')}` }, 'WEBHOOK_SECRET'],
    [{ WEBHOOK_TIMEOUT_MS: '100' }, 'WEBHOOK_TIMEOUT_MS'],
    [{ WEBHOOK_MAX_ATTEMPTS: '0' }, 'WEBHOOK_MAX_ATTEMPTS'],
    [{ WEBHOOK_MAX_AGE_HOURS: '0' }, 'WEBHOOK_MAX_AGE_HOURS'],
    [{ WEBHOOK_RETRY_BASE_SECONDS: '600', WEBHOOK_RETRY_MAX_SECONDS: '60' }, 'WEBHOOK_RETRY_BASE_SECONDS'],
  ])('rejects the webhook setting %j naming %s', (env, variable) => {
    expect(() => validateEnvironment(env)).toThrow(new RegExp(`^Invalid configuration:[\\s\\S]*\\b${variable}[: ]`));
  });

  it('names a bad webhook URL by its position, never by its text (it may hold a token)', () => {
    expect(() => validateEnvironment({ WEBHOOK_URLS: 'https://ok.example.com/,mailto:token-1234@x', WEBHOOK_SECRET: WHSEC })).toThrow(/entry 2/);
    expect(() => validateEnvironment({ WEBHOOK_URLS: 'https://ok.example.com/,mailto:token-1234@x', WEBHOOK_SECRET: WHSEC })).not.toThrow(/token-1234/);
    expect(() => validateEnvironment({ WEBHOOK_SECRET: 'whsec_!!' })).toThrow(/WEBHOOK_SECRET: .*\(got \[redacted\]\)/);
  });

  it('never echoes a secret in the error', () => {
    expect(() => validateEnvironment({ OPENAI_API_KEY: 'short' })).toThrow(/OPENAI_API_KEY: .*\(got \[redacted\]\)/);
  });
});

describe('AppConfig', () => {
  it('gives the calling rules their defaults: federal window, 2 minute lead, 10/14/18 h slots for 5 days', () => {
    expect(new AppConfig(validateEnvironment({})).callingRules).toEqual({
      window: { defaultTimeZone: 'America/New_York', startMinute: 8 * 60, endMinute: 21 * 60, dialLeadMs: 120_000, applyJurisdictionRules: true },
      retry: { slotMinutes: [600, 840, 1080], horizonMs: 5 * 24 * 3_600_000 },
    });
  });

  it('reads the calling rules from the environment, slots sorted and deduplicated', () => {
    const config = new AppConfig(
      validateEnvironment({
        DEFAULT_TIMEZONE: 'America/Chicago',
        CALLING_WINDOW_START: '09:30',
        CALLING_WINDOW_END: '19:45',
        CALLING_DIAL_LEAD_SECONDS: '0',
        CALLING_STATE_RULES: 'false',
        OUTBOUND_RETRY_SLOTS: ' 17:00, 09:30,17:00 ',
        OUTBOUND_RETRY_DAYS: '2',
      }),
    );
    expect(config.callingRules).toEqual({
      window: { defaultTimeZone: 'America/Chicago', startMinute: 570, endMinute: 1185, dialLeadMs: 0, applyJurisdictionRules: false },
      retry: { slotMinutes: [570, 1020], horizonMs: 2 * 24 * 3_600_000 },
    });
  });

  it('has no webhooks by default, and reads them from the environment', () => {
    expect(new AppConfig(validateEnvironment({})).webhooks).toEqual({
      urls: [],
      secret: undefined,
      timeoutMs: 10_000,
      maxAttempts: 20,
      maxAgeMs: 24 * 3_600_000,
      retryBaseMs: 10_000,
      retryMaxMs: 3_600_000,
    });
    const secret = `whsec_${Buffer.alloc(24, 1).toString('base64')}`;
    const config = new AppConfig(
      validateEnvironment({
        WEBHOOK_URLS: ' https://a.example.com/hook?k=1#frag , http://10.0.0.5:8000/in ',
        WEBHOOK_SECRET: secret,
        WEBHOOK_TIMEOUT_MS: '2500',
        WEBHOOK_MAX_ATTEMPTS: '5',
        WEBHOOK_MAX_AGE_HOURS: '2',
        WEBHOOK_RETRY_BASE_SECONDS: '1',
        WEBHOOK_RETRY_MAX_SECONDS: '60',
      }),
    );
    expect(config.webhooks).toEqual({
      urls: ['https://a.example.com/hook?k=1', 'http://10.0.0.5:8000/in'],
      secret,
      timeoutMs: 2500,
      maxAttempts: 5,
      maxAgeMs: 2 * 3_600_000,
      retryBaseMs: 1000,
      retryMaxMs: 60_000,
    });
  });

  it('makes call summaries with gpt-4.1-mini when an OpenAI key is set, unless SUMMARY_ENABLED=false', () => {
    const key = 'sk-test-0123456789abcdef';
    expect(new AppConfig(validateEnvironment({ OPENAI_API_KEY: key })).summary).toEqual({
      enabled: true,
      model: 'gpt-4.1-mini',
      timeoutMs: 20_000,
      baseUrl: 'https://api.openai.com/v1',
      instructions: expect.stringContaining('exactly three short sentences'),
    });
    expect(new AppConfig(validateEnvironment({})).summary.enabled).toBe(false);
    expect(new AppConfig(validateEnvironment({ OPENAI_API_KEY: key, SUMMARY_ENABLED: 'false' })).summary.enabled).toBe(false);
    expect(new AppConfig(validateEnvironment({ OPENAI_API_KEY: key, SUMMARY_MODEL: 'gpt-5.4-mini', SUMMARY_TIMEOUT_MS: '5000' })).summary).toMatchObject({
      enabled: true,
      model: 'gpt-5.4-mini',
      timeoutMs: 5000,
    });
  });

  it.each([
    ['wss://api.openai.com/v1/realtime', 'https://api.openai.com/v1'],
    ['ws://127.0.0.1:4010/v1/realtime?x=1', 'http://127.0.0.1:4010/v1'],
    ['wss://proxy.example.com/openai/v1/realtime/', 'https://proxy.example.com/openai/v1'],
    ['wss://proxy.example.com/realtime-gateway', 'https://proxy.example.com/realtime-gateway'],
  ])('calls the text model at the HTTP base of OPENAI_REALTIME_URL %s: %s', (realtime, base) => {
    expect(openAiHttpBase(realtime)).toBe(base);
    expect(new AppConfig(validateEnvironment({ OPENAI_REALTIME_URL: realtime })).summary.baseUrl).toBe(base);
  });

  it.each([
    [{ SUMMARY_ENABLED: 'perhaps' }, 'SUMMARY_ENABLED'],
    [{ SUMMARY_MODEL: 'gpt 4.1 mini' }, 'SUMMARY_MODEL'],
    [{ SUMMARY_TIMEOUT_MS: '999' }, 'SUMMARY_TIMEOUT_MS'],
    [{ SUMMARY_TIMEOUT_MS: '120001' }, 'SUMMARY_TIMEOUT_MS'],
  ])('rejects the summary setting %j naming %s', (env, variable) => {
    expect(() => validateEnvironment(env)).toThrow(new RegExp(`^Invalid configuration:[\\s\\S]*\\b${variable}:`));
  });

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

  it('reads the on-call settings: the default rota from ON_CALL_ROTA or the file of ON_CALL_ROTA_FILE, not both', () => {
    expect(new AppConfig(validateEnvironment({})).onCall).toEqual({
      defaultRota: undefined,
      defaultTimeZone: 'America/New_York',
      ackTimeoutMs: 5 * 60_000,
      callbackMinutes: 15,
      warmTransferTimeoutMs: 30_000,
      smsFrom: undefined,
    });
    expect(new AppConfig(validateEnvironment({ WARM_TRANSFER_TIMEOUT_SECONDS: '45' })).onCall.warmTransferTimeoutMs).toBe(45_000);
    expect(() => validateEnvironment({ WARM_TRANSFER_TIMEOUT_SECONDS: '5' })).toThrow('WARM_TRANSFER_TIMEOUT_SECONDS');
    const inline = new AppConfig(validateEnvironment({ ON_CALL_ROTA: '{"people":[]}', ON_CALL_ACK_MINUTES: '3', ON_CALL_CALLBACK_MINUTES: '30', SMS_FROM_NUMBER: '+15557650000' }));
    expect(inline.onCall).toMatchObject({ defaultRota: { json: '{"people":[]}', source: 'ON_CALL_ROTA' }, ackTimeoutMs: 180_000, callbackMinutes: 30, smsFrom: '+15557650000' });

    const dir = mkdtempSync(join(tmpdir(), 'rota-'));
    try {
      writeFileSync(join(dir, 'rota.json'), '{"windows":[]}');
      expect(new AppConfig(validateEnvironment({ ON_CALL_ROTA_FILE: join(dir, 'rota.json') })).onCall.defaultRota).toEqual({ json: '{"windows":[]}', source: `ON_CALL_ROTA_FILE (${join(dir, 'rota.json')})` });
      expect(() => new AppConfig(validateEnvironment({ ON_CALL_ROTA_FILE: join(dir, 'missing.json') }))).toThrow(`ON_CALL_ROTA_FILE: cannot read ${join(dir, 'missing.json')} (ENOENT)`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(() => validateEnvironment({ ON_CALL_ROTA: '{}', ON_CALL_ROTA_FILE: 'rota.json' })).toThrow('ON_CALL_ROTA and ON_CALL_ROTA_FILE are both set');
    expect(() => validateEnvironment({ SMS_FROM_NUMBER: '555-1234', ON_CALL_ACK_MINUTES: '0' })).toThrow(/ON_CALL_ACK_MINUTES must not be less than 1[\s\S]*SMS_FROM_NUMBER must be an E\.164 number/);
  });
});
