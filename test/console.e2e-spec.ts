import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CallLogWriter } from '../src/call-log/call-log-writer';
import { CallLogRepository } from '../src/call-log/call-record';
import { findConsoleDir } from '../src/console/console-files';
import { FakeTwilioRest } from './support/fake-twilio-rest';
import { MockRealtimeServer, type MockRealtimeConnection } from './support/mock-realtime-server';
import { startApp, TEST_API_KEY, type TestApp } from './support/test-app';
import type { TwilioCaller } from './support/twilio-caller';
import { startCall } from './support/calls';

/**
 * The console, end to end in headless Chromium (Debian's chromium package) driven by
 * playwright-core: sign in, watch a live call appear and end, open it, play its recording with the
 * transcript following, place a callback, add a do-not-call number, edit the rota; every view
 * checked with axe on a phone-sized screen. A failed step leaves a screenshot in tmp/artifacts.
 */

// What page.evaluate runs, runs in the page: its globals, which this Node-side project does not type.
declare const window: any;
declare const document: any;
declare const sessionStorage: any;
type HTMLCanvasElement = any;

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path));
const ARTIFACTS = join(__dirname, '..', 'tmp', 'artifacts');
const API_TOKEN = 'console-e2e-token-0123456789';
const CALLER = { from: '+12025550143', to: '+15557650000', direction: 'inbound' };
const PHONE = { width: 390, height: 844 };
const ACCOUNT_SID = 'AC' + 'e'.repeat(32);
const AUTH_TOKEN = 'twilio-auth-token-console-0123';

/** G.711 mu-law of a 16-bit sample. */
function linearToMuLaw(sample: number): number {
  const sign = sample < 0 ? 0x80 : 0;
  const s = Math.min(Math.abs(sample), 32635) + 0x84;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  return ~(sign | (exponent << 4) | ((s >> (exponent + 3)) & 0x0f)) & 0xff;
}

/** Talk-like audio: a tone under syllable-shaped swells, so that the waveform looks like a conversation. */
function speechLike(ms: number, pitchHz: number): Buffer {
  const out = Buffer.alloc(ms * 8);
  for (let i = 0; i < out.length; i++) {
    const t = i / 8000;
    const swell = Math.abs(Math.sin(Math.PI * 4 * t)) * (0.3 + 0.7 * Math.abs(Math.sin(Math.PI * 0.9 * t + 1)));
    out[i] = linearToMuLaw(Math.round(14000 * swell * Math.sin(2 * Math.PI * pitchHz * t)));
  }
  return out;
}

const frames = (audio: Buffer) => Array.from({ length: audio.length / 160 }, (_, i) => audio.subarray(i * 160, (i + 1) * 160));

const USAGE = {
  input_tokens: 1000,
  output_tokens: 400,
  input_token_details: { text_tokens: 900, audio_tokens: 100, cached_tokens: 0 },
  output_token_details: { text_tokens: 80, audio_tokens: 320 },
};

if (!CHROMIUM) {
  process.stderr.write('test/console.e2e-spec.ts: skipped, no Chromium at /usr/bin/chromium (on Debian: apt-get install chromium)\n');
}

(CHROMIUM ? describe : describe.skip)('the console in Chromium', () => {
  jest.setTimeout(60_000);
  let mock: MockRealtimeServer;
  let rest: FakeTwilioRest;
  let t: TestApp;
  let browser: Browser;
  let page: Page;
  let caller: TwilioCaller;
  let rt: MockRealtimeConnection;
  const problems: string[] = [];

  beforeAll(async () => {
    if (!findConsoleDir()) throw new Error('the console is not built: run `npm run build:console` (npm test does it first)');
    mkdirSync(ARTIFACTS, { recursive: true });
    mock = await MockRealtimeServer.start();
    rest = await FakeTwilioRest.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
    t = await startApp({
      OPENAI_API_KEY: TEST_API_KEY,
      OPENAI_REALTIME_URL: mock.url,
      API_TOKEN,
      RATE_LIMIT_API_PER_MINUTE: '10000',
      TWILIO_ACCOUNT_SID: ACCOUNT_SID,
      TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      TWILIO_API_BASE_URL: rest.baseUrl,
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, chromiumSandbox: false, args: ['--autoplay-policy=no-user-gesture-required'] });
    page = await browser.newPage({ viewport: PHONE });
    page.setDefaultTimeout(10_000);
    // The page runs under its Content-Security-Policy: anything it blocks, or any script error, fails the run.
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' && !/Failed to load resource/.test(message.text())) problems.push(`console error: ${message.text()}`);
    });
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await rest?.close();
    await mock?.close();
  });

  afterEach(() => {
    expect(problems).toEqual([]);
  });

  /** Runs a step; if it fails, the page as it was is saved for whoever reads the failure. */
  async function step(name: string, run: () => Promise<void>): Promise<void> {
    try {
      await run();
    } catch (err) {
      const path = join(ARTIFACTS, `console-${name}-failed.png`);
      await page.screenshot({ path, fullPage: true }).catch(() => undefined);
      throw new Error(`${err instanceof Error ? err.message : String(err)}\n(screenshot: ${path})`, { cause: err });
    }
  }

  const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

  /** axe-core in the page (evaluated through the browser's protocol, as the page's CSP admits no injected script). */
  async function expectAccessible(view: string): Promise<void> {
    if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource);
    const violations = await page.evaluate(async () => {
      const result = await (window as unknown as { axe: { run(): Promise<{ violations: Array<{ id: string; impact: string; help: string; nodes: unknown[] }> }> } }).axe.run();
      return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length }));
    });
    expect({ view, serious: violations.filter((v) => v.impact === 'serious' || v.impact === 'critical') }).toEqual({ view, serious: [] });
    // A phone screen: nothing wider than the screen.
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, `console-phone-${view.replace(/\W+/g, '-')}.png`), fullPage: true });
  }

  const api = async (path: string) => (await fetch(`${t.httpUrl}${path}`, { headers: { authorization: `Bearer ${API_TOKEN}` } })).json();

  it('signs in with the API token, and refuses a wrong one', () =>
    step('sign-in', async () => {
      await page.goto(`${t.httpUrl}/console`);
      await page.getByLabel('API token').waitFor();
      await expectAccessible('sign in');
      await page.getByLabel('API token').fill('not-the-token-at-all');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('alert').getByText('That token was not accepted.').waitFor();
      await page.getByLabel('API token').fill(API_TOKEN);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Calls', level: 1 }).waitFor();
      await page.getByText('No call right now.').waitFor();
      expect(await page.evaluate(() => Object.values(sessionStorage))).toEqual([API_TOKEN]);
      await expectAccessible('calls');
    }));

  it('shows a live call as it starts, then an operator speaks through the agent', () =>
    step('live-call', async () => {
      ({ caller, rt } = await startCall(t, mock, CALLER));
      const card = page.locator(`[data-testid=live-calls] [data-call-sid="${caller.callSid}"]`);
      await card.waitFor();
      expect(await card.textContent()).toContain(CALLER.from);
      await expectAccessible('calls with a live call');

      // The greeting, played in full: one second.
      rt.responseCreated('resp_1');
      rt.transcriptDelta('resp_1', 'item_a1', 'Thanks for calling Acme Plumbing. Is this an emergency?');
      rt.sendAudio('resp_1', 'item_a1', speechLike(1000, 220), 800);
      rt.audioDone('resp_1', 'item_a1');
      rt.transcriptDone('resp_1', 'item_a1', 'Thanks for calling Acme Plumbing. Is this an emergency?');
      rt.responseDone('resp_1', 'completed', USAGE);
      await caller.waitForPlayed(1000);
      // The caller answers. audio_start_ms counts the caller audio the session was sent, from its first frame.
      const talking = caller.startTalking(frames(speechLike(500, 160)));
      await rt.waitFor('input_audio_buffer.append');
      const inputStartedAt = Date.now();
      rt.speechStarted(0, 'item_u1');
      await talking;
      rt.speechStopped(500, 'item_u1');
      rt.send({ type: 'conversation.item.input_audio_transcription.completed', item_id: 'item_u1', content_index: 0, transcript: 'Yes! A pipe burst in my basement.' });
      // The agent saves the job and starts a long answer, which the caller talks over.
      rt.responseCreated('resp_2');
      rt.send({
        type: 'response.function_call_arguments.done',
        response_id: 'resp_2',
        item_id: 'item_fc',
        output_index: 0,
        call_id: 'call_job',
        name: 'save_job_request',
        arguments: JSON.stringify({ caller_name: 'Dana Reyes', callback_number: '(202) 555-0143', urgency: 'emergency', problem: 'Burst pipe in the basement', service_address: '12 Elm St, Springfield', preferred_time: 'as soon as possible' }),
      });
      rt.responseDone('resp_2');
      await rt.waitFor('conversation.item.create', (e) => e.item?.call_id === 'call_job');
      rt.responseCreated('resp_3');
      rt.transcriptDelta('resp_3', 'item_a2', 'Please shut off the main valve. ');
      rt.sendAudio('resp_3', 'item_a2', speechLike(2000, 220), 800);
      rt.transcriptDelta('resp_3', 'item_a2', 'It is usually near the water meter, in the basement or the garage.');
      const played = caller.playedMs();
      await caller.waitForPlayed(played + 700);
      rt.speechStarted(Date.now() - inputStartedAt, 'item_u2');
      await caller.waitFor('clear');
      rt.transcriptDone('resp_3', 'item_a2', 'Please shut off the main valve. It is usually near the water meter, in the basement or the garage.');
      rt.responseDone('resp_3', 'cancelled', USAGE);
      await caller.startTalking(frames(speechLike(500, 140)));
      rt.send({ type: 'conversation.item.input_audio_transcription.completed', item_id: 'item_u2', content_index: 0, transcript: 'Done, the water stopped.' });
      await t.logs.waitFor('response done', { callSid: caller.callSid, responseId: 'resp_3' });

      // The operator opens the live call and has the agent say something.
      await card.getByRole('link').click();
      await page.getByRole('heading', { name: 'Live actions' }).waitFor();
      await page.getByRole('textbox', { name: 'Say' }).fill('The on-call plumber is on the way.');
      await page.getByRole('button', { name: 'Say', exact: true }).click();
      await page.getByText(/^Said now\.|^Queued/).waitFor();
      await rt.waitFor('response.create', (e) => String(e.response?.instructions).includes('The on-call plumber is on the way.'));
      await expectAccessible('a live call');
    }));

  it('takes the call off the live list when it ends, and into the history', () =>
    step('call-ends', async () => {
      await page.getByRole('link', { name: '← Calls' }).click();
      await page.locator(`[data-testid=live-calls] [data-call-sid="${caller.callSid}"]`).waitFor();
      caller.sendStop();
      await rt.waitForClose();
      await t.logs.waitFor('recording saved', { callSid: caller.callSid });
      await page.getByText('No call right now.').waitFor();
      await page.locator(`[data-testid=history] [data-call-sid="${caller.callSid}"]`).getByText('Burst pipe in the basement').waitFor();
    }));

  it('filters the history by outcome and urgency', () =>
    step('filters', async () => {
      const row = page.locator(`[data-testid=history] [data-call-sid="${caller.callSid}"]`);
      await page.getByLabel('Urgency').selectOption('routine');
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.getByText('0 calls').waitFor();
      await page.getByLabel('Urgency').selectOption('emergency');
      await page.getByLabel('Outcome').selectOption('job_request');
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.getByText('1 call', { exact: true }).waitFor();
      await row.waitFor();
    }));

  it('opens the call: job request, transcript with the interruption, stereo waveform, and a player the transcript follows', () =>
    step('call', async () => {
      await page.locator(`[data-testid=history] [data-call-sid="${caller.callSid}"] a`).click();
      await page.getByRole('heading', { name: `Call from ${CALLER.from}` }).waitFor();
      await page.getByText('Dana Reyes').waitFor();
      await page.locator('.badge.emergency').first().waitFor();
      const turns = page.locator('[data-testid=transcript] li');
      await page.locator('[data-testid=audio]').waitFor();
      expect(await turns.count()).toBe(4);
      expect(await turns.nth(2).textContent()).toContain('interrupted');
      expect(await turns.nth(2).textContent()).not.toContain('garage');
      await page.getByText('Estimated cost').waitFor();

      // Both channels drawn: caller's blue in the top lane, agent's orange in the bottom one.
      const lanes = await page.locator('[data-testid=waveform]').evaluate((canvas: HTMLCanvasElement) => {
        const ctx = canvas.getContext('2d')!;
        const count = (y0: number, y1: number, rgb: [number, number, number]) => {
          const { data } = ctx.getImageData(0, y0, canvas.width, y1 - y0);
          let n = 0;
          for (let i = 0; i < data.length; i += 4) if (data[i] === rgb[0] && data[i + 1] === rgb[1] && data[i + 2] === rgb[2]) n++;
          return n;
        };
        const half = canvas.height / 2;
        return {
          callerTop: count(0, half, [0x1d, 0x5f, 0xa8]),
          agentTop: count(0, half, [0xa3, 0x4a, 0x00]),
          agentBottom: count(half, canvas.height, [0xa3, 0x4a, 0x00]),
        };
      });
      expect(lanes.callerTop).toBeGreaterThan(100);
      expect(lanes.agentBottom).toBeGreaterThan(100);
      expect(lanes.agentTop).toBe(0);

      const record = (await api(`/api/calls/${caller.callSid}`)) as { transcript: Array<{ startMs: number }> };
      const starts = record.transcript.map((turn) => turn.startMs);
      const active = () => page.locator('[data-testid=transcript] li[aria-current=true]').getAttribute('data-start-ms');

      // Clicking a turn's time moves the player there, and the transcript marks that turn.
      for (const [i, start] of starts.entries()) {
        await turns.nth(i).getByRole('button').click();
        await page.waitForFunction((ms) => Math.abs(document.querySelector('audio')!.currentTime * 1000 - ms) < 50, start);
        await page.waitForFunction((ms) => document.querySelector('[data-testid=transcript] li[aria-current=true]')?.getAttribute('data-start-ms') === String(ms), start);
      }

      // Played from the start, the cursor follows: each turn is marked once the audio reaches it.
      await page.evaluate(async () => {
        const audio = document.querySelector('audio')!;
        audio.currentTime = 0;
        await audio.play();
      });
      for (const start of starts.slice(1)) {
        await page.waitForFunction((ms) => document.querySelector('[data-testid=transcript] li[aria-current=true]')?.getAttribute('data-start-ms') === String(ms), start, { timeout: 10_000 });
        const position = await page.evaluate(() => document.querySelector('audio')!.currentTime * 1000);
        expect(position).toBeGreaterThanOrEqual(start);
      }
      expect(Number(await active())).toBe(starts.at(-1));
      await page.evaluate(() => document.querySelector('audio')!.pause());

      // The waveform's cursor is where the player is.
      await page.evaluate(() => {
        const audio = document.querySelector('audio')!;
        audio.currentTime = audio.duration / 2;
      });
      await page.waitForFunction(() => {
        const canvas: HTMLCanvasElement = document.querySelector('[data-testid=waveform]');
        const { data } = canvas.getContext('2d')!.getImageData(Math.round(canvas.width / 2) - 2, 1, 5, 1);
        for (let i = 0; i < data.length; i += 4) if (data[i] === 0xb0 && data[i + 1] === 0x00 && data[i + 2] === 0x20) return true;
        return false;
      });
      await expectAccessible('a call');
      await page.setViewportSize({ width: 1280, height: 1000 });
      await page.screenshot({ path: join(ARTIFACTS, 'console-call.png'), fullPage: true });
      await page.setViewportSize(PHONE);
    }));

  it('lists the call as a lead, emergencies first, with its follow-up', () =>
    step('leads', async () => {
      await page.getByRole('link', { name: 'Leads' }).click();
      const lead = page.locator('[data-testid=leads] li').first();
      await lead.getByText('Burst pipe in the basement').waitFor();
      await lead.locator('.badge.emergency').waitFor();
      await lead.getByText('Not paged: nobody on call').waitFor();
      await expectAccessible('leads');
    }));

  it('places a callback to the caller from the call', () =>
    step('callback', async () => {
      await page.goto(`${t.httpUrl}/console/#/calls/${caller.callSid}`);
      await page.getByRole('link', { name: 'Place a callback' }).click();
      await page.getByRole('heading', { name: 'Place a callback' }).waitFor();
      expect(await page.getByLabel('Number', { exact: true }).first().inputValue()).toBe(CALLER.from);
      expect(await page.getByLabel('Returning call (Call SID)').inputValue()).toBe(caller.callSid);
      await page.getByRole('button', { name: 'Place callback' }).click();
      await page.getByText(`Callback to ${CALLER.from} queued.`).waitFor();
      await page.locator('[data-testid=outbound-requests] li').filter({ hasText: CALLER.from }).waitFor();
      const requests = (await api('/api/outbound-calls')) as { items: Array<{ to: string; callbackOf: string; status: string }> };
      expect(requests.items).toEqual([expect.objectContaining({ to: CALLER.from, callbackOf: caller.callSid, status: 'queued' })]);
      await expectAccessible('outbound');
    }));

  it('adds a number to the do-not-call list', () =>
    step('dnc', async () => {
      const dnc = page.getByRole('region', { name: 'Do not call' });
      await dnc.getByLabel('Number').fill('+12025550199');
      await dnc.getByLabel('Reason').fill('asked on the phone');
      await dnc.getByRole('button', { name: 'Add' }).click();
      await page.getByText('+12025550199 will not be called.').waitFor();
      await page.locator('[data-testid=dnc] li').filter({ hasText: '+12025550199' }).waitFor();
      const list = (await api('/api/dnc')) as { items: Array<{ number: string; reason: string }> };
      expect(list.items).toEqual([expect.objectContaining({ number: '+12025550199', reason: 'asked on the phone' })]);
    }));

  it('edits the on-call rota', () =>
    step('on-call', async () => {
      await page.getByRole('link', { name: 'On call' }).click();
      await page.getByText('Nobody is on call now.').waitFor();
      const rota = {
        timezone: 'America/New_York',
        people: [{ id: 'alice', name: 'Alice Jones', mobile: '+12025550101' }],
        windows: [{ days: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'], start: '00:00', end: '00:00', people: ['alice'] }],
        overrides: [],
      };
      await page.getByLabel('People, weekly windows and overrides (JSON)').fill(JSON.stringify(rota));
      await page.getByRole('button', { name: 'Save rota' }).click();
      await page.getByTestId('on-call-now').getByText('Alice Jones').waitFor();
      expect(((await api('/api/on-call')) as { source: string }).source).toBe('database');
      await expectAccessible('on call');
    }));

  it('transfers one live call and hangs up another from their pages', () =>
    step('live-actions', async () => {
      const open = async () => {
        const call = await startCall(t, mock, CALLER);
        await page.goto(`${t.httpUrl}/console/#/calls/${call.caller.callSid}`);
        await page.getByText(call.caller.callSid).waitFor();
        await page.getByRole('heading', { name: 'Live actions' }).waitFor();
        return call;
      };
      const first = await open();
      await page.getByLabel('Transfer to').fill('+12025550177');
      await page.getByRole('button', { name: 'Transfer' }).click();
      await page.getByText('Transferred to +12025550177.').waitFor();
      const moved = await rest.waitForRequest((r) => r.callSid === first.caller.callSid);
      expect(moved.form.Twiml).toContain('<Dial>+12025550177</Dial>');
      first.caller.sendStop();
      await first.rt.waitForClose();

      const second = await open();
      page.once('dialog', (dialog) => void dialog.accept());
      await page.getByRole('button', { name: 'Hang up' }).click();
      await page.getByText('Hung up.').waitFor();
      await rest.waitForRequest((r) => r.callSid === second.caller.callSid && r.form.Status === 'completed');
      second.caller.sendStop();
      await second.rt.waitForClose();
      await t.logs.waitFor('call ended', { callSid: second.caller.callSid });
      await t.app.get(CallLogWriter).drained();
      expect(await t.app.get(CallLogRepository).get(second.caller.callSid)).toMatchObject({ status: 'completed', endReason: 'hangup' });
    }));
});
