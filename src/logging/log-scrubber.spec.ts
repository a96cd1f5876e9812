import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import { AppLogger } from './app-logger';
import { LogScrubber, maskPhone, maskPhonesInText } from './log-scrubber';

describe('maskPhone', () => {
  it('keeps the first two and last two characters', () => {
    expect(maskPhone('+15551234567')).toBe('+1********67');
    expect(maskPhone('1234')).toBe('****');
    expect(maskPhone(undefined)).toBe('(none)');
  });
});

describe('maskPhonesInText', () => {
  it.each([
    ['+14155550100', '+1********00'],
    ['14155550100', '14*******00'],
    ['4155550100', '41******00'],
    ['(415) 555-0100', '(4**********00'],
    ['415 555 0100', '41********00'],
    ['415.555.0100', '41********00'],
    ['+1 415-555-0100', '+1***********00'],
    ['555-0100', '55****00'],
  ])('masks %s', (number, masked) => {
    expect(maskPhonesInText(`call me on ${number}, thanks`)).toBe(`call me on ${masked}, thanks`);
  });

  it('masks numbers in URLs and query strings', () => {
    expect(maskPhonesInText('/twilio/voice?From=%2B14155550100&To=4155550100')).toBe('/twilio/voice?From=%2**********00&To=41******00');
  });

  it('leaves ids, times and small numbers alone', () => {
    const text = 'CA00000000000000000000000000000001 at 2026-11-22T19:10:12.345Z took 10000 ms, item_1234567';
    expect(maskPhonesInText(text)).toBe(text);
  });
});

describe('LogScrubber', () => {
  const scrubber = new LogScrubber(['sk-secret-key-123', undefined, 'abc'], true);

  it('redacts configured secrets, base64 runs and numbers anywhere in a value, without touching the input', () => {
    const audio = Buffer.alloc(320, 7).toString('base64');
    const input = {
      err: new Error('HubSpot said: contact +14155550100 exists (key sk-secret-key-123)'),
      nested: { list: ['from 4155550100', 3, null], audio },
      bytes: Buffer.from('raw'),
      url: new URL('https://example.com/voice?From=%2B14155550100'),
      at: new Date(0),
    };
    const out = scrubber.value(input) as { err: { message: string; type: string }; nested: { list: unknown[]; audio: string }; bytes: string; url: string; at: string };
    expect(out.err.type).toBe('Error');
    expect(out.err.message).toBe('HubSpot said: contact +1********00 exists (key [redacted])');
    expect(out.nested.list).toEqual(['from 41******00', 3, null]);
    expect(out.nested.audio).toBe(`[${audio.length} base64 chars]`);
    expect(out.bytes).toBe('[3 bytes]');
    expect(out.url).toBe('https://example.com/voice?From=%2**********00');
    expect(out.at).toBe('1970-01-01T00:00:00.000Z');
    expect(input.nested.list[0]).toBe('from 4155550100');
  });

  it('keeps numbers when phone masking is off, but never secrets', () => {
    expect(new LogScrubber(['sk-secret-key-123'], false).text('+14155550100 sk-secret-key-123')).toBe('+14155550100 [redacted]');
  });
});

describe('AppLogger', () => {
  function logged(env: Record<string, string>, log: (logger: AppLogger) => void): string {
    const lines: string[] = [];
    const logger = new AppLogger(new AppConfig(validateEnvironment({ LOG_LEVEL: 'info', ...env })), { write: (s: string) => void lines.push(s) });
    log(logger);
    return lines.join('');
  }
  const key = 'sk-live-0123456789abcdef';

  it('scrubs every log call: message, fields and errors', () => {
    const out = logged({ OPENAI_API_KEY: key }, (l) => l.child({ component: 'x', caller: '+14155550100' }).warn({ phone: '+14155550100', err: new Error(`bad key ${key}`) }, 'caller (415) 555-0100'));
    expect(out).not.toContain(key);
    expect(out).not.toContain('4155550100');
    expect(out).not.toContain('555-0100');
    expect(out).toContain('+1********00');
    expect(JSON.parse(out)).toMatchObject({ err: { type: 'Error', message: 'bad key [redacted]' } });
  });

  it('shows numbers with LOG_PII=true', () => {
    const out = logged({ OPENAI_API_KEY: key, LOG_PII: 'true' }, (l) => l.root.info({ phone: '+14155550100', k: key }, 'x'));
    expect(out).toContain('+14155550100');
    expect(out).not.toContain(key);
  });
});
