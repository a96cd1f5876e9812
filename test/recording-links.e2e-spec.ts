import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CallLogRepository } from '../src/call-log/call-record';
import { AppConfig } from '../src/config/app-config';
import { RecordingLinks } from '../src/recording/recording-links';
import { callRecord } from './support/call-records';
import { startApp, type TestApp } from './support/test-app';

const SID = 'CA00000000000000000000000000000a11';
const NO_RECORDING_SID = 'CA00000000000000000000000000000b22';
const UNKNOWN_SID = 'CA00000000000000000000000000000c33';
const DAY_MS = 24 * 60 * 60 * 1000;

describe('recording links', () => {
  let t: TestApp;
  let links: RecordingLinks;
  const wav = randomBytes(16_000);

  beforeAll(async () => {
    t = await startApp({
      PUBLIC_BASE_URL: 'https://operator.example.com',
      RECORDING_LINK_SECRET: 'recording-link-secret-for-e2e-0123456789',
      RECORDING_LINK_TTL_DAYS: '2',
      // No API_TOKEN: the API is closed, the links still play.
      // Limits low enough to reach; each test that trips one comes from its own address.
      TRUST_PROXY: 'true',
      RATE_LIMIT_API_PER_MINUTE: '5',
      RATE_LIMIT_API_AUTH_FAILURES_PER_MINUTE: '3',
    });
    links = t.app.get(RecordingLinks);
    const dir = t.app.get(AppConfig).recording.dir;
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${SID}.wav`), wav);
    const repo = t.app.get(CallLogRepository);
    await repo.save(callRecord({ callSid: SID, recording: `${SID}.wav` }));
    await repo.save(callRecord({ callSid: NO_RECORDING_SID, recording: null }));
  });

  afterAll(async () => {
    await t.close();
  });

  /** The link as the CRM holds it, fetched from the test app instead of PUBLIC_BASE_URL. */
  function local(url: string | undefined): string {
    expect(url).toMatch(/^https:\/\/operator\.example\.com\/recordings\//);
    const u = new URL(url!);
    return `${t.httpUrl}${u.pathname}${u.search}`;
  }

  const from = (ip: string, headers: Record<string, string> = {}) => ({ headers: { 'x-forwarded-for': ip, ...headers } });

  it('plays the recording to anyone holding the link, without a token', async () => {
    const res = await fetch(local(links.urlFor(SID)), from('198.51.100.1'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/wav');
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(Buffer.from(await res.arrayBuffer()).equals(wav)).toBe(true);
    // The API itself stays closed.
    expect((await fetch(`${t.httpUrl}/api/calls/${SID}/recording`, from('198.51.100.1'))).status).toBe(503);
  });

  it('answers Range requests with the slice, as often as a player seeks, past the API rate limit', async () => {
    const url = local(links.urlFor(SID));
    const first = await fetch(url, from('198.51.100.2', { range: 'bytes=100-1099' }));
    expect(first.status).toBe(206);
    expect(first.headers.get('content-range')).toBe(`bytes 100-1099/${wav.length}`);
    expect(Buffer.from(await first.arrayBuffer()).equals(wav.subarray(100, 1100))).toBe(true);
    // RATE_LIMIT_API_PER_MINUTE is 5: a link is not held to it.
    for (let start = 0; start < 20_000; start += 1000) {
      const res = await fetch(url, from('198.51.100.2', { range: `bytes=${start}-${start + 999}` }));
      expect(res.status).toBe(start < wav.length ? 206 : 416);
      await res.arrayBuffer();
    }
    const past = await fetch(url, from('198.51.100.2', { range: `bytes=${wav.length}-` }));
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe(`bytes */${wav.length}`);
  });

  it('refuses a tampered link with 403', async () => {
    const url = new URL(local(links.urlFor(SID)));
    const signature = url.searchParams.get('signature')!;
    url.searchParams.set('signature', (signature[0] === 'A' ? 'B' : 'A') + signature.slice(1));
    const res = await fetch(url, from('198.51.100.3'));
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ message: 'This recording link is not valid.' });

    // Another call's signature does not open this one, nor does no signature at all.
    const other = new URL(local(links.urlFor(NO_RECORDING_SID)));
    expect((await fetch(`${t.httpUrl}/recordings/${SID}.wav${other.search}`, from('198.51.100.3'))).status).toBe(403);
  });

  it('counts forged links like failed API logins: over the limit the client is refused, valid link or not', async () => {
    const valid = local(links.urlFor(SID));
    for (let i = 0; i < 3; i++) {
      expect((await fetch(`${t.httpUrl}/recordings/${SID}.wav?expires=9999999999&signature=${'A'.repeat(43)}`, from('198.51.100.4'))).status).toBe(403);
    }
    const refused = await fetch(valid, from('198.51.100.4'));
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    // Another client is not affected.
    expect((await fetch(valid, from('198.51.100.5'))).status).toBe(200);
  });

  it('answers 404 for a call with no recording, an unknown call and a name that is no recording', async () => {
    const none = await fetch(local(links.urlFor(NO_RECORDING_SID)), from('198.51.100.6'));
    expect(none.status).toBe(404);
    expect(await none.json()).toMatchObject({ message: 'This call has no recording.' });
    expect((await fetch(local(links.urlFor(UNKNOWN_SID)), from('198.51.100.6'))).status).toBe(404);
    expect((await fetch(`${t.httpUrl}/recordings/passwd`, from('198.51.100.6'))).status).toBe(404);
  });

  // Last: the clock only moves forward.
  it('refuses an expired link with 410', async () => {
    const url = local(links.urlFor(SID));
    t.clock.skip(2 * DAY_MS + 1000);
    const res = await fetch(url, from('198.51.100.7'));
    expect(res.status).toBe(410);
    expect(await res.json()).toMatchObject({ message: 'This recording link has expired.' });
    // A link made now plays again.
    expect((await fetch(local(links.urlFor(SID)), from('198.51.100.7'))).status).toBe(200);
  });
});
