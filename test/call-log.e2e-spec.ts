import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CallLogWriter } from '../src/call-log/call-log-writer';
import { CallLogRepository, type CallRecord } from '../src/call-log/call-record';
import { callRecord } from './support/call-records';
import { parseWavHeader } from '../src/recording/wav';
import { MockRealtimeServer } from './support/mock-realtime-server';
import { freshDataDir, startApp, TEST_API_KEY, type TestApp } from './support/test-app';
import { TcpProxy } from './support/tcp-proxy';
import { TwilioCaller } from './support/twilio-caller';

const API_TOKEN = 'test-api-token-0123456789';
const auth = { authorization: `Bearer ${API_TOKEN}` };
const PARAMS = { from: '+15551230000', to: '+15557650000', direction: 'inbound' };

/** The storage back-ends the call log runs on here: PGlite always, PostgreSQL when DATABASE_URL is set. */
const backends: Array<[string, () => Promise<{ env: Record<string, string>; dispose(): Promise<void> }>]> = [
  ['PGlite', async () => ({ env: {}, dispose: async () => undefined })],
];
if (process.env.DATABASE_URL) {
  const base = process.env.DATABASE_URL;
  backends.push([
    'PostgreSQL',
    async () => {
      const { Client } = await import('pg');
      const schema = `e2e_${randomBytes(6).toString('hex')}`;
      const admin = new Client({ connectionString: base });
      await admin.connect();
      await admin.query(`CREATE SCHEMA ${schema}`);
      const url = new URL(base);
      url.searchParams.set('options', `-c search_path=${schema}`);
      return {
        env: { DATABASE_URL: url.toString() },
        dispose: async () => {
          await admin.query(`DROP SCHEMA ${schema} CASCADE`);
          await admin.end();
        },
      };
    },
  ]);
}

function sox(): boolean {
  try {
    execFileSync('soxi', ['-V0', '-D', '/dev/null'], { stdio: 'ignore' });
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
  return true;
}

describe.each(backends)('the call log on %s', (_name, backend) => {
  let mock: MockRealtimeServer;
  let t: TestApp;
  let dataDir: string;
  let db: { env: Record<string, string>; dispose(): Promise<void> };

  beforeAll(async () => {
    dataDir = await freshDataDir();
    db = await backend();
    mock = await MockRealtimeServer.start();
    t = await startApp({
      OPENAI_API_KEY: TEST_API_KEY,
      OPENAI_REALTIME_URL: mock.url,
      DATA_DIR: dataDir,
      API_TOKEN,
      ...db.env,
    });
  });

  afterAll(async () => {
    await t.close();
    await mock.close();
    await db.dispose();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const api = (path: string, headers: Record<string, string> = auth) => fetch(`${t.httpUrl}${path}`, { headers });

  it('keeps a whole call: transcript with a barge-in, usage and cost, and an aligned recording', async () => {
    const caller = await TwilioCaller.connect(t.streamUrl, { customParameters: PARAMS });
    caller.sendConnected();
    caller.sendStart();
    const rt = await mock.nextConnection();
    await rt.waitFor('response.create');

    // The greeting, played in full.
    const greeting = Buffer.alloc(800, 0x35);
    rt.responseCreated('resp_1');
    rt.transcriptDelta('resp_1', 'item_a1', 'Thanks for calling Acme Plumbing. ');
    rt.sendAudio('resp_1', 'item_a1', greeting, 400);
    rt.transcriptDelta('resp_1', 'item_a1', 'Is this an emergency?');
    rt.audioDone('resp_1', 'item_a1');
    rt.transcriptDone('resp_1', 'item_a1', 'Thanks for calling Acme Plumbing. Is this an emergency?');
    rt.responseDone('resp_1', 'completed', {
      input_tokens: 1000,
      output_tokens: 100,
      input_token_details: { text_tokens: 900, audio_tokens: 100, cached_tokens: 0 },
      output_token_details: { text_tokens: 20, audio_tokens: 80 },
    });
    await caller.waitForPlayed(100);

    // The caller speaks: frames stamped 0x11 at known stream times.
    const talk = Array.from({ length: 10 }, () => Buffer.alloc(160, 0x11));
    await caller.startTalking(talk);
    rt.speechStarted(100, 'item_u1');
    rt.send({ type: 'conversation.item.input_audio_transcription.completed', item_id: 'item_u1', content_index: 0, transcript: 'Yes, my basement is flooding.' });

    // A long answer the caller interrupts.
    rt.responseCreated('resp_2');
    rt.transcriptDelta('resp_2', 'item_a2', 'Please shut off the main valve. ');
    rt.sendAudio('resp_2', 'item_a2', Buffer.alloc(800, 0x45), 400);
    rt.transcriptDelta('resp_2', 'item_a2', 'It is usually near the water meter, ');
    rt.sendAudio('resp_2', 'item_a2', Buffer.alloc(8000, 0x45), 400);
    rt.transcriptDelta('resp_2', 'item_a2', 'in the basement or the garage.');
    await caller.waitForPlayed(100 + 300);
    rt.speechStarted(1500, 'item_u2');
    await caller.waitFor('clear');
    await rt.waitFor('conversation.item.truncate');
    rt.transcriptDone('resp_2', 'item_a2', 'Please shut off the main valve. It is usually near the water meter, in the basement or the garage.');
    rt.responseDone('resp_2', 'cancelled', {
      input_tokens: 2000,
      output_tokens: 300,
      input_token_details: { text_tokens: 1500, audio_tokens: 500, cached_tokens: 1000, cached_tokens_details: { text_tokens: 900, audio_tokens: 100 } },
      output_token_details: { text_tokens: 50, audio_tokens: 250 },
    });
    await t.logs.waitFor('response done', { callSid: caller.callSid, responseId: 'resp_2' });
    caller.sendStop();
    await rt.waitForClose();
    await t.logs.waitFor('call ended', { callSid: caller.callSid });
    await t.app.get(CallLogWriter).drained();
    await t.logs.waitFor('recording saved', { callSid: caller.callSid });

    const res = await api(`/api/calls/${caller.callSid}`);
    expect(res.status).toBe(200);
    const call = (await res.json()) as CallRecord;
    expect(call).toMatchObject({
      callSid: caller.callSid,
      streamSid: caller.streamSid,
      direction: 'inbound',
      from: PARAMS.from,
      to: PARAMS.to,
      status: 'completed',
      endReason: 'twilio_stop',
      recording: `${caller.callSid}.wav`,
      usage: {
        responses: 2,
        inputTextTokens: 2400,
        inputAudioTokens: 600,
        cachedTextTokens: 900,
        cachedAudioTokens: 100,
        outputTextTokens: 70,
        outputAudioTokens: 330,
      },
    });
    expect(call.costUsd).toBeCloseTo((1500 * 4 + 900 * 0.4 + 500 * 32 + 100 * 0.4 + 70 * 16 + 330 * 64) / 1e6, 6);
    expect(call.durationMs).toBeGreaterThan(0);
    expect(Date.parse(call.endedAt!) - Date.parse(call.startedAt)).toBeGreaterThanOrEqual(call.durationMs! - 50);

    expect(call.transcript.map((turn) => [turn.speaker, turn.interrupted ?? false])).toEqual([
      ['agent', false],
      ['caller', false],
      ['agent', true],
    ]);
    expect(call.transcript[0].text).toBe('Thanks for calling Acme Plumbing. Is this an emergency?');
    expect(call.transcript[1]).toMatchObject({ text: 'Yes, my basement is flooding.' });
    // Cut where the caller stopped hearing it: never the part streamed after the truncation point.
    expect(call.transcript[2].text).toMatch(/^Please shut off the main valve\./);
    expect(call.transcript[2].text).not.toContain('garage');
    expect(call.transcript[0].startMs).toBeLessThan(call.transcript[1].startMs);
    expect(call.transcript[1].startMs).toBeLessThan(call.transcript[2].startMs);

    // The recording: a valid stereo mu-law WAV as long as the call, caller left, agent right.
    const wavRes = await api(`/api/calls/${caller.callSid}/recording`);
    expect(wavRes.status).toBe(200);
    expect(wavRes.headers.get('content-type')).toBe('audio/wav');
    const wav = Buffer.from(await wavRes.arrayBuffer());
    const header = parseWavHeader(wav)!;
    expect(header).toMatchObject({ audioFormat: 7, channels: 2, sampleRate: 8000, bitsPerSample: 8, dataSize: wav.length - header.dataOffset });
    const samples = wav.subarray(header.dataOffset, header.dataOffset + header.dataSize);
    expect(Math.abs(samples.length / 16 - call.durationMs!)).toBeLessThanOrEqual(20);
    const left = Buffer.from(samples.filter((_, i) => i % 2 === 0));
    const right = Buffer.from(samples.filter((_, i) => i % 2 === 1));
    expect(left.filter((b) => b === 0x11).length).toBe(10 * 160);
    expect(right.filter((b) => b === 0x35).length).toBe(800);
    // The interrupted answer is cut at the barge-in: far less than its 1100 ms reached the file.
    const heard = right.filter((b) => b === 0x45).length;
    expect(heard).toBeGreaterThan(0);
    expect(heard).toBeLessThan(8800);
    // Greeting before the caller spoke, on one timeline.
    expect(right.indexOf(0x35)).toBeLessThan(left.indexOf(0x11));

    const partial = await api(`/api/calls/${caller.callSid}/recording`, { ...auth, range: 'bytes=0-43' });
    expect(partial.status).toBe(206);
    expect(Buffer.from(await partial.arrayBuffer())).toEqual(wav.subarray(0, 44));
    expect(partial.headers.get('cache-control')).toBe('private, no-store');
    const beyond = await api(`/api/calls/${caller.callSid}/recording`, { ...auth, range: `bytes=${wav.length}-` });
    expect(beyond.status).toBe(416);

    if (sox()) {
      const file = join(dataDir, 'downloaded.wav');
      writeFileSync(file, wav);
      const soxSeconds = Number(execFileSync('soxi', ['-D', file]).toString().trim());
      expect(Math.abs(soxSeconds * 1000 - call.durationMs!)).toBeLessThanOrEqual(20);
      expect(execFileSync('sox', ['--i', file]).toString()).toMatch(/Channels\s*:\s*2[\s\S]*Sample Rate\s*:\s*8000[\s\S]*u-law/);
    } else if (process.env.CI) {
      throw new Error('sox is not installed: .ci/run installs it so recordings are checked with a real tool');
    }
  });

  it('records calls sent to the fallback', async () => {
    await t.close();
    t = await startApp({ DATA_DIR: dataDir, API_TOKEN, ...db.env }); // no OpenAI key: every call falls back
    const callSid = 'CA' + randomBytes(16).toString('hex');
    const body = new URLSearchParams({ CallSid: callSid, From: '+15550009999', To: '+15557650000', Direction: 'inbound' });
    await fetch(`${t.httpUrl}/twilio/voice`, { method: 'POST', body });
    await t.app.get(CallLogWriter).drained();
    expect(await (await api(`/api/calls/${callSid}`)).json()).toMatchObject({
      status: 'fallback',
      endReason: 'missing_api_key',
      from: '+15550009999',
      transcript: [],
      recording: null,
    });
  });

  describe('the API', () => {
    const seeded: CallRecord[] = [];

    beforeAll(async () => {
      const repo = t.app.get(CallLogRepository);
      for (let i = 0; i < 25; i++) {
        const record = callRecord({
          callSid: 'CA' + randomBytes(16).toString('hex'),
          streamSid: null,
          from: i % 5 === 0 ? '+15553330000' : '+15554440000',
          to: '+15557650000',
          status: i % 2 === 0 ? 'completed' : 'failed',
          startedAt: new Date(Date.UTC(2026, 0, 1 + i)).toISOString(),
          endedAt: null,
          durationMs: null,
          endReason: null,
        });
        seeded.push(record);
        await repo.save(record);
      }
    });

    it('refuses requests without the right bearer token', async () => {
      expect((await api('/api/calls', {})).status).toBe(401);
      expect((await api('/api/calls', { authorization: 'Bearer wrong-token-0123456789' })).status).toBe(401);
      expect((await api('/api/calls', { authorization: API_TOKEN })).status).toBe(401);
    });

    it('pages newest first, with the total', async () => {
      const window = '&from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z';
      const first = (await (await api(`/api/calls?page=1&pageSize=10${window}`)).json()) as { items: CallRecord[]; total: number; page: number; pageSize: number };
      expect(first).toMatchObject({ total: 25, page: 1, pageSize: 10 });
      expect(first.items.map((c) => c.startedAt)).toEqual(seeded.slice(15).reverse().map((c) => c.startedAt));
      const last = (await (await api(`/api/calls?page=3&pageSize=10${window}`)).json()) as { items: CallRecord[] };
      expect(last.items).toHaveLength(5);
    });

    it('filters by number, status and date range', async () => {
      const window = '&from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z';
      const byNumber = (await (await api(`/api/calls?number=%2B15553330000${window}`)).json()) as { total: number };
      expect(byNumber.total).toBe(5);
      // A '+' sent unencoded arrives as a space and still matches.
      expect(((await (await api(`/api/calls?number=+15553330000${window}`)).json()) as { total: number }).total).toBe(5);
      const failed = (await (await api(`/api/calls?status=failed${window}`)).json()) as { items: CallRecord[]; total: number };
      expect(failed.total).toBe(12);
      expect(failed.items.every((c) => c.status === 'failed')).toBe(true);
      const range = (await (await api('/api/calls?from=2026-01-03T00:00:00Z&to=2026-01-06T00:00:00Z')).json()) as { items: CallRecord[] };
      expect(range.items.map((c) => c.startedAt)).toEqual(seeded.slice(2, 5).reverse().map((c) => c.startedAt));
    });

    it.each([
      ['page=0', 'page'],
      ['pageSize=1000', 'pageSize'],
      ['status=lost', 'status'],
      ['from=yesterday', 'from'],
      ['number=12', 'number'],
      ['sort=asc', 'sort'],
    ])('answers 400 naming the field for %s', async (query, field) => {
      const res = await api(`/api/calls?${query}`);
      expect(res.status).toBe(400);
      expect(JSON.stringify(await res.json())).toContain(field);
    });

    it('answers 404 for an unknown call and 400 for a malformed sid', async () => {
      expect((await api(`/api/calls/CA${'0'.repeat(32)}`)).status).toBe(404);
      expect((await api('/api/calls/not-a-sid')).status).toBe(400);
      expect((await api(`/api/calls/${seeded[0].callSid}/recording`)).status).toBe(404);
    });
  });
});

/** A real outage: PostgreSQL reached through a proxy that the test cuts. */
(process.env.DATABASE_URL ? describe : describe.skip)('a PostgreSQL outage during calls', () => {
  let proxy: TcpProxy;
  let mock: MockRealtimeServer;
  let dataDir: string;
  let schema: string;
  let admin: import('pg').Client;
  let url: string;

  beforeAll(async () => {
    const base = new URL(process.env.DATABASE_URL!);
    const { Client } = await import('pg');
    admin = new Client({ connectionString: base.toString() });
    await admin.connect();
    schema = `outage_${randomBytes(6).toString('hex')}`;
    await admin.query(`CREATE SCHEMA ${schema}`);
    proxy = await TcpProxy.start(base.hostname, Number(base.port || 5432));
    const viaProxy = new URL(base);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    viaProxy.searchParams.set('options', `-c search_path=${schema}`);
    url = viaProxy.toString();
    mock = await MockRealtimeServer.start();
    dataDir = await freshDataDir();
  });

  afterAll(async () => {
    await mock.close();
    await proxy.close();
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function oneCall(t: TestApp, words: string): Promise<string> {
    const caller = await TwilioCaller.connect(t.streamUrl, { customParameters: PARAMS });
    caller.sendConnected();
    caller.sendStart();
    const rt = await mock.nextConnection();
    await rt.waitFor('response.create');
    rt.speechStarted(0, 'item_u1');
    rt.send({ type: 'conversation.item.input_audio_transcription.completed', item_id: 'item_u1', content_index: 0, transcript: words });
    caller.sendMedia(Buffer.alloc(160, 0x7f));
    await rt.waitFor('input_audio_buffer.append');
    caller.sendStop();
    await rt.waitForClose();
    await t.logs.waitFor('call ended', { callSid: caller.callSid });
    return caller.callSid;
  }

  it('loses nothing: records wait for the database, or for the next boot', async () => {
    const env = { OPENAI_API_KEY: TEST_API_KEY, OPENAI_REALTIME_URL: mock.url, DATA_DIR: dataDir, API_TOKEN, DATABASE_URL: url };
    let t = await startApp(env);

    // Down during the call, back before the writer gives up: written late, whole.
    proxy.cut();
    const first = await oneCall(t, 'The kitchen sink is leaking.');
    await t.logs.waitFor('call record write failed; will retry', { callSid: first });
    proxy.restore();
    await t.app.get(CallLogWriter).drained();
    expect(await (await fetch(`${t.httpUrl}/api/calls/${first}`, { headers: auth })).json()).toMatchObject({
      status: 'completed',
      transcript: [{ speaker: 'caller', text: 'The kitchen sink is leaking.' }],
    });

    // Down through shutdown: spooled to disk, written by the next boot.
    proxy.cut();
    const second = await oneCall(t, 'Water everywhere in the basement.');
    await t.close();
    await t.logs.waitFor('call record spooled to disk; it will be written at the next boot', { callSid: second });
    proxy.restore();
    t = await startApp(env);
    const res = await fetch(`${t.httpUrl}/api/calls/${second}`, { headers: auth });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'completed', transcript: [{ text: 'Water everywhere in the basement.' }] });
    await t.close();
  });
});

describe('the call log API without API_TOKEN', () => {
  it('answers 503 saying how to enable it', async () => {
    const dataDir = await freshDataDir();
    const t = await startApp({ DATA_DIR: dataDir });
    const res = await fetch(`${t.httpUrl}/api/calls`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { message: string }).message).toContain('API_TOKEN');
    await t.close();
  });
});
