import pino from 'pino';
import { LogCapture } from '../../test/support/log-capture';
import { MockRealtimeServer } from '../../test/support/mock-realtime-server';
import { Waiters } from '../../test/support/wait';
import { ManualClock } from '../common/clock';
import { ManualScheduler } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import { CallMetrics } from '../metrics/call-metrics';
import { metricValue } from '../../test/support/metric-value';
import { RealtimeConnector } from './realtime-client';
import { buildInstructedResponse, buildSessionUpdate, type RealtimeServerEvent } from './realtime-protocol';

const VAD = { threshold: 0.5, prefixPaddingMs: 300, silenceDurationMs: 500 };
/** A response.create carrying `text` as its instructions: a marker the test can find on a socket. */
const said = (text: string) => (e: { response?: { instructions?: string } }) => e.response?.instructions === text;
import { CONNECT_RETRY_BACKOFF_MS, REOPEN_MIN_INTERVAL_MS, RealtimeLink, type LinkChange, type LinkClosed, type RealtimeLinkListener } from './realtime-link';

type Report =
  | { kind: 'open'; change: LinkChange }
  | { kind: 'event'; event: RealtimeServerEvent }
  | { kind: 'reconnecting'; closed: LinkClosed }
  | { kind: 'lost'; closed: LinkClosed };

describe('RealtimeLink', () => {
  let mock: MockRealtimeServer;
  let clock: ManualClock;
  let scheduler: ManualScheduler;
  let reports: Report[];
  let waiters: Waiters;
  let link: RealtimeLink;
  let logs: LogCapture;
  let listener: RealtimeLinkListener;
  let metrics: CallMetrics;
  const closes = (code: string) => metricValue(metrics.registry, 'call_operator_websocket_closes_total', { socket: 'realtime', code });

  function until<K extends Report['kind']>(kind: K, nth = 1): Promise<Extract<Report, { kind: K }>> {
    return waiters.until(
      `report #${nth} "${kind}"`,
      () => reports.filter((r): r is Extract<Report, { kind: K }> => r.kind === kind)[nth - 1],
      () => reports.map((r) => r.kind).join(', ') || '(nothing)',
    );
  }

  function serverError(code: string): Promise<RealtimeServerEvent> {
    return waiters.until(
      `error event ${code}`,
      () => reports.find((r): r is Extract<Report, { kind: 'event' }> => r.kind === 'event' && r.event.type === 'error' && r.event.code === code)?.event,
      () => reports.map((r) => (r.kind === 'event' ? r.event.type : r.kind)).join(', '),
    );
  }

  beforeEach(async () => {
    mock = await MockRealtimeServer.start();
    const config = new AppConfig(validateEnvironment({ OPENAI_API_KEY: 'sk-test-0123456789', OPENAI_REALTIME_URL: mock.url }));
    clock = new ManualClock();
    scheduler = new ManualScheduler(clock);
    reports = [];
    waiters = new Waiters('RealtimeLink listener');
    logs = new LogCapture();
    metrics = new CallMetrics();
    const report = (r: Report) => {
      reports.push(r);
      waiters.notify();
    };
    link = new RealtimeLink({
      connector: new RealtimeConnector(config, scheduler),
      scheduler,
      clock,
      log: pino({ level: 'debug' }, logs),
      connectTimeoutMs: config.openai.connectTimeoutMs,
      metrics,
    });
    listener = {
      onSessionOpen: (change) => {
        // As the call does: the session is configured before the early audio goes out.
        link.send(buildSessionUpdate('ga', { model: 'gpt-realtime', instructions: `session ${change}`, voice: 'alloy', transcriptionModel: undefined, vad: VAD }));
        report({ kind: 'open', change });
      },
      onEvent: (event) => report({ kind: 'event', event }),
      onReconnecting: (closed) => report({ kind: 'reconnecting', closed }),
      onLost: (closed) => report({ kind: 'lost', closed }),
    };
  });

  afterEach(async () => {
    link.close();
    await mock.close();
  });

  it('retries a refused first connect once, after the backoff', async () => {
    mock.acceptConnections = false;
    link.connect(listener);
    await logs.waitFor('realtime connect failed; retrying', { code: 4503 });
    expect(scheduler.pending).toBe(1);
    expect(link.isOpen).toBe(false);
    mock.acceptConnections = true;
    scheduler.advance(CONNECT_RETRY_BACKOFF_MS - 1);
    expect(mock.connections).toHaveLength(0);
    scheduler.advance(1);
    expect(await until('open')).toEqual({ kind: 'open', change: 'connected' });
    expect(link.isOpen).toBe(true);
    expect(reports.some((r) => r.kind === 'lost')).toBe(false);
  });

  it('gives up when the retry fails too', async () => {
    mock.acceptConnections = false;
    link.connect(listener);
    await logs.waitFor('realtime connect failed; retrying', { code: 4503 });
    expect(scheduler.pending).toBe(1);
    scheduler.advance(CONNECT_RETRY_BACKOFF_MS);
    const lost = await until('lost');
    expect(lost.closed).toMatchObject({ opened: false, change: 'connected', code: 4503 });
    expect(scheduler.pending).toBe(0);
    // Both refusals, as the application range rather than as HTTP statuses.
    expect(await closes('4xxx')).toBe(2);
  });

  it('reopens a dropped socket, passes on only the current socket\'s events, and bounds reopening', async () => {
    link.connect(listener);
    await until('open');
    const first = await mock.nextConnection();
    first.terminate();
    expect((await until('reconnecting')).closed).toMatchObject({ opened: true, change: 'connected' });
    expect(await until('open', 2)).toEqual({ kind: 'open', change: 'reopened' });
    const second = await mock.nextConnection();
    second.error('from_second');
    await serverError('from_second');
    expect(link.send(buildInstructedResponse('ping_second'))).toBe(true);
    await second.waitFor('response.create', said('ping_second'));

    // A second drop soon after the reopen is not reopened.
    clock.advance(REOPEN_MIN_INTERVAL_MS - 1);
    second.terminate();
    expect((await until('lost')).closed).toMatchObject({ opened: true, change: 'reopened' });
    expect(mock.connections).toHaveLength(2);
    expect(await closes('1006')).toBe(2);
  });

  it('reopens again once the interval has passed', async () => {
    link.connect(listener);
    await until('open');
    (await mock.nextConnection()).terminate();
    await until('open', 2);
    clock.advance(REOPEN_MIN_INTERVAL_MS);
    (await mock.nextConnection()).terminate();
    expect(await until('open', 3)).toEqual({ kind: 'open', change: 'reopened' });
    expect(reports.filter((r) => r.kind === 'reconnecting')).toHaveLength(2);
  });

  it('reports a reopen that fails to connect as lost, without a retry', async () => {
    link.connect(listener);
    await until('open');
    mock.acceptConnections = false;
    (await mock.nextConnection()).terminate();
    expect((await until('lost')).closed).toMatchObject({ opened: false, change: 'reopened' });
    expect(scheduler.pending).toBe(0);
  });

  it('switches to the next session only once it is open, closing the old socket without a report', async () => {
    link.connect(listener);
    await until('open');
    const old = await mock.nextConnection();
    expect(link.switchToNext()).toBe(false);
    link.prepareNext();
    link.prepareNext();
    const next = await mock.nextConnection();
    await logs.waitFor('next realtime session ready');
    expect(link.nextReady).toBe(true);
    // Until the switch the old socket is the current one.
    link.send(buildInstructedResponse('before_switch'));
    await old.waitFor('response.create', said('before_switch'));
    expect(link.switchToNext()).toBe(true);
    expect(await until('open', 2)).toEqual({ kind: 'open', change: 'rolled_over' });
    expect(await old.waitForClose()).toMatchObject({ code: 1000 });
    link.send(buildInstructedResponse('after_switch'));
    await next.waitFor('response.create', said('after_switch'));
    expect(next.received.some(said('before_switch'))).toBe(false);
    expect(mock.connections).toHaveLength(2);
    // The old socket's close is neither a drop nor a loss; the new one's events come through.
    next.error('from_next');
    await serverError('from_next');
    // The next socket's session.created came before the switch: not the call's business.
    expect(reports.filter((r) => r.kind === 'event' && r.event.type === 'session.created')).toHaveLength(1);
    expect(reports.filter((r) => r.kind === 'reconnecting' || r.kind === 'lost')).toEqual([]);
  });

  it('reports nothing once closed, but counts the close', async () => {
    link.connect(listener);
    await until('open');
    const conn = await mock.nextConnection();
    link.close();
    await conn.waitForClose();
    await logs.waitFor('realtime socket closed', { code: 1000 });
    expect(await closes('1000')).toBe(1);
    expect(link.isOpen).toBe(false);
    expect(reports.filter((r) => r.kind !== 'event')).toEqual([{ kind: 'open', change: 'connected' }]);
  });

  describe('caller audio while no socket is open', () => {
    const frame = (k: number) => Buffer.alloc(160, k).toString('base64');
    const byte = (k: number) => (e: { audio?: string }) => Buffer.from(e.audio ?? '', 'base64')[0] === k;
    const appended = (conn: { received: Array<{ type: string; audio?: string }> }) =>
      conn.received.filter((e) => e.type === 'input_audio_buffer.append').map((e) => Buffer.from(e.audio ?? '', 'base64')[0]);

    it('is kept while connecting and sent in order right after the session is configured', async () => {
      link.connect(listener);
      for (let k = 0; k < 5; k++) link.appendCallerAudio(frame(k), 1_000 + k * 20);
      expect(link.inputStartMs).toBeNull();
      await until('open');
      const conn = await mock.nextConnection();
      link.appendCallerAudio(frame(5), 1_100);
      await conn.waitFor('input_audio_buffer.append', byte(5));
      expect(conn.received.map((e) => e.type).slice(0, 2)).toEqual(['session.update', 'input_audio_buffer.append']);
      expect(appended(conn)).toEqual([0, 1, 2, 3, 4, 5]);
      // The session's input timeline starts at the first frame it was given.
      expect(link.inputStartMs).toBe(1_000);
      expect(await logs.waitFor('realtime connected')).toMatchObject({ bufferedFrames: 5, change: 'connected' });
    });

    it('is kept through a reopen and given to the new session, whose input timeline starts there', async () => {
      link.connect(listener);
      await until('open');
      const first = await mock.nextConnection();
      link.appendCallerAudio(frame(1), 500);
      await first.waitFor('input_audio_buffer.append', byte(1));
      expect(link.inputStartMs).toBe(500);
      first.terminate();
      await until('reconnecting');
      expect(link.inputStartMs).toBeNull();
      link.appendCallerAudio(frame(2), 9_000);
      link.appendCallerAudio(frame(3), 9_020);
      await until('open', 2);
      const second = await mock.nextConnection();
      await second.waitFor('input_audio_buffer.append', byte(3));
      expect(appended(second)).toEqual([2, 3]);
      expect(appended(first)).toEqual([1]);
      expect(link.inputStartMs).toBe(9_000);
    });

    it('goes to the next session from the switch on, whose input timeline starts at its first frame', async () => {
      link.connect(listener);
      await until('open');
      const old = await mock.nextConnection();
      link.appendCallerAudio(frame(1), 100);
      link.prepareNext();
      const next = await mock.nextConnection();
      await logs.waitFor('next realtime session ready');
      expect(link.switchToNext()).toBe(true);
      expect(link.inputStartMs).toBeNull();
      link.appendCallerAudio(frame(2), 120_000);
      await next.waitFor('input_audio_buffer.append', byte(2));
      expect(appended(next)).toEqual([2]);
      expect(appended(old)).toEqual([1]);
      expect(link.inputStartMs).toBe(120_000);
    });

    it('is dropped once the link is closed', () => {
      link.connect(listener);
      link.close();
      link.appendCallerAudio(frame(1), 0);
      expect(link.earlyAudioDropped).toBe(0);
      expect(link.isOpen).toBe(false);
    });
  });
});
