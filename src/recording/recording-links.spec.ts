import { ManualClock } from '../common/clock';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import { AppLogger } from '../logging/app-logger';
import { LogCapture } from '../../test/support/log-capture';
import { recordingLinkSecret, RecordingLinks } from './recording-links';

const SID = 'CA0123456789abcdef0123456789abcdef';
const OTHER_SID = 'CAfedcba9876543210fedcba9876543210';
const SECRET = 'recording-link-secret-0123456789abcdef';
const DAY_MS = 24 * 60 * 60 * 1000;

function configOf(env: Record<string, string>): AppConfig {
  return new AppConfig(validateEnvironment({ LOG_LEVEL: 'debug', ...env }));
}

function links(env: Record<string, string> = {}, clock = new ManualClock()) {
  const logs = new LogCapture();
  const config = configOf({ PUBLIC_BASE_URL: 'https://operator.example.com/', RECORDING_LINK_SECRET: SECRET, ...env });
  return { links: new RecordingLinks(config, clock, new AppLogger(config, logs)), logs, clock };
}

/** The parts of a link as the route receives them. */
function parts(url: string): { path: string; expires: string | null; signature: string | null } {
  const u = new URL(url);
  return { path: u.pathname, expires: u.searchParams.get('expires'), signature: u.searchParams.get('signature') };
}

describe('RecordingLinks', () => {
  it('makes an absolute link under PUBLIC_BASE_URL that verifies until it expires', () => {
    const { links: l, clock } = links({ RECORDING_LINK_TTL_DAYS: '7' });
    const url = l.urlFor(SID)!;
    expect(url).toMatch(new RegExp(`^https://operator\\.example\\.com/recordings/${SID}\\.wav\\?expires=\\d+&signature=[\\w-]{43}$`));
    const { path, expires, signature } = parts(url);
    expect(path).toBe(`/recordings/${SID}.wav`);
    expect(Number(expires) * 1000).toBe(clock.epochMs() + 7 * DAY_MS);
    expect(l.verify(SID, expires, signature)).toBe('ok');

    clock.advance(7 * DAY_MS - 1000);
    expect(l.verify(SID, expires, signature)).toBe('ok');
    clock.advance(1000);
    expect(l.verify(SID, expires, signature)).toBe('expired');
  });

  it('keeps a path prefix of PUBLIC_BASE_URL', () => {
    const { links: l } = links({ PUBLIC_BASE_URL: 'https://example.com/operator' });
    expect(l.urlFor(SID)).toMatch(new RegExp(`^https://example\\.com/operator/recordings/${SID}\\.wav\\?`));
  });

  it('refuses a link altered in any part as forged', () => {
    const { links: l } = links();
    const { expires, signature } = parts(l.urlFor(SID)!);
    expect(l.verify(OTHER_SID, expires, signature)).toBe('forged');
    expect(l.verify(SID, String(Number(expires) + 1), signature)).toBe('forged');
    const flipped = (signature![0] === 'A' ? 'B' : 'A') + signature!.slice(1);
    expect(l.verify(SID, expires, flipped)).toBe('forged');
    expect(l.verify(SID, expires, signature!.slice(1))).toBe('forged');
    expect(l.verify(SID, undefined, signature)).toBe('forged');
    expect(l.verify(SID, expires, undefined)).toBe('forged');
    expect(l.verify(SID, [expires], signature)).toBe('forged');
    expect(l.verify(SID, '1e99', signature)).toBe('forged');
  });

  it('says forged rather than expired when an expired link is tampered with', () => {
    const { links: l, clock } = links({ RECORDING_LINK_TTL_DAYS: '1' });
    const { expires, signature } = parts(l.urlFor(SID)!);
    clock.advance(2 * DAY_MS);
    expect(l.verify(SID, expires, signature)).toBe('expired');
    expect(l.verify(SID, String(Number(expires) + DAY_MS), signature)).toBe('forged');
  });

  it('is revoked by rotating the secret, and survives a restart with the same one', () => {
    const clock = new ManualClock();
    const { links: before } = links({}, clock);
    const { expires, signature } = parts(before.urlFor(SID)!);
    const { links: restarted } = links({}, clock);
    expect(restarted.verify(SID, expires, signature)).toBe('ok');
    const { links: rotated } = links({ RECORDING_LINK_SECRET: 'another-recording-link-secret-9876543210' }, clock);
    expect(rotated.verify(SID, expires, signature)).toBe('forged');
  });

  it('derives its secret from a shared one with a label of its own, never using it as is', () => {
    const streamSecret = 'stream-token-secret-0123456789abcdef';
    const derived = recordingLinkSecret(configOf({ STREAM_TOKEN_SECRET: streamSecret, TWILIO_AUTH_TOKEN: 'twilio-auth-token-0123456789' }));
    expect(derived.source).toBe('stream_token_secret');
    expect(derived.secret).toHaveLength(32);
    expect(derived.secret!.equals(Buffer.from(streamSecret))).toBe(false);
    expect(recordingLinkSecret(configOf({ TWILIO_AUTH_TOKEN: 'twilio-auth-token-0123456789', API_TOKEN: 'api-token-0123456789' })).source).toBe('twilio_auth_token');
    expect(recordingLinkSecret(configOf({ API_TOKEN: 'api-token-0123456789' })).source).toBe('api_token');
    expect(recordingLinkSecret(configOf({ RECORDING_LINK_SECRET: SECRET, API_TOKEN: 'api-token-0123456789' })).source).toBe('configured');

    // Derived the same way on every instance: a link made on one verifies on another.
    const env = { RECORDING_LINK_SECRET: '', TWILIO_AUTH_TOKEN: 'twilio-auth-token-0123456789' };
    const { expires, signature } = parts(links(env).links.urlFor(SID)!);
    expect(links(env).links.verify(SID, expires, signature)).toBe('ok');
  });

  it('makes no link without PUBLIC_BASE_URL, and says so once', () => {
    const { links: l, logs } = links({ PUBLIC_BASE_URL: '' });
    expect(l.urlFor(SID)).toBeUndefined();
    expect(l.urlFor(OTHER_SID)).toBeUndefined();
    expect(logs.lines.filter((line) => line.level === 'warn')).toEqual([
      expect.objectContaining({ msg: 'PUBLIC_BASE_URL is not set: the CRM gets no recording links', component: 'recording-links' }),
    ]);
  });

  it('makes no link without a stable secret (a random one would die with the process), and says so once', () => {
    const { links: l, logs } = links({ RECORDING_LINK_SECRET: '' });
    expect(l.secretSource).toBe('none');
    expect(l.urlFor(SID)).toBeUndefined();
    expect(l.urlFor(SID)).toBeUndefined();
    expect(logs.lines.filter((line) => line.level === 'warn')).toEqual([
      expect.objectContaining({ msg: expect.stringContaining('No secret to sign recording links with') }),
    ]);
    expect(l.verify(SID, '9999999999', 'A'.repeat(43))).toBe('forged');
  });

  it('never logs the secret', () => {
    const { links: l, logs } = links({ PUBLIC_BASE_URL: '' });
    l.urlFor(SID);
    expect(logs.raw.join('\n')).not.toContain(SECRET);
  });
});
