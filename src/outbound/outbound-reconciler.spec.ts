import { randomBytes } from 'node:crypto';
import { ManualClock } from '../common/clock';
import { ManualScheduler } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import { MigrationRunner } from '../database/migration-runner';
import { silentAppLogger, sqlTestBackends, type SqlTestDatabase } from '../database/sql-test-backends';
import { AppLogger } from '../logging/app-logger';
import { TwilioDialer, type TwilioCallRecord } from '../twilio/twilio-dialer';
import { FakeTwilioRest } from '../../test/support/fake-twilio-rest';
import { LogCapture } from '../../test/support/log-capture';
import { AttemptProgress } from './attempt-progress';
import { AttemptOutcomes, type AttemptOutcome } from './outbound-attempts';
import { lookupVerdict, OutboundReconciler, RECONCILE_BATCH, RECONCILE_PERIOD_MS, type Reconciled } from './outbound-reconciler';
import { SqlOverdueAttempts } from './overdue-attempts';
import { SqlOutboundAttempts } from './sql-outbound-attempts';
import { SqlOutboundRequests } from './sql-outbound-requests';

jest.setTimeout(30_000);

const ACCOUNT_SID = 'AC' + '7'.repeat(32);
const AUTH_TOKEN = 'reconciler-auth-token-0123';
const TO = '+15551230000';
/** Ringing 30 s (+5 s Twilio may add), calls of at most 30 minutes, 10 minutes' margin. */
const OVERDUE_AFTER_MS = (30 + 5 + 30 * 60) * 1000 + 10 * 60_000;

describe('lookupVerdict', () => {
  const record = (status: string, over: Partial<TwilioCallRecord> = {}): TwilioCallRecord => ({ callSid: 'CA' + '1'.repeat(32), status, endedAt: null, durationSeconds: null, answeredBy: null, ...over });

  it('applies a final status, with when it ended and how long it lasted', () => {
    expect(lookupVerdict(record('completed', { endedAt: '2026-01-01T00:40:00.000Z', durationSeconds: 61 }))).toEqual({
      kind: 'ended',
      status: 'completed',
      endedAt: '2026-01-01T00:40:00.000Z',
      durationSeconds: 61,
      answeredBy: null,
    });
    expect(lookupVerdict(record('completed', { answeredBy: 'machine_end_beep' }))).toMatchObject({ kind: 'ended', answeredBy: 'machine_end_beep' });
    // A value this service does not know is not recorded.
    expect(lookupVerdict(record('completed', { answeredBy: 'robot' }))).toMatchObject({ kind: 'ended', answeredBy: null });
    for (const status of ['busy', 'no-answer', 'failed', 'canceled']) expect(lookupVerdict(record(status))).toMatchObject({ kind: 'ended', status });
  });

  it('leaves a live call to its callback, ends one Twilio does not have, and does not guess at a status it does not know', () => {
    for (const status of ['queued', 'ringing', 'in-progress']) expect(lookupVerdict(record(status))).toEqual({ kind: 'live', status });
    expect(lookupVerdict(null)).toEqual({ kind: 'gone' });
    expect(lookupVerdict(record('answered-ish'))).toEqual({ kind: 'unknown', status: 'answered-ish' });
  });
});

/** What the dialer would hear. */
class RecordingOutcomes extends AttemptOutcomes {
  readonly ended: Array<{ requestId: string; attempt: number; outcome: AttemptOutcome }> = [];
  async attemptEnded(requestId: string, attempt: number, outcome: AttemptOutcome): Promise<void> {
    this.ended.push({ requestId, attempt, outcome });
  }
}

describe.each(sqlTestBackends())('OutboundReconciler on $name', (backend) => {
  let db: SqlTestDatabase;
  let fake: FakeTwilioRest;
  let clock: ManualClock;
  let scheduler: ManualScheduler;
  let logs: LogCapture;
  let migrations: MigrationRunner;
  let attempts: SqlOutboundAttempts;
  let requests: SqlOutboundRequests;
  let outcomes: RecordingOutcomes;
  let reconciler: OutboundReconciler;
  /** The instances booted and not stopped. */
  const running: OutboundReconciler[] = [];

  const config = (env: Record<string, string> = {}) =>
    new AppConfig(
      validateEnvironment({
        TWILIO_ACCOUNT_SID: ACCOUNT_SID,
        TWILIO_AUTH_TOKEN: AUTH_TOKEN,
        TWILIO_API_BASE_URL: fake.baseUrl,
        PUBLIC_BASE_URL: 'https://op.example.com',
        OUTBOUND_CALLER_ID: '+15557650000',
        OUTBOUND_RING_SECONDS: '30',
        OUTBOUND_MAX_CALL_MINUTES: '30',
        ...env,
      }),
    );

  /** An instance's reconciler on the spec's database, clock and scheduler, booted. */
  function instance(env: Record<string, string> = {}, client = db.client): OutboundReconciler {
    const c = config(env);
    const logger = new AppLogger(c, logs);
    const instanceAttempts = new SqlOutboundAttempts(client, migrations);
    const r = new OutboundReconciler(
      new SqlOverdueAttempts(client, migrations),
      instanceAttempts,
      new AttemptProgress(instanceAttempts, outcomes, logger),
      new TwilioDialer(c, clock, scheduler, logger),
      clock,
      scheduler,
      c,
      logger,
    );
    r.onApplicationBootstrap();
    running.push(r);
    return r;
  }

  async function stop(r: OutboundReconciler): Promise<void> {
    running.splice(running.indexOf(r), 1);
    await r.onModuleDestroy();
  }

  beforeEach(async () => {
    db = await backend.open();
    fake = await FakeTwilioRest.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
    clock = new ManualClock();
    scheduler = new ManualScheduler(clock);
    logs = new LogCapture();
    migrations = new MigrationRunner(db.client, silentAppLogger, new ManualScheduler());
    await migrations.ensureMigrated();
    attempts = new SqlOutboundAttempts(db.client, migrations);
    requests = new SqlOutboundRequests(db.client, migrations);
    outcomes = new RecordingOutcomes();
    reconciler = instance();
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((r) => r.onModuleDestroy()));
    await fake.close();
    await db?.dispose();
  });

  afterAll(async () => {
    await backend.shutdown();
  });

  /** A request dialled now (by the clock): attempt 1 with a call the fake Twilio has (or, `known: false`, does not). */
  async function dialledNow(known = true): Promise<{ requestId: string; callSid: string }> {
    const requestId = `req-${randomBytes(6).toString('hex')}`;
    const now = new Date(clock.epochMs()).toISOString();
    await requests.create(
      { id: requestId, to: TO, purpose: 'Reminder: boiler service tomorrow', consent: { source: 'web form', obtainedAt: '2025-12-01T00:00:00.000Z' }, callbackOf: null, timezone: null, notBefore: null, metadata: {}, idempotencyKey: null },
      now,
      '2999-01-01T00:00:00.000Z',
    );
    await attempts.started(requestId, 1, TO, now);
    const callSid = known ? fake.addCall(TO) : `CA${randomBytes(16).toString('hex')}`;
    await attempts.dialed(requestId, 1, callSid);
    return { requestId, callSid };
  }

  /** The next timer run of the instances, a period on, and what their passes did. */
  async function nextPass(): Promise<Reconciled[]> {
    scheduler.advance(RECONCILE_PERIOD_MS);
    // Joins the pass each timer started.
    const passes = await Promise.all(running.map((r) => r.reconcile()));
    return passes.flat();
  }

  /** Moves time on by `ms`, each timer run's pass finished before the next (as they are, a minute apart). */
  async function elapse(ms: number): Promise<void> {
    const end = clock.now() + ms;
    while (clock.now() + RECONCILE_PERIOD_MS <= end) await nextPass();
    scheduler.advance(end - clock.now());
  }

  const attemptOf = async (requestId: string) => (await requests.get(requestId))!.attempts[0];

  it('derives the bound from ringing, the longest call and a margin', () => {
    expect(config().outbound.overdueAfterMs).toBe(OVERDUE_AFTER_MS);
  });

  it('finds an attempt whose final status never arrived and applies the status Twilio has, as the callback would have', async () => {
    const { requestId, callSid } = await dialledNow();
    fake.setCallStatus(callSid, 'completed', { durationSeconds: 95 });
    await elapse(OVERDUE_AFTER_MS);

    expect(await nextPass()).toEqual([{ requestId, attempt: 1, result: 'ended' }]);
    expect(fake.fetchedCalls.map((r) => r.callSid)).toEqual([callSid]);
    expect(await attemptOf(requestId)).toMatchObject({ status: 'completed', endedAt: expect.any(String), detail: expect.objectContaining({ durationSeconds: 95, outcome: 'completed' }) });
    expect(outcomes.ended).toEqual([{ requestId, attempt: 1, outcome: 'completed' }]);
    expect(logs.find('outbound call status', { callSid, status: 'completed', source: 'lookup', applied: true })).toBeDefined();

    // Ended: not looked up again; and the callback arriving late after all changes nothing.
    expect(await nextPass()).toEqual([]);
    const late = await new AttemptProgress(attempts, outcomes, new AppLogger(config(), logs)).statusReported({ callSid, status: 'completed', at: new Date(clock.epochMs()).toISOString(), sequence: 4 }, 'callback');
    expect(late).toMatchObject({ applied: false, outcomeChanged: false });
    expect(outcomes.ended).toHaveLength(1);
    expect(logs.raw.join('\n')).not.toContain(TO);
  });

  it("records what answered when the AMD callback was lost too: a machine that got no message is retried, not completed", async () => {
    const { requestId, callSid } = await dialledNow();
    fake.setCallStatus(callSid, 'completed', { durationSeconds: 31, answeredBy: 'machine_end_beep' });
    await elapse(OVERDUE_AFTER_MS);

    expect(await nextPass()).toEqual([{ requestId, attempt: 1, result: 'ended' }]);
    expect(await attemptOf(requestId)).toMatchObject({ status: 'completed', answeredBy: 'machine_end_beep', detail: expect.objectContaining({ outcome: 'machine' }) });
    expect(outcomes.ended).toEqual([{ requestId, attempt: 1, outcome: 'machine' }]);
  });

  it('gives the dialer again an outcome it failed to take, once the request has stayed dialing a period after the call ended', async () => {
    const requestId = `req-${randomBytes(6).toString('hex')}`;
    const now = new Date(clock.epochMs()).toISOString();
    await requests.create(
      { id: requestId, to: TO, purpose: 'Reminder: boiler service tomorrow', consent: { source: 'web form', obtainedAt: '2025-12-01T00:00:00.000Z' }, callbackOf: null, timezone: null, notBefore: null, metadata: {}, idempotencyKey: null },
      now,
      '2999-01-01T00:00:00.000Z',
    );
    expect(await requests.claim(requestId)).toBe(1);
    const callSid = fake.addCall(TO);
    await attempts.dialed(requestId, 1, callSid);
    // The final status was recorded, and the dialer failed to take it (the request stays dialing).
    await attempts.statusReported({ callSid, status: 'busy', at: now });

    // Within a period of the end it may still be being taken: left alone.
    expect(await nextPass()).toEqual([]);
    expect(outcomes.ended).toEqual([]);
    clock.advance(1);
    await nextPass();
    expect(outcomes.ended).toEqual([{ requestId, attempt: 1, outcome: 'busy' }]);
    expect(logs.find('outbound attempt outcome taken again: its request was still dialing', { requestId, attempt: 1, outcome: 'busy' })).toBeDefined();
    expect(fake.fetchedCalls).toHaveLength(0);

    // Once the request has moved on, nothing more.
    await requests.finish(requestId, 'exhausted', 'busy');
    await nextPass();
    expect(outcomes.ended).toHaveLength(1);
  });

  it('leaves an attempt younger than the bound alone, without asking Twilio', async () => {
    const { requestId, callSid } = await dialledNow();
    fake.setCallStatus(callSid, 'no-answer');
    await elapse(OVERDUE_AFTER_MS - RECONCILE_PERIOD_MS);
    expect(fake.fetchedCalls).toHaveLength(0);
    // Its bound falls between this run and the next.
    expect(await nextPass()).toEqual([]);
    expect(fake.fetchedCalls).toHaveLength(0);
    expect(await attemptOf(requestId)).toMatchObject({ status: 'queued', endedAt: null });

    expect(await nextPass()).toEqual([{ requestId, attempt: 1, result: 'ended' }]);
    expect(outcomes.ended).toEqual([{ requestId, attempt: 1, outcome: 'no-answer' }]);
  });

  it('leaves a call Twilio still has live to its callback, and looks again next period', async () => {
    const { requestId, callSid } = await dialledNow();
    fake.setCallStatus(callSid, 'in-progress');
    await elapse(OVERDUE_AFTER_MS);
    expect(await nextPass()).toEqual([{ requestId, attempt: 1, result: 'live' }]);
    expect(await attemptOf(requestId)).toMatchObject({ status: 'queued', endedAt: null });
    expect(outcomes.ended).toEqual([]);

    fake.setCallStatus(callSid, 'completed');
    expect(await nextPass()).toEqual([{ requestId, attempt: 1, result: 'ended' }]);
    expect(fake.fetchedCalls).toHaveLength(2);
    expect(outcomes.ended).toEqual([{ requestId, attempt: 1, outcome: 'completed' }]);
  });

  it('ends the attempt as failed when Twilio has no such call (404), so that the request is retried', async () => {
    const { requestId, callSid } = await dialledNow(false);
    await elapse(OVERDUE_AFTER_MS);
    expect(await nextPass()).toEqual([{ requestId, attempt: 1, result: 'gone' }]);
    expect(await attemptOf(requestId)).toMatchObject({ callSid, status: 'failed', endedAt: expect.any(String), detail: expect.objectContaining({ dialError: expect.stringContaining('404') }) });
    expect(outcomes.ended).toEqual([{ requestId, attempt: 1, outcome: 'failed' }]);
    expect(await nextPass()).toEqual([]);
  });

  it('tries again next period when Twilio answers with an error', async () => {
    const { requestId, callSid } = await dialledNow();
    fake.setCallStatus(callSid, 'busy');
    await elapse(OVERDUE_AFTER_MS);
    fake.failNext(500, 20500, 'Internal Server Error');
    expect(await nextPass()).toEqual([{ requestId, attempt: 1, result: 'failed' }]);
    expect(await attemptOf(requestId)).toMatchObject({ status: 'queued', endedAt: null });
    expect(outcomes.ended).toEqual([]);
    expect(logs.find('overdue outbound call not looked up; trying again next time', { callSid, status: 500, code: 20500 })).toBeDefined();

    expect(await nextPass()).toEqual([{ requestId, attempt: 1, result: 'ended' }]);
    expect(outcomes.ended).toEqual([{ requestId, attempt: 1, outcome: 'busy' }]);
  });

  it('stops a pass when Twilio does not answer at all; the attempts left come back next period', async () => {
    const a = await dialledNow();
    const b = await dialledNow();
    await elapse(OVERDUE_AFTER_MS);
    const dead = await FakeTwilioRest.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
    const deadUrl = dead.baseUrl;
    await dead.close();
    // The instance left running cannot reach Twilio.
    await stop(reconciler);
    const cutOff = instance({ TWILIO_API_BASE_URL: deadUrl });
    expect(await nextPass()).toEqual([{ requestId: a.requestId, attempt: 1, result: 'failed' }]);
    expect(await attemptOf(b.requestId)).toMatchObject({ status: 'queued', endedAt: null });

    // Twilio is reachable again (here: from another instance).
    await stop(cutOff);
    instance();
    fake.setCallStatus(a.callSid, 'completed');
    fake.setCallStatus(b.callSid, 'completed');
    expect((await nextPass()).map((r) => [r.requestId, r.result])).toEqual([
      [a.requestId, 'ended'],
      [b.requestId, 'ended'],
    ]);
  });

  it('works a backlog off in batches, one pass a period', async () => {
    const made = [];
    for (let i = 0; i < RECONCILE_BATCH + 3; i++) {
      made.push(await dialledNow());
      fake.setCallStatus(made[i].callSid, 'completed');
    }
    await elapse(OVERDUE_AFTER_MS);
    expect(await nextPass()).toHaveLength(RECONCILE_BATCH);
    expect(await nextPass()).toHaveLength(3);
    expect(outcomes.ended).toHaveLength(made.length);
  });

  it('looks each attempt up once when two instances run at the same time, and the dialer hears each outcome once', async () => {
    const made = [];
    for (let i = 0; i < 6; i++) {
      made.push(await dialledNow());
      fake.setCallStatus(made[i].callSid, 'no-answer');
    }
    // Another instance on its own connections, its timer running in step with this one's.
    instance({}, db.connect());
    await elapse(OVERDUE_AFTER_MS);
    expect(await nextPass()).toHaveLength(6);
    expect(new Set(fake.fetchedCalls.map((r) => r.callSid)).size).toBe(6);
    expect(fake.fetchedCalls).toHaveLength(6);
    expect(outcomes.ended.map((e) => e.requestId).sort()).toEqual(made.map((m) => m.requestId).sort());
  });

  it('applying the same final status on two instances at once ends the attempt once (row lock, forward only)', async () => {
    const { requestId, callSid } = await dialledNow();
    const logger = new AppLogger(config(), logs);
    const progressOn = (client: typeof db.client) => {
      const a = new SqlOutboundAttempts(client, migrations);
      return new AttemptProgress(a, outcomes, logger);
    };
    const report = { callSid, status: 'no-answer' as const, at: new Date(clock.epochMs()).toISOString() };
    const states = await Promise.all([progressOn(db.client).statusReported(report, 'lookup'), progressOn(db.connect()).statusReported(report, 'lookup')]);
    expect(states.map((s) => s?.applied).sort()).toEqual([false, true]);
    expect(outcomes.ended).toEqual([{ requestId, attempt: 1, outcome: 'no-answer' }]);
  });

  it('runs only where calls can be placed, and stops with the module', async () => {
    expect(scheduler.pending).toBe(1);
    const idle = instance({ OUTBOUND_CALLER_ID: '' });
    expect(scheduler.pending).toBe(1);
    await idle.onModuleDestroy();
    await reconciler.onModuleDestroy();
    expect(scheduler.pending).toBe(0);
  });
});
