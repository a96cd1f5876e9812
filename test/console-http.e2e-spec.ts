import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CONSOLE_CSP, findConsoleDir } from '../src/console/console-files';
import { LiveEvents } from './support/live-events';
import { freshDataDir, startApp, type TestApp } from './support/test-app';

const API_TOKEN = 'console-http-token-0123456789';

/** What the console stands on, without a browser: its files, its event stream, the filters it sends. */
describe('the console over HTTP', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp({ API_TOKEN });
  });

  afterAll(() => t.close());

  it('serves the built page under its security headers, and hashed assets to cache', async () => {
    const dir = findConsoleDir();
    if (!dir) throw new Error('the console is not built: run `npm run build:console` (npm test does it first)');
    const page = await fetch(`${t.httpUrl}/console/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(await page.text())?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${t.httpUrl}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(readdirSync(join(dir, 'assets')).some((f) => script!.endsWith(f))).toBe(true);
    expect((await fetch(`${t.httpUrl}/console/nothing-here.js`)).status).toBe(404);
  });

  it('streams the live calls to a bearer of the token only, and ends the stream at shutdown', async () => {
    expect((await fetch(`${t.httpUrl}/api/calls/live/events`)).status).toBe(401);
    expect((await fetch(`${t.httpUrl}/api/calls/live/events`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
    // An app of its own to shut down, on a data directory of its own.
    const dataDir = await freshDataDir();
    const own = await startApp({ API_TOKEN, DATA_DIR: dataDir });
    const events = await LiveEvents.open(own.httpUrl, API_TOKEN);
    expect((await events.waitFor('the first list', (e) => e.event === 'calls')).data).toEqual({ items: [], total: 0 });
    await own.close();
    await expect(events.waitFor('never', () => false)).rejects.toThrow('the stream ended');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses filters it does not know, naming them', async () => {
    const res = await fetch(`${t.httpUrl}/api/calls?outcome=booked&urgency=soon`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
    expect(res.status).toBe(400);
    const { message } = (await res.json()) as { message: string[] };
    expect(message).toEqual([expect.stringMatching(/^outcome must be one of/), expect.stringMatching(/^urgency must be one of/)]);
  });
});
