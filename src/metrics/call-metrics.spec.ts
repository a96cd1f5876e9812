import { histogramValue, metricValue } from '../../test/support/metric-value';
import { CallMetrics, closeCodeLabel } from './call-metrics';

const value = (metrics: CallMetrics, name: string, labels?: Record<string, string>) => metricValue(metrics.registry, name, labels);

describe('CallMetrics', () => {
  it('counts calls in progress and ended, by status and reason', async () => {
    const m = new CallMetrics();
    m.callStarted();
    m.callStarted();
    m.callEnded('completed', 'twilio_stop');
    expect(await value(m, 'call_operator_active_calls')).toBe(1);
    expect(await value(m, 'call_operator_calls_ended_total', { status: 'completed', reason: 'twilio_stop' })).toBe(1);
  });

  it('counts media each way and barge-ins', async () => {
    const m = new CallMetrics();
    for (let i = 0; i < 3; i++) m.callerFrame();
    m.agentDelta();
    m.bargeIn();
    expect(await value(m, 'call_operator_media_messages_total', { direction: 'caller_to_model' })).toBe(3);
    expect(await value(m, 'call_operator_media_messages_total', { direction: 'model_to_caller' })).toBe(1);
    expect(await value(m, 'call_operator_barge_ins_total')).toBe(1);
  });

  it('labels Realtime errors by code, and anything not shaped like a code as "other"', async () => {
    const m = new CallMetrics();
    m.realtimeError('rate_limit_exceeded');
    m.realtimeError('x"} 1\nfake_series 99');
    m.realtimeError(null);
    expect(await value(m, 'call_operator_realtime_errors_total', { code: 'rate_limit_exceeded' })).toBe(1);
    expect(await value(m, 'call_operator_realtime_errors_total', { code: 'other' })).toBe(2);
    expect(await m.registry.metrics()).not.toContain('fake_series');
  });

  it('labels WebSocket closes by socket and a bounded set of codes', async () => {
    const m = new CallMetrics();
    for (const code of [1000, 1000, 1006, 4503, 4000, 1002, 3000, 65535]) m.webSocketClosed('realtime', code);
    m.webSocketClosed('twilio', 1013);
    expect(await value(m, 'call_operator_websocket_closes_total', { socket: 'realtime', code: '1000' })).toBe(2);
    expect(await value(m, 'call_operator_websocket_closes_total', { socket: 'realtime', code: '1006' })).toBe(1);
    expect(await value(m, 'call_operator_websocket_closes_total', { socket: 'realtime', code: '4xxx' })).toBe(2);
    expect(await value(m, 'call_operator_websocket_closes_total', { socket: 'realtime', code: 'other' })).toBe(3);
    expect(await value(m, 'call_operator_websocket_closes_total', { socket: 'twilio', code: '1013' })).toBe(1);
    expect([1000, 1001, 1005, 1006, 1008, 1011, 1013].map(closeCodeLabel)).toEqual(['1000', '1001', '1005', '1006', '1008', '1011', '1013']);
  });

  it('observes the waits for the agent in seconds, in buckets that resolve a voice reply', async () => {
    const m = new CallMetrics();
    m.firstAudio(1.25);
    m.responseLatency(0.42);
    m.responseLatency(0.8);
    expect(await histogramValue(m.registry, 'call_operator_first_audio_seconds')).toEqual({ count: 1, sum: 1.25 });
    expect(await histogramValue(m.registry, 'call_operator_response_latency_seconds')).toEqual({ count: 2, sum: 1.22 });
    const text = await m.registry.metrics();
    expect(text).toContain('call_operator_response_latency_seconds_bucket{le="0.4"} 0\n');
    expect(text).toContain('call_operator_response_latency_seconds_bucket{le="0.5"} 1\n');
    expect(text).toContain('call_operator_response_latency_seconds_bucket{le="1"} 2\n');
  });

  it("reads Redis' state at each scrape, and has no redis_up series unless Redis is watched", async () => {
    const unwatched = new CallMetrics();
    expect(await unwatched.registry.metrics()).not.toContain('call_operator_redis_up');
    const m = new CallMetrics();
    let ready = true;
    m.watchRedis(() => ready);
    expect(await value(m, 'call_operator_redis_up')).toBe(1);
    ready = false;
    expect(await value(m, 'call_operator_redis_up')).toBe(0);
  });

  it("adds Node's process metrics when asked (the service does)", async () => {
    expect(await new CallMetrics().registry.metrics()).not.toContain('process_cpu_user_seconds_total');
    const withProcess = new CallMetrics({ processMetrics: true });
    const text = await withProcess.registry.metrics();
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('nodejs_eventloop_lag_seconds');
  });
});
