import { metricValue } from '../../test/support/metric-value';
import { CallMetrics } from './call-metrics';

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

  it("adds Node's process metrics when asked (the service does)", async () => {
    expect(await new CallMetrics().registry.metrics()).not.toContain('process_cpu_user_seconds_total');
    const withProcess = new CallMetrics({ processMetrics: true });
    const text = await withProcess.registry.metrics();
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('nodejs_eventloop_lag_seconds');
  });
});
