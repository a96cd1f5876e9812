import { MetricsServer } from '../src/metrics/metrics-server';
import { startCall } from './support/calls';
import { MockRealtimeServer } from './support/mock-realtime-server';
import { startApp, TEST_API_KEY, type TestApp } from './support/test-app';

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

/** The samples whose name and labels start with `prefix`. */
const series = (all: Map<string, number>, prefix: string) => [...all].filter(([k]) => k.startsWith(prefix));

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

  it('shows the call, its audio, its waits, its barge-in, its failures, its sockets and the process in the Prometheus text format', async () => {
    const { caller, rt } = await startCall(t, mock);
    // The greeting: 1 s in 800-byte deltas, talked over once 200 ms has played.
    rt.responseCreated('r1');
    rt.sendAudio('r1', 'item_r1', Buffer.alloc(8_000, 0xff));
    for (let i = 0; i < 5; i++) caller.sendMedia(Buffer.alloc(160, 0xff));
    await caller.waitForPlayed(200);
    await rt.waitFor('input_audio_buffer.append', () => rt.appendedAudio().length >= 5 * 160);

    const during = await fetch(`${t.httpUrl}/metrics`);
    expect(during.status).toBe(200);
    expect(during.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(samples(await during.text()).get('call_operator_active_calls')).toBe(1);

    rt.speechStarted();
    await rt.waitFor('conversation.item.truncate');
    await caller.waitFor('clear');
    rt.responseDone('r1', 'cancelled');
    // The caller's turn ends; the reply's first audio reaches Twilio.
    rt.speechStopped(1_200);
    rt.speak('r2', 'item_r2', Buffer.alloc(800, 0xfe));
    await caller.waitFor('media', (f) => Buffer.from(f.media.payload, 'base64')[0] === 0xfe);
    // A tool the model made up, and a Realtime error.
    rt.responseCreated('r3');
    rt.send({ type: 'response.function_call_arguments.done', response_id: 'r3', item_id: 'fc', output_index: 0, call_id: 'c1', name: 'call_+15551230000', arguments: '{}' });
    rt.responseDone('r3');
    await rt.waitFor('conversation.item.create', (e) => e.item?.call_id === 'c1');
    rt.error('rate_limit_exceeded');
    await t.logs.waitFor('realtime error', { code: 'rate_limit_exceeded' });

    caller.sendStop();
    await rt.waitForClose();
    await t.logs.waitFor('call ended', { callSid: caller.callSid });
    // Each side's close is counted when the service's socket has closed, a moment after the call ended.
    await t.logs.waitFor('media stream closed', { code: 1000 });
    await t.logs.waitFor('realtime socket closed', { callSid: caller.callSid, code: 1000 });
    const text = await (await fetch(`${t.httpUrl}/metrics`)).text();
    const after = samples(text);

    expect(after.get('call_operator_active_calls')).toBe(0);
    expect(series(after, 'call_operator_calls_ended_total{')).toEqual([['call_operator_calls_ended_total{status="completed",reason="twilio_stop"}', 1]]);
    expect(after.get('call_operator_media_messages_total{direction="caller_to_model"}')).toBeGreaterThanOrEqual(5);
    // The greeting's deltas sent before the barge-in, and the reply's one.
    expect(after.get('call_operator_media_messages_total{direction="model_to_caller"}')).toBeGreaterThanOrEqual(2);
    expect(after.get('call_operator_barge_ins_total')).toBe(1);
    expect(after.get('call_operator_truncations_total')).toBe(1);

    // Both waits took a few milliseconds of local sockets: positive, and far below a second.
    expect(after.get('call_operator_first_audio_seconds_count')).toBe(1);
    expect(after.get('call_operator_first_audio_seconds_sum')).toBeGreaterThan(0);
    expect(after.get('call_operator_first_audio_seconds_sum')).toBeLessThan(2);
    expect(after.get('call_operator_response_latency_seconds_count')).toBe(1);
    expect(after.get('call_operator_response_latency_seconds_sum')).toBeGreaterThan(0);
    expect(after.get('call_operator_response_latency_seconds_sum')).toBeLessThan(1);
    expect(after.get('call_operator_response_latency_seconds_bucket{le="+Inf"}')).toBe(1);

    expect(after.get('call_operator_realtime_errors_total{code="rate_limit_exceeded"}')).toBe(1);
    expect(after.get('call_operator_websocket_closes_total{socket="twilio",code="1000"}')).toBe(1);
    expect(after.get('call_operator_websocket_closes_total{socket="realtime",code="1000"}')).toBe(1);
    expect(after.get('call_operator_backpressure_drops_total{where="twilio_send"}')).toBe(0);
    expect(after.get('call_operator_backpressure_drops_total{where="realtime_early_audio"}')).toBe(0);
    expect(series(after, 'call_operator_tool_failures_total{')).toEqual([['call_operator_tool_failures_total{tool="unknown",error="unknown_tool"}', 1]]);
    expect(after.get('call_operator_crm_failures_total')).toBe(0);
    expect(series(after, 'call_operator_database_failures_total{')).toEqual(
      ['call_log_write', 'call_log_spooled', 'spool_write', 'spool_replay'].map((operation) => [`call_operator_database_failures_total{operation="${operation}"}`, 0]),
    );
    // No REDIS_URL: no Redis state to report.
    expect(text).not.toContain('call_operator_redis_up');

    expect(after.get('process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(after.get('nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(after.has('nodejs_eventloop_lag_p99_seconds')).toBe(true);
    expect(text).not.toContain(caller.callSid);
    expect(text).not.toMatch(/CA[0-9a-f]{32}|\+1555/);
  });
});

describe('GET /metrics with METRICS_PORT', () => {
  it('is served on its own port only, and that port closes with the app', async () => {
    const t = await startApp({ OPENAI_API_KEY: TEST_API_KEY, METRICS_PORT: '0' });
    const port = t.app.get(MetricsServer).port;
    try {
      const main = await fetch(`${t.httpUrl}/metrics`);
      expect(main.status).toBe(404);
      expect(await main.text()).not.toContain('call_operator_');
      expect(port).not.toBeNull();
      expect(port).not.toBe(Number(new URL(t.httpUrl).port));
      const own = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(own.status).toBe(200);
      const text = await own.text();
      expect(samples(text).get('call_operator_active_calls')).toBe(0);
      expect(text).toContain('nodejs_eventloop_lag_seconds');
      // Nothing else of the service is there.
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(404);
    } finally {
      await t.close();
    }
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
  });
});
