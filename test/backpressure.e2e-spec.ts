/**
 * A Twilio connection that stops reading: agent audio must not pile up in the service's memory.
 * It is dropped (counted, logged once per episode) while the socket holds more than
 * TWILIO_SEND_BUFFER_MAX_BYTES, and a stall that outlasts TWILIO_SEND_STALL_TIMEOUT_MS ends the call.
 */
import { CallLogWriter } from '../src/call-log/call-log-writer';
import { CallLogRepository } from '../src/call-log/call-record';
import { startCall } from './support/calls';
import { MockRealtimeServer, type MockRealtimeConnection } from './support/mock-realtime-server';
import { startApp, TEST_API_KEY, type TestApp } from './support/test-app';
import type { TwilioCaller } from './support/twilio-caller';

const MAX_BUFFERED = 16 * 1024;
const STALL_MS = 5_000;
/** The flood's deltas: 500 ms of audio each. */
const DELTA_BYTES = 4_000;
/** One media message to Twilio carries a delta as base64, plus its mark: the bound may be passed by one of them. */
const MESSAGE_MAX = Math.ceil(DELTA_BYTES / 3) * 4 + 400;
const DROPPING = 'twilio socket not keeping up: dropping agent audio';
const STALLED = 'twilio socket stalled: ending the call';

describe('backpressure on the Twilio socket', () => {
  let mock: MockRealtimeServer;
  let t: TestApp;

  beforeAll(async () => {
    mock = await MockRealtimeServer.start();
    t = await startApp({
      OPENAI_API_KEY: TEST_API_KEY,
      OPENAI_REALTIME_URL: mock.url,
      TWILIO_SEND_BUFFER_MAX_BYTES: String(MAX_BUFFERED),
      TWILIO_SEND_STALL_TIMEOUT_MS: String(STALL_MS),
    });
  });

  afterAll(async () => {
    await t.close();
    await mock.close();
  });

  const record = async (callSid: string) => {
    await t.app.get(CallLogWriter).drained();
    return t.app.get(CallLogRepository).get(callSid);
  };

  /**
   * The agent speaks 10 s of audio at a time, as fast as the API sends it, until the service
   * drops audio: the kernel's socket buffers take some megabytes first. Returns the milliseconds of audio it sent.
   */
  async function floodUntilDropping(caller: TwilioCaller, rt: MockRealtimeConnection): Promise<number> {
    const burst = Buffer.alloc(8 * 10_000, 0x55);
    for (let i = 1; i <= 100; i++) {
      rt.sendAudio('resp_flood', 'item_flood', burst, DELTA_BYTES);
      // Events are handled in order: once the probe is logged, the burst before it has been relayed.
      rt.error(`probe_${i}`);
      await t.logs.waitFor('realtime error', { code: `probe_${i}` });
      if (t.logs.find(DROPPING, { callSid: caller.callSid })) return (i * burst.length) / 8;
    }
    throw new Error('the Twilio socket never went over its bound');
  }

  it('drops agent audio over the bound, logs it once, and ends a call whose socket stays stalled', async () => {
    const { caller, rt } = await startCall(t, mock);
    rt.responseCreated('resp_flood');
    caller.stopReading();
    const producedMs = await floodUntilDropping(caller, rt);

    // Still stalled after the stall timeout: the next delta ends the call, as a failure.
    t.clock.skip(STALL_MS);
    rt.audioDelta('resp_flood', 'item_flood', Buffer.alloc(8 * 100, 0x55));
    const stalled = await t.logs.waitFor(STALLED, { callSid: caller.callSid });
    await rt.waitForClose();
    expect(t.logs.all(DROPPING).filter((l) => l.callSid === caller.callSid)).toHaveLength(1);
    // Memory stayed bounded: nothing more was queued once the bound was passed.
    expect(stalled.bufferedBytes).toBeLessThanOrEqual(MAX_BUFFERED + MESSAGE_MAX);

    caller.resumeReading();
    expect((await caller.waitForClose()).code).toBe(1011);
    const rec = await record(caller.callSid);
    expect(rec).toMatchObject({ status: 'failed', endReason: 'twilio_backpressure' });
    const counted = rec!.details.twilioBackpressure as { episodes: number; droppedAudioMs: number };
    expect(counted.episodes).toBe(1);
    expect(counted.droppedAudioMs).toBe(stalled.droppedAudioMs);
    // All the audio the agent produced was either delivered or counted as dropped (the delta that
    // found the socket stalled included).
    const deliveredMs = Buffer.concat(caller.media).length / 8;
    expect(deliveredMs + counted.droppedAudioMs).toBe(producedMs + 100);
    expect(counted.droppedAudioMs).toBeGreaterThan(0);
  });

  it('sends again once the socket drains, and the call goes on with the episode counted', async () => {
    const { caller, rt } = await startCall(t, mock);
    rt.responseCreated('resp_flood');
    caller.stopReading();
    await floodUntilDropping(caller, rt);
    rt.audioDone('resp_flood', 'item_flood');
    rt.responseDone('resp_flood');

    caller.resumeReading();
    // The agent's next words reach the caller once the backlog has been read.
    const marker = 0x33;
    for (let i = 1; i <= 50 && !caller.media.some((m) => m[0] === marker); i++) {
      rt.speak(`resp_after_${i}`, `item_after_${i}`, Buffer.alloc(8 * 100, marker));
      rt.error(`after_${i}`);
      await t.logs.waitFor('realtime error', { code: `after_${i}` });
    }
    await caller.waitFor('media', (f) => Buffer.from(f.media.payload, 'base64')[0] === marker);

    caller.sendStop();
    await caller.waitForClose();
    const rec = await record(caller.callSid);
    expect(rec).toMatchObject({ status: 'completed', endReason: 'twilio_stop' });
    expect(rec!.details.twilioBackpressure).toEqual({ episodes: 1, droppedAudioMs: expect.any(Number) });
    expect(t.logs.all(DROPPING).filter((l) => l.callSid === caller.callSid)).toHaveLength(1);
    expect(t.logs.find(STALLED, { callSid: caller.callSid })).toBeUndefined();
  });
});
