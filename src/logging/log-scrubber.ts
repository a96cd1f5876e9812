import pino from 'pino';

/** Keeps the first two and last two characters (country code, last digits): enough to tell calls apart. */
export function maskPhone(phone: string | undefined): string {
  if (!phone) return '(none)';
  if (phone.length <= 5) return '*'.repeat(phone.length);
  return phone.slice(0, 2) + '*'.repeat(phone.length - 4) + phone.slice(-2);
}

/**
 * A phone number written any common way: E.164, digits only, national with spaces, dots, dashes
 * and parentheses, or URL-encoded (%2B); 7 to 15 digits, not part of a longer word or id (a call
 * SID's digits follow letters, so they are left alone). A false positive only masks a harmless number.
 */
const PHONE_IN_TEXT = /(?<![\w+(])(?:[+(]|%2[Bb])?\d(?:[ ().-]{0,2}\d){6,14}(?!\w)/g;

/** Audio travels as base64; a run this long in a log line can only be a payload. */
const BASE64_RUN = /[A-Za-z0-9+/]{120,}={0,2}/g;

export function maskPhonesInText(text: string): string {
  return text.replace(PHONE_IN_TEXT, maskPhone);
}

/** Nested values deeper than this are logged as a placeholder rather than walked. */
const MAX_DEPTH = 6;

/**
 * Cleans what a log call is given, whatever the call site: the configured secrets are replaced,
 * long base64 runs (audio) are cut out, and phone numbers are masked inside every string unless
 * LOG_PII is on. Runs per log line, never per audio frame (nothing logs per frame).
 */
export class LogScrubber {
  private readonly secrets: string[];

  constructor(
    secrets: ReadonlyArray<string | undefined>,
    private readonly maskPhones: boolean,
  ) {
    // Longest first, so a secret containing another is replaced whole.
    this.secrets = secrets.filter((s): s is string => typeof s === 'string' && s.length >= 6).sort((a, b) => b.length - a.length);
  }

  text(value: string): string {
    let out = value;
    for (const secret of this.secrets) if (out.includes(secret)) out = out.split(secret).join('[redacted]');
    out = out.replace(BASE64_RUN, (run) => `[${run.length} base64 chars]`);
    return this.maskPhones ? maskPhonesInText(out) : out;
  }

  value(value: unknown, depth = 0): unknown {
    if (typeof value === 'string') return this.text(value);
    if (value === null || typeof value !== 'object') return value;
    if (depth >= MAX_DEPTH) return '[nested too deep]';
    if (value instanceof Error) return this.fields(pino.stdSerializers.err(value), depth);
    if (Array.isArray(value)) return value.map((v) => this.value(v, depth + 1));
    if (ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
    if (value instanceof Date) return value.toISOString();
    if (value instanceof URL) return this.text(value.href);
    return this.fields(value, depth);
  }

  private fields(value: object, depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = this.value(v, depth + 1);
    return out;
  }
}
