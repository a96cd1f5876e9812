/**
 * Graceful shutdown of the real process: `node dist/src/main.js` receives SIGTERM during a live
 * call. Realtime is the mock server and Twilio the simulated caller (and fake REST API), all in
 * this test process.
 */
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { PgliteSqlClient } from '../src/database/sql-client';
import { CALL_PARAMS } from './support/calls';
import { FakeTwilioRest } from './support/fake-twilio-rest';
import { MockRealtimeServer, type MockRealtimeConnection } from './support/mock-realtime-server';
import { ServiceProcess, type LogLine } from './support/service-process';
import { freshDataDir, TEST_API_KEY } from './support/test-app';
import { TwilioCaller } from './support/twilio-caller';

jest.setTimeout(60_000);

const ACCOUNT_SID = `AC${'0'.repeat(31)}7`;
const AUTH_TOKEN = 'drain-test-auth-token-0123';
const FALLBACK_NUMBER = '+15550001111';
const SILENCE = Buffer.alloc(160, 0xff);
const agentAudio = (ms: number) => Buffer.alloc(ms * 8, 0x55);
const isGoodbye = (e: any) => e.type === 'response.create' && e.response?.tool_choice === 'none';
const DRAINING = (l: LogLine) => l.msg === 'draining: no new calls';
const DEADLINE = (l: LogLine) => l.msg === 'drain timeout: ending the remaining calls with a goodbye';

interface CallRow {
  status: string;
  end_reason: string | null;
  duration_ms: number | null;
  recording: string | null;
  transcript: Array<{ speaker: string; text: string }>;
}

/** The call log as the exited service left it in DATA_DIR. */
async function readCalls(dataDir: string): Promise<Map<string, CallRow>> {
  const db = new PgliteSqlClient(join(dataDir, 'pglite'), pino({ level: 'silent' }));
  try {
    const rows = await db.query<CallRow & { call_sid: string }>('SELECT * FROM calls');
    return new Map(rows.map((r) => [r.call_sid, r]));
  } finally {
    await db.close();
  }
}

describe('graceful drain on SIGTERM (child process)', () => {
  let mock: MockRealtimeServer;
  let dataDir: string;
  let service: ServiceProcess | undefined;
  let rest: FakeTwilioRest | undefined;

  beforeEach(async () => {
    mock = await MockRealtimeServer.start();
    dataDir = await freshDataDir();
  });

  afterEach(async () => {
    await service?.kill();
    service = undefined;
    await rest?.close();
    rest = undefined;
    await mock.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const start = async (env: Record<string, string>) => {
    service = await ServiceProcess.start({
      OPENAI_API_KEY: TEST_API_KEY,
      OPENAI_REALTIME_URL: mock.url,
      DATA_DIR: dataDir,
      OPERATOR_COMPANY_NAME: 'Acme Plumbing',
      ...env,
    });
    return service;
  };

  const call = async (svc: ServiceProcess): Promise<{ caller: TwilioCaller; rt: MockRealtimeConnection; talking: Promise<void> }> => {
    const caller = await TwilioCaller.connect(svc.streamUrl, { customParameters: CALL_PARAMS });
    caller.sendConnected();
    caller.sendStart();
    const rt = await mock.nextConnection();
    await rt.waitFor('response.create');
    // The caller's line stays open (silence) until the call ends.
    const talking = caller.startTalking(Array.from({ length: 3000 }, () => SILENCE));
    rt.speak('resp_hello', 'item_hello', agentAudio(400), { transcript: 'Hello, Acme Plumbing.' });
    await caller.waitForPlayed(400);
    return { caller, rt, talking };
  };

  it('refuses new calls at once, lets the live call run to the deadline, says goodbye, hangs up over REST and exits 0', async () => {
    rest = await FakeTwilioRest.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
    const svc = await start({
      DRAIN_TIMEOUT_SECONDS: '2',
      OPERATOR_SHUTDOWN_GOODBYE: 'We are closing the line now, {{COMPANY_NAME}} will call you back. Goodbye.',
      FALLBACK_PHONE_NUMBER: FALLBACK_NUMBER,
      TWILIO_ACCOUNT_SID: ACCOUNT_SID,
      TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      TWILIO_API_BASE_URL: rest.baseUrl,
    });
    const { caller, rt, talking } = await call(svc);

    svc.signal('SIGTERM');
    await svc.waitForLog(DRAINING);
    const ready = await fetch(`${svc.httpUrl}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ error: { calls: { status: 'down', message: 'draining', activeCalls: 1 } } });

    const lateSid = `CA${'f'.repeat(32)}`;
    const webhook = await fetch(`${svc.httpUrl}/twilio/voice`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ CallSid: lateSid, From: '+15550002222', To: CALL_PARAMS.to }).toString(),
    });
    const twiml = await webhook.text();
    expect(twiml).toContain(`<Dial>${FALLBACK_NUMBER}</Dial>`);
    expect(twiml).not.toContain('<Connect');
    const lateStream = await TwilioCaller.connect(svc.streamUrl);
    expect((await lateStream.waitForClose()).code).toBe(1013);

    // The live call goes on while draining: the agent is heard, the caller is relayed.
    rt.speak('resp_more', 'item_more', agentAudio(300), { transcript: 'Anything else?' });
    await caller.waitForPlayed(700);
    const relayed = rt.appendedAudio().length;
    await rt.waitFor('input_audio_buffer.append', () => rt.appendedAudio().length > relayed);

    // At the deadline, and not before it, the agent is asked for the goodbye.
    const goodbye = await rt.waitFor('response.create', isGoodbye);
    expect(goodbye.response.instructions).toContain('We are closing the line now, Acme Plumbing will call you back. Goodbye.');
    const [draining, deadline] = [await svc.waitForLog(DRAINING), await svc.waitForLog(DEADLINE)];
    expect(deadline.activeCalls).toBe(1);
    // DRAIN_TIMEOUT_SECONDS after the drain began (less a little for log timestamps' rounding).
    expect(Date.parse(String(deadline.time)) - Date.parse(String(draining.time))).toBeGreaterThanOrEqual(1950);

    // The hang-up comes only once the goodbye has played at Twilio.
    rt.speak('resp_bye', 'item_bye', agentAudio(600), { transcript: 'Goodbye.' });
    const hangUp = await rest.waitForRequest((r) => r.callSid === caller.callSid);
    expect(hangUp.form).toEqual({ Status: 'completed' });
    expect(caller.playedMs()).toBe(1300);
    expect(caller.queuedMs()).toBe(0);

    // What Twilio does once the call is completed.
    caller.sendStop();
    expect(await svc.waitForExit()).toEqual({ code: 0, signal: null });
    await talking;

    const calls = await readCalls(dataDir);
    const record = calls.get(caller.callSid)!;
    expect(record).toMatchObject({ status: 'completed', end_reason: 'shutdown', recording: `${caller.callSid}.wav` });
    expect(record.duration_ms).toBeGreaterThan(2000);
    expect(record.transcript.filter((t) => t.speaker === 'agent').map((t) => t.text)).toEqual(['Hello, Acme Plumbing.', 'Anything else?', 'Goodbye.']);
    // The recording's header was completed: more than the 44-byte header, and a whole file.
    expect(statSync(join(dataDir, 'recordings', `${caller.callSid}.wav`)).size).toBeGreaterThan(44 + 2 * 8 * 2000);
    expect(calls.get(lateSid)).toMatchObject({ status: 'fallback', end_reason: 'draining' });
  });

  it('without REST credentials closes the stream once the goodbye has played', async () => {
    const svc = await start({ DRAIN_TIMEOUT_SECONDS: '1' });
    const { caller, rt, talking } = await call(svc);

    svc.signal('SIGTERM');
    await rt.waitFor('response.create', isGoodbye);
    rt.speak('resp_bye', 'item_bye', agentAudio(500), { transcript: 'Goodbye.' });
    const closed = await caller.waitForClose();
    expect(closed.code).toBe(1000);
    expect(caller.playedMs()).toBe(900);
    expect(await svc.waitForExit()).toEqual({ code: 0, signal: null });
    await talking;
    expect((await readCalls(dataDir)).get(caller.callSid)).toMatchObject({ status: 'completed', end_reason: 'shutdown' });
  });

  it('exits as soon as the last call ends by itself, without a goodbye', async () => {
    const svc = await start({ DRAIN_TIMEOUT_SECONDS: '600' });
    const { caller, rt, talking } = await call(svc);

    svc.signal('SIGTERM');
    await svc.waitForLog(DRAINING);
    caller.sendStop();
    // Well inside the 600 s drain timeout.
    expect(await svc.waitForExit()).toEqual({ code: 0, signal: null });
    await talking;
    expect(rt.received.some(isGoodbye)).toBe(false);
    expect(svc.logs.some(DEADLINE)).toBe(false);
    expect((await readCalls(dataDir)).get(caller.callSid)).toMatchObject({ status: 'completed', end_reason: 'twilio_stop' });
  });
});
