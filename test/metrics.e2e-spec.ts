import { MockRealtimeServer } from './support/mock-realtime-server';
import { startApp, TEST_API_KEY, type TestApp } from './support/test-app';
import { TwilioCaller } from './support/twilio-caller';

/** Every sample of the scrape: `name{labels}` to its value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

describe('GET /metrics after a call', () => {
  let t: TestApp;
  let mock: MockRealtimeServer;
  beforeAll(async () => {
    mock = await MockRealtimeServer.start();
    t = await startApp({ OPENAI_API_KEY: TEST_API_KEY, OPENAI_REALTIME_URL: mock.url });
  });
  afterAll(async () => {
    await t.close();
    await mock.close();
  });

  it('shows the call, its audio each way, its end and the process in the Prometheus text format', async () => {
    const caller = await TwilioCaller.connect(t.streamUrl, { customParameters: { from: '+15551230000', to: '+15557650000' } });
    caller.sendConnected();
    caller.sendStart();
    const rt = await mock.nextConnection();
    await rt.waitFor('response.create');
    rt.responseCreated('r1');
    rt.sendAudio('r1', 'item_r1', Buffer.alloc(1_600, 0xff));
    for (let i = 0; i < 5; i++) caller.sendMedia(Buffer.alloc(160, 0xff));
    await caller.waitForPlayed(200);
    await rt.waitFor('input_audio_buffer.append', () => rt.appendedAudio().length >= 5 * 160);

    const during = await fetch(`${t.httpUrl}/metrics`);
    expect(during.status).toBe(200);
    expect(during.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(samples(await during.text()).get('call_operator_active_calls')).toBe(1);

    caller.sendStop();
    await rt.waitForClose();
    await t.logs.waitFor('call ended', { callSid: caller.callSid });
    const text = await (await fetch(`${t.httpUrl}/metrics`)).text();
    const after = samples(text);
    expect(after.get('call_operator_active_calls')).toBe(0);
    expect(after.get('call_operator_media_messages_total{direction="caller_to_model"}')).toBeGreaterThanOrEqual(5);
    // 1,600 bytes in 800-byte deltas.
    expect(after.get('call_operator_media_messages_total{direction="model_to_caller"}')).toBe(2);
    expect([...after].filter(([k]) => k.startsWith('call_operator_calls_ended_total{'))).toEqual([
      ['call_operator_calls_ended_total{status="completed",reason="twilio_stop"}', 1],
    ]);
    expect(after.get('process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(after.has('nodejs_eventloop_lag_p99_seconds')).toBe(true);
    expect(text).not.toContain(caller.callSid);
    expect(text).not.toContain('+1555');
  });
});
