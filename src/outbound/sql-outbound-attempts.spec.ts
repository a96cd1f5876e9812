import { ManualScheduler } from '../common/scheduler';
import { MigrationRunner } from '../database/migration-runner';
import type { SqlClient, SqlExecutor } from '../database/sql-client';
import { silentAppLogger, sqlTestBackends, type SqlTestDatabase } from '../database/sql-test-backends';
import { attemptOutcome, machineAction } from './outbound-attempts';
import { SqlOutboundAttempts } from './sql-outbound-attempts';
import { SqlOutboundRequests } from './sql-outbound-requests';

jest.setTimeout(30_000);

let sidCounter = 0;
const newCallSid = () => `CA${(++sidCounter).toString(16).padStart(32, '0')}`;

describe('attemptOutcome', () => {
  it.each([
    ['completed', null, 'completed'],
    ['completed', 'human', 'completed'],
    ['completed', 'unknown', 'completed'],
    ['completed', 'machine_end_beep', 'machine'],
    ['completed', 'machine_end_silence', 'machine'],
    ['completed', 'machine_start', 'machine'],
    ['completed', 'fax', 'fax'],
    ['no-answer', null, 'no-answer'],
    ['busy', null, 'busy'],
    ['failed', null, 'failed'],
    ['canceled', null, 'failed'],
    ['in-progress', 'machine_end_beep', null],
    ['ringing', null, null],
    ['dialing', null, null],
  ])('%s answered by %s is %s', (status, answeredBy, outcome) => {
    expect(attemptOutcome(status, answeredBy)).toBe(outcome);
  });

  it('is voicemail for a machine that was left the message, and machine again when Twilio refused it', () => {
    expect(attemptOutcome('completed', 'machine_end_beep', { machineAction: 'message' })).toBe('voicemail');
    expect(attemptOutcome('completed', 'machine_end_other', { machineAction: 'message' })).toBe('voicemail');
    expect(attemptOutcome('completed', 'machine_end_beep', { machineAction: 'message', machineActionError: 'call not in progress' })).toBe('machine');
    expect(attemptOutcome('completed', 'machine_end_beep', { machineAction: 'hangup' })).toBe('machine');
    expect(attemptOutcome('completed', 'human', { machineAction: 'message' })).toBe('completed');
    expect(attemptOutcome('in-progress', 'machine_end_beep', { machineAction: 'message' })).toBeNull();
  });
});

describe('machineAction', () => {
  it.each([
    ['machine_end_beep', 'message', 'message'],
    ['machine_end_silence', 'message', 'message'],
    ['machine_end_other', 'message', 'message'],
    ['machine_end_beep', 'hangup', 'hangup'],
    ['machine_start', 'message', 'hangup'],
    ['fax', 'message', 'hangup'],
    ['human', 'message', null],
    ['unknown', 'message', null],
    ['unknown', 'hangup', null],
  ] as const)('%s with OUTBOUND_VOICEMAIL=%s: %s', (answeredBy, mode, action) => {
    expect(machineAction(answeredBy, mode)).toBe(action);
  });
});

describe.each(sqlTestBackends())('outbound attempts on $name', (backend) => {
  let db: SqlTestDatabase;
  let migrations: MigrationRunner;
  let attempts: SqlOutboundAttempts;
  let requests: SqlOutboundRequests;

  beforeAll(async () => {
    db = await backend.open();
    migrations = new MigrationRunner(db.client, silentAppLogger, new ManualScheduler());
    await migrations.ensureMigrated();
    attempts = new SqlOutboundAttempts(db.client, migrations);
    requests = new SqlOutboundRequests(db.client, migrations);
  });

  afterAll(async () => {
    await db?.dispose();
    await backend.shutdown();
  });

  /** A stored request to hang attempts on. */
  async function newRequest(to = '+15551230000'): Promise<string> {
    const id = `req-${Math.random().toString(36).slice(2)}`;
    await requests.create(
      { id, to, purpose: 'Call back about the leak', consent: { source: 'web form', obtainedAt: '2026-11-30T10:00:00.000Z' }, callbackOf: null, timezone: null, notBefore: null, metadata: {}, idempotencyKey: null },
      '2026-12-02T15:00:00.000Z',
      '2999-01-01T00:00:00.000Z',
    );
    return id;
  }

  /** A request with attempt 1 dialled as `callSid`. */
  async function dialledAttempt(callSid = newCallSid()): Promise<{ requestId: string; callSid: string }> {
    const requestId = await newRequest();
    expect(await attempts.started(requestId, 1, '+15551230000', '2026-12-02T15:00:00.000Z')).toBe(true);
    await attempts.dialed(requestId, 1, callSid);
    return { requestId, callSid };
  }

  const attemptRow = async (requestId: string) => (await requests.get(requestId))!.attempts[0];

  it('records an attempt as dialing, then the call Twilio created, linked to its request', async () => {
    const requestId = await newRequest();
    expect(await attempts.started(requestId, 1, '+15551230000', '2026-12-02T15:00:00.000Z')).toBe(true);
    expect(await attempts.started(requestId, 1, '+15551230000', '2026-12-02T15:00:09.000Z')).toBe(false);
    expect(await attemptRow(requestId)).toMatchObject({ attempt: 1, callSid: null, status: 'dialing', startedAt: '2026-12-02T15:00:00.000Z', endedAt: null });
    const callSid = newCallSid();
    await attempts.dialed(requestId, 1, callSid);
    expect(await attemptRow(requestId)).toMatchObject({ callSid, status: 'queued' });
  });

  it('moves the status only forward, and ends the attempt on the first final status', async () => {
    const { requestId, callSid } = await dialledAttempt();
    const report = (status: 'initiated' | 'ringing' | 'in-progress' | 'completed' | 'no-answer', at: string, sequence?: number) =>
      attempts.statusReported({ callSid, status, at, sequence });

    expect(await report('initiated', '2026-12-02T15:00:01.000Z', 0)).toMatchObject({ requestId, attempt: 1, status: 'initiated', applied: true, outcome: null });
    expect(await report('ringing', '2026-12-02T15:00:02.000Z', 1)).toMatchObject({ status: 'ringing', applied: true });
    expect(await report('in-progress', '2026-12-02T15:00:10.000Z', 2)).toMatchObject({ status: 'in-progress', applied: true });
    const ended = await attempts.statusReported({ callSid, status: 'completed', at: '2026-12-02T15:01:00.000Z', sequence: 3, durationSeconds: 50 });
    expect(ended).toMatchObject({ status: 'completed', endedAt: '2026-12-02T15:01:00.000Z', applied: true, outcome: 'completed', outcomeChanged: true });

    // Late and repeated reports change nothing.
    expect(await report('ringing', '2026-12-02T15:00:02.500Z')).toMatchObject({ status: 'completed', applied: false, outcomeChanged: false });
    expect(await report('no-answer', '2026-12-02T15:01:05.000Z', 4)).toMatchObject({ status: 'completed', applied: false, outcomeChanged: false });
    expect(await attemptRow(requestId)).toMatchObject({
      status: 'completed',
      endedAt: '2026-12-02T15:01:00.000Z',
      detail: expect.objectContaining({ sequence: 3, durationSeconds: 50, outcome: 'completed' }),
    });
  });

  it('ignores a callback with a SequenceNumber lower than one applied, whatever its status', async () => {
    const { callSid } = await dialledAttempt();
    await attempts.statusReported({ callSid, status: 'ringing', at: '2026-12-02T15:00:02.000Z', sequence: 5 });
    expect(await attempts.statusReported({ callSid, status: 'in-progress', at: '2026-12-02T15:00:01.000Z', sequence: 4 })).toMatchObject({
      status: 'ringing',
      applied: false,
    });
  });

  it('records what answered; the first AMD answer stands, and a machine makes the outcome machine', async () => {
    const { requestId, callSid } = await dialledAttempt();
    await attempts.statusReported({ callSid, status: 'in-progress', at: '2026-12-02T15:00:10.000Z', sequence: 2 });
    expect(await attempts.answeredBy(callSid, 'machine_end_beep', '2026-12-02T15:00:30.000Z')).toMatchObject({ answeredBy: 'machine_end_beep', applied: true, outcome: null });
    expect(await attempts.answeredBy(callSid, 'human', '2026-12-02T15:00:31.000Z')).toMatchObject({ answeredBy: 'machine_end_beep', applied: false });
    expect(await attempts.statusReported({ callSid, status: 'completed', at: '2026-12-02T15:00:45.000Z', sequence: 3 })).toMatchObject({
      outcome: 'machine',
      outcomeChanged: true,
    });
    expect(await attemptRow(requestId)).toMatchObject({ answeredBy: 'machine_end_beep', detail: expect.objectContaining({ outcome: 'machine' }) });
  });

  it('changes a completed outcome to fax when the AMD answer comes after the hang-up, once', async () => {
    const { callSid } = await dialledAttempt();
    expect(await attempts.statusReported({ callSid, status: 'completed', at: '2026-12-02T15:00:45.000Z' })).toMatchObject({ outcome: 'completed', outcomeChanged: true });
    expect(await attempts.answeredBy(callSid, 'fax', '2026-12-02T15:00:46.000Z', undefined, 'hangup')).toMatchObject({ outcome: 'fax', outcomeChanged: true });
    expect(await attempts.answeredBy(callSid, 'fax', '2026-12-02T15:00:46.000Z', undefined, 'hangup')).toMatchObject({ outcome: 'fax', outcomeChanged: false, applied: false });
  });

  it('records the machine action with the answer: voicemail once the call ends, machine if Twilio refused the message', async () => {
    const left = await dialledAttempt();
    await attempts.answeredBy(left.callSid, 'machine_end_silence', '2026-12-02T15:00:30.000Z', undefined, 'message');
    expect(await attempts.statusReported({ callSid: left.callSid, status: 'completed', at: '2026-12-02T15:00:50.000Z' })).toMatchObject({
      outcome: 'voicemail',
      outcomeChanged: true,
    });
    expect(await attemptRow(left.requestId)).toMatchObject({ detail: expect.objectContaining({ machineAction: 'message', outcome: 'voicemail' }) });

    // The machine hung up before the message: the final status came first, then Twilio's refusal.
    const refused = await dialledAttempt();
    await attempts.answeredBy(refused.callSid, 'machine_end_beep', '2026-12-02T15:00:30.000Z', undefined, 'message');
    expect(await attempts.statusReported({ callSid: refused.callSid, status: 'completed', at: '2026-12-02T15:00:31.000Z' })).toMatchObject({ outcome: 'voicemail' });
    expect(await attempts.machineActionFailed(refused.callSid, 'Call is not in-progress')).toMatchObject({ outcome: 'machine', outcomeChanged: true });
    expect(await attemptRow(refused.requestId)).toMatchObject({
      detail: expect.objectContaining({ machineAction: 'message', machineActionError: 'Call is not in-progress', outcome: 'machine' }),
    });
    expect(await attempts.machineActionFailed('CA' + 'f'.repeat(32), 'whatever')).toBeUndefined();
  });

  it('finds the attempt by the link of the callback URL when the status comes before dialed(), and keeps it', async () => {
    const requestId = await newRequest();
    await attempts.started(requestId, 1, '+15551230000', '2026-12-02T15:00:00.000Z');
    const callSid = newCallSid();
    expect(await attempts.statusReported({ callSid, status: 'initiated', at: '2026-12-02T15:00:01.000Z', link: { requestId, attempt: 1 } })).toMatchObject({
      callSid,
      status: 'initiated',
      applied: true,
    });
    await attempts.dialed(requestId, 1, callSid, 'queued');
    expect(await attemptRow(requestId)).toMatchObject({ callSid, status: 'initiated' });
    // A link never takes over an attempt that has another call.
    expect(await attempts.statusReported({ callSid: newCallSid(), status: 'ringing', at: '2026-12-02T15:00:02.000Z', link: { requestId, attempt: 1 } })).toBeUndefined();
  });

  // PGlite has one connection: a transaction there runs alone, and dialed() waits for it to end.
  (backend.name === 'postgres' ? it : it.skip)('applies a status that comes while dialed() records the call: found by its link, the SID now the same', async () => {
    const requestId = await newRequest();
    await attempts.started(requestId, 1, '+15551230000', '2026-12-02T15:00:00.000Z');
    const callSid = newCallSid();
    // The callback's lookup by SID finds nothing; before its lookup by link, the dialer (another
    // connection, another instance) records the SID and commits.
    const dialer = new SqlOutboundAttempts(db.connect(), migrations);
    let interleaved = false;
    const client = db.client;
    const racing = {
      kind: client.kind,
      query: client.query.bind(client),
      close: () => Promise.resolve(),
      transaction: <T>(fn: (tx: SqlExecutor) => Promise<T>) =>
        client.transaction((tx) =>
          fn({
            query: async <R>(sql: string, params?: readonly unknown[]) => {
              if (!interleaved && params?.[0] === requestId && sql.includes('FOR UPDATE')) {
                interleaved = true;
                await dialer.dialed(requestId, 1, callSid);
              }
              return tx.query<R>(sql, params);
            },
          }),
        ),
    } as unknown as SqlClient;
    const callbacks = new SqlOutboundAttempts(racing, migrations);

    const state = await callbacks.statusReported({ callSid, status: 'no-answer', at: '2026-12-02T15:00:20.000Z', sequence: 2, link: { requestId, attempt: 1 } });
    expect(interleaved).toBe(true);
    expect(state).toMatchObject({ callSid, status: 'no-answer', applied: true, outcome: 'no-answer', outcomeChanged: true });
    expect(await attemptRow(requestId)).toMatchObject({ callSid, status: 'no-answer', endedAt: '2026-12-02T15:00:20.000Z' });
  });

  it('knows nothing of a call it did not place', async () => {
    expect(await attempts.statusReported({ callSid: newCallSid(), status: 'ringing', at: '2026-12-02T15:00:02.000Z' })).toBeUndefined();
    expect(await attempts.answeredBy(newCallSid(), 'human', '2026-12-02T15:00:02.000Z')).toBeUndefined();
  });

  it('ends an attempt whose dial failed, as failed with the reason', async () => {
    const requestId = await newRequest();
    await attempts.started(requestId, 1, '+15551230000', '2026-12-02T15:00:00.000Z');
    expect(await attempts.dialFailed(requestId, 1, 'HTTP 400 (code 21215)', '2026-12-02T15:00:00.500Z')).toMatchObject({
      status: 'failed',
      outcome: 'failed',
      outcomeChanged: true,
      endedAt: '2026-12-02T15:00:00.500Z',
    });
    expect(await attemptRow(requestId)).toMatchObject({ status: 'failed', detail: expect.objectContaining({ dialError: 'HTTP 400 (code 21215)' }) });
  });

  it("lists a number's attempts since a time, any request, oldest first", async () => {
    const to = '+15559990000';
    const a = await newRequest(to);
    const b = await newRequest(to);
    await attempts.started(a, 1, to, '2026-12-01T10:00:00.000Z');
    await attempts.started(b, 1, to, '2026-12-02T09:00:00.000Z');
    await attempts.started(a, 2, to, '2026-12-02T08:00:00.000Z');
    expect(await attempts.recentAttempts(to, '2026-12-01T12:00:00.000Z')).toEqual([Date.parse('2026-12-02T08:00:00.000Z'), Date.parse('2026-12-02T09:00:00.000Z')]);
    expect(await attempts.recentAttempts('+15559990001', '2000-01-01T00:00:00.000Z')).toEqual([]);
  });
});
