/**
 * The call simulator (src/simulator) against the real application, with the mock Realtime server
 * playing the model: the webhook signed and its TwiML followed, caller audio in real time, agent
 * audio played with marks echoed and clears honoured, the timings, and `npm run call` itself.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SystemClock } from '../src/common/clock';
import { SystemScheduler } from '../src/common/scheduler';
import { rms, toneSpeech, wavToMuLaw, writeMuLawWav } from '../src/simulator/audio';
import { SimulatedCall, type CallEvent } from '../src/simulator/simulated-call';
import { MockRealtimeServer } from './support/mock-realtime-server';
import { ensureBuilt } from './support/service-process';
import { freshDataDir, startApp, TEST_API_KEY, type TestApp } from './support/test-app';
import { deferred } from './support/wait';

const AUTH_TOKEN = 'simulator-auth-token-0123456789ab';
const API_TOKEN = 'simulator-api-token-0123456789abcdef';
const clock = new SystemClock();
const scheduler = new SystemScheduler();

/** Agent audio the simulator must play back byte for byte: never 0xff (silence). */
function agentAudio(ms: number, seed: number): Buffer {
  const audio = Buffer.alloc(ms * 8);
  for (let i = 0; i < audio.length; i++) audio[i] = (seed + i) % 250;
  return audio;
}

describe('call simulator', () => {
  let mock: MockRealtimeServer;
  let t: TestApp;
  const dir = mkdtempSync(join(tmpdir(), 'simulator-e2e-'));

  beforeAll(async () => {
    mock = await MockRealtimeServer.start();
    t = await startApp({
      OPENAI_API_KEY: TEST_API_KEY,
      OPENAI_REALTIME_URL: mock.url,
      TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      TWILIO_VALIDATE_SIGNATURE: 'true',
      API_TOKEN,
      OPERATOR_COMPANY_NAME: 'Acme Plumbing',
    });
  });

  afterAll(async () => {
    await t.close();
    await mock.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const place = (events: CallEvent[] = []) =>
    SimulatedCall.place({ url: t.httpUrl, authToken: AUTH_TOKEN, from: '+14155552671', clock, scheduler, onEvent: (e) => events.push(e) });

  it('places the call as Twilio would: signed webhook, the TwiML stream with its parameters, caller audio in real time', async () => {
    const events: CallEvent[] = [];
    const call = await place(events);
    const rt = await mock.nextConnection();
    // The stream token the webhook minted came back in the start frame: the call was admitted.
    await rt.waitFor('response.create');
    const answered = events.find((e) => e.type === 'answered');
    expect(answered).toMatchObject({ type: 'answered', answer: { stream: { parameters: { callSid: call.callSid, from: '+14155552671', direction: 'inbound' } } } });
    expect(answered?.type === 'answered' && answered.answer.stream?.parameters.streamToken).toMatch(/\S{20,}/);
    expect(answered?.type === 'answered' && answered.streamUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/twilio\/stream$/);
    expect(t.logs.lines.some((l) => l.msg === 'media stream upgrade refused: bad signature')).toBe(false);

    const speech = toneSpeech('one two three four five six', 440);
    const startedAt = clock.now();
    await call.say(speech);
    const tookMs = clock.now() - startedAt;
    // Real time: one 20 ms frame every 20 ms.
    expect(tookMs).toBeGreaterThanOrEqual((speech.length / 8) * 0.9);
    await rt.waitFor('input_audio_buffer.append', () => rt.appendedAudio().includes(speech.subarray(0, Math.floor(speech.length / 160) * 160)));
    // Silence frames flow between turns, as on a phone line.
    expect(rt.appendedAudio().subarray(0, 160).every((b) => b === 0xff)).toBe(true);

    await call.hangUp();
    expect(call.report()).toMatchObject({ closedBy: 'caller', closeCode: 1000 });
    await t.logs.waitFor('call ended', { callSid: call.callSid });
  });

  it('plays the agent in real time, echoes its marks, measures first audio and reply latency, and saves what was heard', async () => {
    const call = await place();
    const rt = await mock.nextConnection();
    await rt.waitFor('response.create');
    const greeting = agentAudio(600, 1);
    rt.speak('resp_1', 'item_1', greeting, { transcript: 'Acme Plumbing, how can I help?' });
    await call.waitForReply();
    await call.waitForQuiet(200);
    expect(call.report().firstAudioMs).toBeGreaterThan(0);
    expect(call.report().marksEchoed).toBeGreaterThan(0);

    const said = deferred();
    const saying = call.say(toneSpeech('hello there', 440)).then(() => said.resolve());
    await said.promise;
    await saying;
    const replyAfterMs = 400;
    const reply = deferred();
    scheduler.after(replyAfterMs, () => reply.resolve());
    await reply.promise;
    rt.speak('resp_2', 'item_2', agentAudio(300, 7));
    await call.waitForReply();
    await call.waitForQuiet(200);

    const report = call.report();
    expect(report.turns).toHaveLength(1);
    expect(report.turns[0].latencyMs).toBeGreaterThanOrEqual(replyAfterMs - 40);
    expect(report.turns[0].latencyMs).toBeLessThan(replyAfterMs + 500);
    // Everything played, in order, byte for byte.
    expect(call.agentAudio()).toEqual(Buffer.concat([greeting, agentAudio(300, 7)]));
    const out = join(dir, 'agent.wav');
    await writeMuLawWav(out, call.agentAudio());
    expect(wavToMuLaw(readFileSync(out), out)).toEqual(call.agentAudio());
    await call.hangUp();
  });

  it('honours clear at a barge-in: the rest of the reply is dropped and the service learns what was heard from the marks', async () => {
    const call = await place();
    const rt = await mock.nextConnection();
    await rt.waitFor('response.create');
    const long = agentAudio(3000, 3);
    rt.responseCreated('resp_1');
    rt.sendAudio('resp_1', 'item_1', long, 800);
    await call.waitForReply();
    const played = deferred();
    scheduler.after(700, () => played.resolve());
    await played.promise;
    rt.speechStarted(0, 'item_user_1');
    const truncate = await rt.waitFor('conversation.item.truncate');
    await call.waitForQuiet(300);
    const report = call.report();
    expect(report.clears).toBe(1);
    expect(report.agentAudioMs).toBeGreaterThan(500);
    expect(report.agentAudioMs).toBeLessThan(1500);
    expect(call.agentAudio()).toEqual(long.subarray(0, call.agentAudio().length));
    // The service's idea of what the caller heard, from the echoed marks, is what was played.
    expect(truncate.audio_end_ms).toBeLessThanOrEqual(report.agentAudioMs + 20);
    expect(truncate.audio_end_ms).toBeGreaterThan(report.agentAudioMs - 300);
    await call.hangUp();
  });

  it('says clearly why no call could be placed', async () => {
    await expect(SimulatedCall.place({ url: t.httpUrl, clock, scheduler })).rejects.toThrow(/refused the request \(403\).*TWILIO_AUTH_TOKEN/);
    await expect(SimulatedCall.place({ url: 'http://127.0.0.1:9', clock, scheduler })).rejects.toThrow(/could not reach the service/);
    // No OPENAI_API_KEY: the webhook answers with the fallback. A data directory of its own, as
    // the first app still has the shared one.
    const dataDir = await freshDataDir();
    const noKey = await startApp({ DATA_DIR: dataDir });
    try {
      await expect(SimulatedCall.place({ url: noKey.httpUrl, clock, scheduler })).rejects.toThrow(/did not connect a stream: its TwiML does Say, Hangup/);
    } finally {
      await noKey.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('npm run call: a WAV in, the transcript from the call API, timings out, the agent audio saved', async () => {
    ensureBuilt();
    const input = join(dir, 'caller.wav');
    await writeMuLawWav(input, toneSpeech('my pipe burst in the basement', 440));
    const out = join(dir, 'cli-agent.wav');
    const child = spawn(process.execPath, ['dist/src/simulator/call-cli.js', '--url', t.httpUrl, '--wav', input, '--out', out, '--hang-up-after', '1s'], {
      cwd: join(__dirname, '..'),
      env: { PATH: process.env.PATH ?? '', TWILIO_AUTH_TOKEN: AUTH_TOKEN, API_TOKEN },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));

    const rt = await mock.nextConnection(15_000);
    await rt.waitFor('response.create');
    rt.speak('resp_1', 'item_1', agentAudio(500, 5), { transcript: 'Acme Plumbing, how can I help?' });
    // The caller speaks once the greeting has played: voiced audio reaches the model.
    await rt.waitFor('input_audio_buffer.append', (e) => rms(Buffer.from(e.audio, 'base64')) > 1000, 15_000);
    rt.speechStarted(0, 'item_user_1');
    await rt.waitFor('input_audio_buffer.append', () => rt.appendedAudio().subarray(-1600).every((b) => b === 0xff), 15_000);
    rt.speechStopped(0, 'item_user_1');
    rt.send({ type: 'conversation.item.input_audio_transcription.completed', item_id: 'item_user_1', content_index: 0, transcript: 'My pipe burst in the basement.' });
    rt.speak('resp_2', 'item_2', agentAudio(400, 9), { transcript: 'Please turn off the main valve.' });

    expect(await exited).toBe(0);
    expect(stderr).toBe('');
    expect(stdout).toMatch(/webhook answered in \d+ ms: <Stream url="wss:\/\/127\.0\.0\.1:\d+\/twilio\/stream"> with \d+ parameters/);
    expect(stdout).toMatch(/agent\s+"Acme Plumbing, how can I help\?"/);
    expect(stdout).toMatch(/caller\s+"My pipe burst in the basement\."/);
    expect(stdout).toMatch(/agent\s+"Please turn off the main valve\."/);
    expect(stdout).toMatch(/first agent audio: \d+ ms after the stream started/);
    expect(stdout).toMatch(/turn 1: \d+ ms from the end of the caller's speech to the agent's first audio/);
    expect(existsSync(out)).toBe(true);
    expect(wavToMuLaw(readFileSync(out), out)).toEqual(Buffer.concat([agentAudio(500, 5), agentAudio(400, 9)]));
  }, 60_000);
});
