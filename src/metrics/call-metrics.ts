import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** A label value from outside (an API error code): kept only when it looks like one, so that a
 * misbehaving peer cannot grow the series without bound. */
const CODE = /^[a-z][a-z0-9_]{0,63}$/;

/** WebSocket close codes kept as they are; the rest become "4xxx" (application codes) or "other". */
const KNOWN_CLOSE_CODES = new Set([1000, 1001, 1005, 1006, 1008, 1011, 1013]);

/** A bounded label for a WebSocket close code. */
export function closeCodeLabel(code: number): string {
  if (KNOWN_CLOSE_CODES.has(code)) return String(code);
  return code >= 4000 && code <= 4999 ? '4xxx' : 'other';
}

/** Seconds a caller waits for the agent's voice: from a tenth of a second to several. */
const VOICE_WAIT_BUCKETS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10];

export type WebSocketPeer = 'twilio' | 'realtime';

/** What a webhook delivery attempt came to: a 2xx, a failure to be retried, or a failure that ends the delivery. */
const WEBHOOK_OUTCOMES = ['delivered', 'retried', 'failed'] as const;
export type WebhookAttemptOutcome = (typeof WEBHOOK_OUTCOMES)[number];

/** What a call's written summary came to: made, or why not (src/call-log/call-summary.ts). */
const SUMMARY_OUTCOMES = ['ready', 'timeout', 'error', 'incomplete', 'refused', 'empty', 'shutdown'] as const;
export type SummaryOutcome = (typeof SUMMARY_OUTCOMES)[number];

/**
 * What a database failure was doing: `call_log_write` a write of a call record (each failed
 * attempt; it is retried), `call_log_spooled` a finished record the database still refused, put in
 * the spool file instead, `spool_write` a record that could not be spooled (lost), `spool_replay` a
 * spooled record that failed to replay at boot.
 */
const DATABASE_OPERATIONS = ['call_log_write', 'call_log_spooled', 'spool_write', 'spool_replay'] as const;
export type DatabaseOperation = (typeof DATABASE_OPERATIONS)[number];

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
  private readonly truncations = new Counter({
    name: 'call_operator_truncations_total',
    help: 'conversation.item.truncate sent: the model told where the caller stopped hearing its reply',
    registers: [this.registry],
  });
  private readonly firstAudioSeconds = new Histogram({
    name: 'call_operator_first_audio_seconds',
    help: "From the stream's start to the agent's first audio sent to Twilio",
    buckets: VOICE_WAIT_BUCKETS,
    registers: [this.registry],
  });
  private readonly responseLatencySeconds = new Histogram({
    name: 'call_operator_response_latency_seconds',
    help: "From the caller's speech_stopped to the first audio of the reply sent to Twilio",
    buckets: VOICE_WAIT_BUCKETS,
    registers: [this.registry],
  });
  private readonly closes = new Counter({
    name: 'call_operator_websocket_closes_total',
    help: 'WebSocket closes, by socket (twilio, realtime) and close code (known codes, "4xxx" or "other")',
    labelNames: ['socket', 'code'] as const,
    registers: [this.registry],
  });
  private readonly drops = new Counter({
    name: 'call_operator_backpressure_drops_total',
    help: 'Audio messages dropped under backpressure: agent audio for a Twilio socket not reading (twilio_send), caller audio over the bound while no Realtime socket was open (realtime_early_audio)',
    labelNames: ['where'] as const,
    registers: [this.registry],
  });
  // Bound once: under backpressure a drop can happen on every message.
  private readonly twilioSendDrops = this.drops.labels('twilio_send');
  private readonly earlyAudioDrops = this.drops.labels('realtime_early_audio');
  private readonly crmFailures = new Counter({
    name: 'call_operator_crm_failures_total',
    help: 'CRM jobs that finally failed: retries exhausted, not retryable, circuit breaker open or queue full',
    registers: [this.registry],
  });
  private readonly toolFailures = new Counter({
    name: 'call_operator_tool_failures_total',
    help: 'Tool calls that failed, by tool ("unknown" for a name no tool has) and error',
    labelNames: ['tool', 'error'] as const,
    registers: [this.registry],
  });
  private readonly databaseFailures = new Counter({
    name: 'call_operator_database_failures_total',
    help: 'Database failures of the call log, by operation',
    labelNames: ['operation'] as const,
    registers: [this.registry],
  });
  private readonly webhookAttempts = new Counter({
    name: 'call_operator_webhook_attempts_total',
    help: 'Post-call webhook delivery attempts, by outcome: delivered (2xx), retried, failed (the delivery is given up)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  private readonly summaries = new Counter({
    name: 'call_operator_call_summaries_total',
    help: "Calls' written summaries by the text model, by outcome: ready (made), or why none was (timeout, error, incomplete, refused, empty, shutdown)",
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  private readonly realtimeErrors = new Counter({
    name: 'call_operator_realtime_errors_total',
    help: 'Error events from the Realtime API, by code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });

  /** processMetrics: Node's default metrics (CPU, memory, event-loop lag, GC); off in unit tests. */
  constructor({ processMetrics = false }: { processMetrics?: boolean } = {}) {
    if (processMetrics) collectDefaultMetrics({ register: this.registry });
    // Series whose labels are known are shown from the start at 0, so that a first failure is an increase.
    for (const child of [this.callerFrames, this.agentDeltas, this.twilioSendDrops, this.earlyAudioDrops]) child.inc(0);
    for (const operation of DATABASE_OPERATIONS) this.databaseFailures.inc({ operation }, 0);
    for (const outcome of WEBHOOK_OUTCOMES) this.webhookAttempts.inc({ outcome }, 0);
    for (const outcome of SUMMARY_OUTCOMES) this.summaries.inc({ outcome }, 0);
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

  truncation(): void {
    this.truncations.inc();
  }

  firstAudio(seconds: number): void {
    this.firstAudioSeconds.observe(seconds);
  }

  responseLatency(seconds: number): void {
    this.responseLatencySeconds.observe(seconds);
  }

  realtimeError(code: string | null): void {
    this.realtimeErrors.inc({ code: code !== null && CODE.test(code) ? code : 'other' });
  }

  webSocketClosed(socket: WebSocketPeer, code: number): void {
    this.closes.inc({ socket, code: closeCodeLabel(code) });
  }

  twilioSendDropped(): void {
    this.twilioSendDrops.inc();
  }

  earlyAudioDropped(): void {
    this.earlyAudioDrops.inc();
  }

  crmFailure(): void {
    this.crmFailures.inc();
  }

  /** `tool`: a registered tool's name (names are checked at registration), or "unknown". */
  toolFailure(tool: string, error: string): void {
    this.toolFailures.inc({ tool, error });
  }

  databaseFailure(operation: DatabaseOperation): void {
    this.databaseFailures.inc({ operation });
  }

  webhookAttempt(outcome: WebhookAttemptOutcome): void {
    this.webhookAttempts.inc({ outcome });
  }

  callSummary(outcome: SummaryOutcome): void {
    this.summaries.inc({ outcome });
  }

  /**
   * `call_operator_redis_up`, read at each scrape: 1 while commands can be sent, 0 while not.
   * Registered only when Redis is configured, so that without REDIS_URL the series is absent.
   */
  watchRedis(ready: () => boolean): void {
    const up = new Gauge({
      name: 'call_operator_redis_up',
      help: 'Whether Redis takes commands now (1) or not (0); absent when REDIS_URL is not set',
      registers: [],
      collect() {
        this.set(ready() ? 1 : 0);
      },
    });
    this.registry.registerMetric(up);
  }
}
