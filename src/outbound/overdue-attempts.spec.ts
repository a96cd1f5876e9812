import { ManualScheduler } from '../common/scheduler';
import { MigrationRunner } from '../database/migration-runner';
import { silentAppLogger, sqlTestBackends, type SqlTestDatabase } from '../database/sql-test-backends';
import { CHECKED_AT, SqlOverdueAttempts } from './overdue-attempts';
import { SqlOutboundAttempts } from './sql-outbound-attempts';
import { SqlOutboundRequests } from './sql-outbound-requests';

jest.setTimeout(30_000);

let sidCounter = 0;
const newCallSid = () => `CA${(++sidCounter).toString(16).padStart(32, '0')}`;
const at = (minute: number) => new Date(Date.UTC(2026, 11, 2, 15, minute)).toISOString();

describe.each(sqlTestBackends())('overdue outbound attempts on $name', (backend) => {
  let db: SqlTestDatabase;
  let migrations: MigrationRunner;
  let attempts: SqlOutboundAttempts;
  let requests: SqlOutboundRequests;
  let overdue: SqlOverdueAttempts;

  beforeEach(async () => {
    db = await backend.open();
    migrations = new MigrationRunner(db.client, silentAppLogger, new ManualScheduler());
    await migrations.ensureMigrated();
    attempts = new SqlOutboundAttempts(db.client, migrations);
    requests = new SqlOutboundRequests(db.client, migrations);
    overdue = new SqlOverdueAttempts(db.client, migrations);
  });

  afterEach(async () => {
    await db?.dispose();
  });

  afterAll(async () => {
    await backend.shutdown();
  });

  /** A request with attempt 1 started at `startedAt`, its call recorded unless `callSid` is null; the request id. */
  async function attemptAt(startedAt: string, callSid: string | null = newCallSid()): Promise<{ requestId: string; callSid: string | null }> {
    const requestId = `req-${Math.random().toString(36).slice(2)}`;
    await requests.create(
      { id: requestId, to: '+15551230000', purpose: 'Call back about the leak', consent: { source: 'web form', obtainedAt: '2026-11-30T10:00:00.000Z' }, callbackOf: null, timezone: null, notBefore: null, metadata: {}, idempotencyKey: null },
      startedAt,
      '2999-01-01T00:00:00.000Z',
    );
    await attempts.started(requestId, 1, '+15551230000', startedAt);
    if (callSid) await attempts.dialed(requestId, 1, callSid);
    return { requestId, callSid };
  }

  it('picks the attempts with a call and no final status started before the bound, oldest first, and marks them checked', async () => {
    const second = await attemptAt(at(10));
    const first = await attemptAt(at(5));
    const ringing = await attemptAt(at(12));
    await attempts.statusReported({ callSid: ringing.callSid!, status: 'ringing', at: at(12) });
    // Not overdue: ended, no call recorded (the dialer's recover() has those), started after the bound.
    const ended = await attemptAt(at(1));
    await attempts.statusReported({ callSid: ended.callSid!, status: 'no-answer', at: at(2) });
    await attemptAt(at(1), null);
    await attemptAt(at(40));

    const picked = await overdue.claim(at(30), at(29), at(31), 10);
    expect(picked).toEqual([
      { requestId: first.requestId, attempt: 1, callSid: first.callSid, status: 'queued', startedAt: at(5) },
      { requestId: second.requestId, attempt: 1, callSid: second.callSid, status: 'queued', startedAt: at(10) },
      { requestId: ringing.requestId, attempt: 1, callSid: ringing.callSid, status: 'ringing', startedAt: at(12) },
    ]);
    const stored = await requests.get(first.requestId);
    expect(stored!.attempts[0].detail).toMatchObject({ [CHECKED_AT]: at(31) });
  });

  it('passes over an attempt checked since `checkedBefore`, and takes it again once that is later', async () => {
    const a = await attemptAt(at(5));
    expect(await overdue.claim(at(30), at(29), at(31), 10)).toHaveLength(1);
    // Half a period on, on this or another instance: not yet.
    expect(await overdue.claim(at(30), at(31), at(32), 10)).toEqual([]);
    expect(await overdue.claim(at(30), at(32), at(33), 10)).toEqual([expect.objectContaining({ requestId: a.requestId })]);
  });

  it('takes at most `limit` at a time; the rest come on later claims', async () => {
    for (let i = 0; i < 5; i++) await attemptAt(at(i));
    const first = await overdue.claim(at(30), at(29), at(31), 2);
    const second = await overdue.claim(at(30), at(29), at(31), 2);
    const third = await overdue.claim(at(30), at(29), at(31), 2);
    expect([first, second, third].map((b) => b.map((p) => p.startedAt))).toEqual([[at(0), at(1)], [at(2), at(3)], [at(4)]]);
  });

  it('the marking does not get in the way of the attempt moving on: a status still applies, and ends it for good', async () => {
    const a = await attemptAt(at(5));
    await overdue.claim(at(30), at(29), at(31), 10);
    const state = await attempts.statusReported({ callSid: a.callSid!, status: 'completed', at: at(32), durationSeconds: 7 });
    expect(state).toMatchObject({ status: 'completed', applied: true, outcome: 'completed', outcomeChanged: true });
    expect((await requests.get(a.requestId))!.attempts[0].detail).toMatchObject({ [CHECKED_AT]: at(31), durationSeconds: 7, outcome: 'completed' });
    expect(await overdue.claim(at(60), at(59), at(61), 10)).toEqual([]);
  });

  it('gives each attempt to one of two instances claiming at once', async () => {
    const made = [];
    for (let i = 0; i < 12; i++) made.push((await attemptAt(at(i))).requestId);
    // Another instance: its own connections (on PGlite, the one connection, so the claims queue).
    const other = new SqlOverdueAttempts(db.connect(), migrations);
    const rounds = await Promise.all([0, 1, 2, 3].map((i) => (i % 2 ? other : overdue).claim(at(30), at(29), at(31), 4)));
    const picked = rounds.flat().map((p) => p.requestId);
    expect(new Set(picked).size).toBe(picked.length);
    expect(picked.sort()).toEqual(made.sort());
  });
});
