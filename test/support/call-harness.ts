import type { Call } from '../../src/call/call';
import { CallFactory } from '../../src/call/call-factory';
import { CallMetrics } from '../../src/metrics/call-metrics';
import { CallRecordsFactory } from '../../src/call/call-records';
import { CallRegistry } from '../../src/call/call-registry';
import { CallLog } from '../../src/call-log/call-log.service';
import { CallLogWriter } from '../../src/call-log/call-log-writer';
import { CallLogRepository, type CallListPage, type CallRecord } from '../../src/call-log/call-record';
import { ManualClock } from '../../src/common/clock';
import { ManualScheduler } from '../../src/common/scheduler';
import { AppConfig } from '../../src/config/app-config';
import { validateEnvironment } from '../../src/config/env.schema';
import { NoopCrmService } from '../../src/crm/noop-crm.service';
import { AppLogger } from '../../src/logging/app-logger';
import { MediaStreamHandshake } from '../../src/phone-line/media-stream-handshake';
import { EnvironmentProfileResolver } from '../../src/profile/call-profile.resolver';
import { RealtimeClient, RealtimeConnector, type RealtimeListener } from '../../src/realtime/realtime-client';
import { RecordingLinks } from '../../src/recording/recording-links';
import { RecordingService } from '../../src/recording/recording.service';
import type { AutomaticCallbacks, EndedInboundCall } from '../../src/outbound/automatic-callbacks';
import type { StreamTokens } from '../../src/security/stream-tokens';
import { InMemorySessionStore } from '../../src/session/session-store';
import { CallSummaries } from '../../src/summary/call-summaries';
import { DisabledCallSummarizer } from '../../src/summary/call-summarizer';
import { ToolRegistry } from '../../src/tools/tool-registry';
import { TwilioRestCallControl, type TwilioCallControl } from '../../src/twilio/twilio-call-control';
import { FakeSocket } from './fake-socket';

/** Call records kept in memory. */
export class MemoryRepository extends CallLogRepository {
  readonly rows = new Map<string, CallRecord>();
  async save(record: CallRecord): Promise<void> {
    this.rows.set(record.callSid, record);
  }
  async get(callSid: string): Promise<CallRecord | undefined> {
    return this.rows.get(callSid);
  }
  async list(): Promise<CallListPage> {
    return { items: [...this.rows.values()], total: this.rows.size };
  }
  async mergeCrm(): Promise<boolean> {
    return false;
  }
  async hasJobRequestFrom(number: string, since: string): Promise<boolean> {
    return [...this.rows.values()].some((r) => r.from === number && r.startedAt >= since && r.details.jobRequest !== undefined);
  }
  async inProgress(startedBefore: string, limit: number): Promise<string[]> {
    return [...this.rows.values()]
      .filter((r) => r.status === 'in-progress' && r.startedAt < startedBefore)
      .sort((a, b) => a.startedAt.localeCompare(b.startedAt))
      .slice(0, limit)
      .map((r) => r.callSid);
  }
  async endAbandoned(callSid: string, endReason: string, endedAt: string | null, details: Record<string, unknown>): Promise<boolean> {
    const r = this.rows.get(callSid);
    if (r?.status !== 'in-progress') return false;
    const end = endedAt !== null && endedAt > r.startedAt ? endedAt : r.startedAt;
    const durationMs = Date.parse(end) - Date.parse(r.startedAt);
    this.rows.set(callSid, { ...r, status: 'failed', endReason, endedAt: end, durationMs, details: { ...r.details, ...details } });
    return true;
  }
}

/** Opens every Realtime connection on a FakeSocket the test plays the server of. */
export class FakeRealtimeConnector extends RealtimeConnector {
  readonly sockets: FakeSocket[] = [];
  override connect(listener: RealtimeListener): RealtimeClient {
    const socket = new FakeSocket(false);
    this.sockets.push(socket);
    return new RealtimeClient(socket.ws, 'ga', listener, 60_000, this.scheduler);
  }
}

export const CALL_SID = 'CA' + 'a'.repeat(32);
export const STREAM_SID = 'MZ' + 'b'.repeat(32);

/**
 * A media stream connection as the gateway takes it (handshake, then the call), wired to
 * in-memory services, one ManualClock and its ManualScheduler, and FakeSockets: the test plays
 * Twilio (`twilio`) and the Realtime server (`connector.sockets`), and reads the log lines.
 */
/**
 * Admits every stream, and at once: a thenable that answers as `.then` is called, so the call is
 * built in the same turn as its start frame. The token check has its own tests.
 */
const admitAtOnce: Pick<StreamTokens, 'redeem'> = {
  redeem: () => ({ then: (admit: (refusal: null) => unknown) => admit(null) }) as unknown as Promise<null>,
};

export function callHarness(env: Record<string, string> = {}, options: { control?: TwilioCallControl; tokens?: Pick<StreamTokens, 'redeem'> } = {}) {
  const config = new AppConfig(
    validateEnvironment({ LOG_LEVEL: 'info', OPENAI_API_KEY: 'sk-test-0123456789', RECORDING_ENABLED: 'false', OPENAI_CONNECT_TIMEOUT_MS: '1000', ...env }),
  );
  const logs: Array<Record<string, unknown>> = [];
  const logger = new AppLogger(config, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const clock = new ManualClock();
  const scheduler = new ManualScheduler(clock);
  const connector = new FakeRealtimeConnector(config, scheduler);
  const sessions = new InMemorySessionStore(config, clock);
  const registry = new CallRegistry(config, clock, scheduler, logger);
  const repository = new MemoryRepository();
  const metrics = new CallMetrics();
  const writer = new CallLogWriter(repository, config, logger, scheduler, metrics);
  const tools = new ToolRegistry(clock, scheduler);
  tools.register({ name: 'note', description: 'answers at once', parameters: { type: 'object' }, handler: async () => ({ noted: true }) });
  tools.register({
    name: 'hang_up',
    description: 'waits for the agent to finish speaking, as end_call does',
    parameters: { type: 'object' },
    handler: async (_args, ctx) => {
      await ctx.call.agentFinishedSpeaking();
      ctx.call.markOutcome('hangup');
      return { ok: true };
    },
  });
  const endedCalls: EndedInboundCall[] = [];
  const records = new CallRecordsFactory(
    new CallLog(writer, config, clock, scheduler),
    new RecordingService(config, logger),
    new RecordingLinks(config, clock, logger),
    sessions,
    new NoopCrmService(),
    clock,
    { callEnded: (call: EndedInboundCall) => void endedCalls.push(call) } as AutomaticCallbacks,
    new CallSummaries(new DisabledCallSummarizer(), config, clock, scheduler, logger, metrics),
  );
  const factory = new CallFactory(
    config,
    clock,
    scheduler,
    logger,
    registry,
    new EnvironmentProfileResolver(config),
    records,
    connector,
    tools,
    options.control ?? new TwilioRestCallControl(config, logger),
    metrics,
  );
  let call: Call | null = null;
  const twilio = new FakeSocket();
  new MediaStreamHandshake(twilio.ws, twilio, {
    calls: { start: (started, handshake) => (call = factory.start(started, handshake)) },
    tokens: options.tokens ?? admitAtOnce,
    registry,
    scheduler,
    log: logger.child({ component: 'media-stream' }),
  });
  return {
    /** The call, once the stream has started. */
    get call(): Call | null {
      return call;
    },
    twilio,
    connector,
    sessions,
    registry,
    metrics,
    writer,
    clock,
    scheduler,
    logs,
    records: (): CallRecord[] => [...repository.rows.values()],
    /** What each ended call told the automatic callbacks. */
    endedCalls,
  };
}
export type CallHarness = ReturnType<typeof callHarness>;
