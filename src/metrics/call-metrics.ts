import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

/** A label value from outside (an API error code): kept only when it looks like one, so that a
 * misbehaving peer cannot grow the series without bound. */
const CODE = /^[a-z][a-z0-9_]{0,63}$/;

/**
 * What the service counts, in its own prom-client registry (Node's default process metrics
 * included), served at GET /metrics. Labels carry kinds and reasons, never phone numbers or call
 * ids. The per-frame counters are children bound to their label once, so a frame costs no label
 * lookup (about 50 ns an increment).
 */
export class CallMetrics {
  readonly registry = new Registry();
  private readonly active = new Gauge({ name: 'call_operator_active_calls', help: 'Calls in progress on this instance', registers: [this.registry] });
  private readonly ended = new Counter({
    name: 'call_operator_calls_ended_total',
    help: 'Calls ended, by status and end reason',
    labelNames: ['status', 'reason'] as const,
    registers: [this.registry],
  });
  private readonly frames = new Counter({
    name: 'call_operator_media_messages_total',
    help: 'Audio relayed: caller frames sent on to the model, and model audio deltas sent on to Twilio',
    labelNames: ['direction'] as const,
    registers: [this.registry],
  });
  private readonly callerFrames = this.frames.labels('caller_to_model');
  private readonly agentDeltas = this.frames.labels('model_to_caller');
  private readonly bargeIns = new Counter({ name: 'call_operator_barge_ins_total', help: 'Times a caller talked over the agent and the agent stopped', registers: [this.registry] });
  private readonly realtimeErrors = new Counter({
    name: 'call_operator_realtime_errors_total',
    help: 'Error events from the Realtime API, by code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });

  /** processMetrics: Node's default metrics (CPU, memory, event-loop lag, GC); off in unit tests. */
  constructor({ processMetrics = false }: { processMetrics?: boolean } = {}) {
    if (processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  callStarted(): void {
    this.active.inc();
  }

  callEnded(status: string, reason: string): void {
    this.active.dec();
    this.ended.inc({ status, reason });
  }

  callerFrame(): void {
    this.callerFrames.inc();
  }

  agentDelta(): void {
    this.agentDeltas.inc();
  }

  bargeIn(): void {
    this.bargeIns.inc();
  }

  realtimeError(code: string | null): void {
    this.realtimeErrors.inc({ code: code !== null && CODE.test(code) ? code : 'other' });
  }
}
