import { ManualScheduler } from '../common/scheduler';
import { MigrationRunner } from '../database/migration-runner';
import { silentAppLogger, sqlTestBackends, type SqlTestDatabase } from '../database/sql-test-backends';
import { SqlDoNotCallList } from './do-not-call';
import { maskPhonesInText } from '../logging/log-scrubber';
import { newOutboundRequestId, type NewOutboundRequest } from './outbound-request';
import { SqlOutboundRequests } from './sql-outbound-requests';

jest.setTimeout(30_000);

const request = (over: Partial<NewOutboundRequest> = {}): NewOutboundRequest => ({
  id: `req-${Math.random().toString(36).slice(2)}`,
  to: '+15551230000',
  purpose: 'Call back about the leaking water heater',
  consent: { source: 'web form', obtainedAt: '2026-11-30T10:00:00.000Z' },
  callbackOf: null,
  timezone: 'America/Chicago',
  notBefore: '2026-12-02T15:00:00.000Z',
  metadata: { jobId: 42 },
  idempotencyKey: null,
  ...over,
});

describe.each(sqlTestBackends())('outbound storage on $name', (backend) => {
  let db: SqlTestDatabase;
  let migrations: MigrationRunner;
  let requests: SqlOutboundRequests;
  let dnc: SqlDoNotCallList;

  beforeAll(async () => {
    db = await backend.open();
    migrations = new MigrationRunner(db.client, silentAppLogger, new ManualScheduler());
    await migrations.ensureMigrated();
    requests = new SqlOutboundRequests(db.client, migrations);
    dnc = new SqlDoNotCallList(db.client, migrations);
  });

  afterAll(async () => {
    await db?.dispose();
    await backend.shutdown();
  });

  it('stores a request, queued, and gives it back whole', async () => {
    const r = request({ to: '+15550000001' });
    const { request: stored, created } = await requests.create(r, '2026-12-02T15:00:00.000Z', '2026-12-01T00:00:00.000Z');
    expect(created).toBe(true);
    expect(stored).toMatchObject({ ...r, status: 'queued', statusReason: null, nextAttemptAt: '2026-12-02T15:00:00.000Z', attempts: [] });
    expect(await requests.get(r.id)).toEqual(stored);
    expect(await requests.hasOpenRequest('+15550000001')).toBe(true);
  });

  it('never creates a second request for the same idempotency key, or for the same number and purpose within the window', async () => {
    const first = await requests.create(request({ to: '+15550000002', idempotencyKey: 'key-1' }), '2026-12-02T15:00:00.000Z', '2026-12-01T00:00:00.000Z');
    const again = await requests.create(request({ to: '+15550000002', purpose: 'other', idempotencyKey: 'key-1' }), '2026-12-02T15:00:00.000Z', '2026-12-01T00:00:00.000Z');
    expect(again).toEqual({ request: first.request, created: false });

    const a = await requests.create(request({ to: '+15550000003' }), '2026-12-02T15:00:00.000Z', '2000-01-01T00:00:00.000Z');
    const b = await requests.create(request({ to: '+15550000003' }), '2026-12-02T15:00:00.000Z', '2000-01-01T00:00:00.000Z');
    expect(b).toEqual({ request: a.request, created: false });
    // Outside the window (created before dedupeSince), the same pair is a new request.
    const c = await requests.create(request({ to: '+15550000003' }), '2026-12-02T15:00:00.000Z', '2999-01-01T00:00:00.000Z');
    expect(c.created).toBe(true);
  });

  it('creates one request when many ask at once for the same number and purpose', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, () => requests.create(request({ to: '+15550000004' }), '2026-12-02T15:00:00.000Z', '2000-01-01T00:00:00.000Z')),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.request.id)).size).toBe(1);
  });

  it('lists newest first with filters, and cancels only what is open', async () => {
    const r = request({ to: '+15550000005' });
    await requests.create(r, '2026-12-02T15:00:00.000Z', '2999-01-01T00:00:00.000Z');
    const listed = await requests.list({ to: '+15550000005', limit: 10, offset: 0 });
    expect(listed.total).toBe(1);
    expect(listed.items[0].id).toBe(r.id);

    const cancelled = await requests.cancel(r.id);
    expect(cancelled).toMatchObject({ status: 'cancelled', nextAttemptAt: null });
    expect(await requests.hasOpenRequest('+15550000005')).toBe(false);
    expect((await requests.list({ status: 'cancelled', to: '+15550000005', limit: 10, offset: 0 })).total).toBe(1);
    expect(await requests.cancel('no-such-id')).toBeUndefined();
  });

  it('lets one worker claim a queued request, numbering its attempts, then requeue or finish it', async () => {
    const r = request({ to: '+15550000006' });
    await requests.create(r, '2026-12-02T15:00:00.000Z', '2999-01-01T00:00:00.000Z');
    const claims = await Promise.all([requests.claim(r.id), requests.claim(r.id), requests.claim(r.id)]);
    expect(claims.filter((c) => c !== null)).toEqual([1]);
    expect(await requests.get(r.id)).toMatchObject({ status: 'dialing', attempts: [{ attempt: 1, status: 'dialing', callSid: null }] });

    expect(await requests.requeue(r.id, '2026-12-03T15:00:00.000Z', 'no-answer')).toBe(true);
    expect(await requests.get(r.id)).toMatchObject({ status: 'queued', nextAttemptAt: '2026-12-03T15:00:00.000Z', statusReason: 'no-answer' });
    expect(await requests.claim(r.id)).toBe(2);
    expect(await requests.finish(r.id, 'completed', 'answered')).toBe(true);
    expect(await requests.get(r.id)).toMatchObject({ status: 'completed', statusReason: 'answered', nextAttemptAt: null });
    // Finished is final.
    expect(await requests.requeue(r.id, '2026-12-04T15:00:00.000Z', 'late')).toBe(false);
    expect(await requests.finish(r.id, 'exhausted', 'late')).toBe(false);
    expect(await requests.claim(r.id)).toBeNull();
  });

  it('with a cap, claims at one number take turns: however many connections claim at once, no more attempts start than the cap', async () => {
    const to = '+15550000007';
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = request({ to, purpose: `reminder number ${i}` });
      await requests.create(r, '2026-12-02T15:00:00.000Z', '2999-01-01T00:00:00.000Z');
      ids.push(r.id);
    }
    // Another worker (on PostgreSQL another connection pool), as another instance would be.
    const elsewhere = new SqlOutboundRequests(db.connect(), migrations);
    const cap = { max: 3, since: '2000-01-01T00:00:00.000Z' };
    const claims = await Promise.all(ids.map((id, i) => (i % 2 === 0 ? requests : elsewhere).claim(id, cap)));
    expect(claims.filter((c) => c === 1)).toHaveLength(3);
    expect(claims.filter((c) => c === 'capped')).toHaveLength(3);

    // A capped request stays queued, without an attempt.
    const capped = ids[claims.indexOf('capped')];
    expect(await requests.get(capped)).toMatchObject({ status: 'queued', attempts: [] });
    // Only attempts started after `since` count; without a cap, none do.
    expect(await requests.claim(capped, { max: 3, since: '2999-01-01T00:00:00.000Z' })).toBe(1);
    expect(await requests.claim(ids[claims.lastIndexOf('capped')])).toBe(1);
    // A request not queued is not claimed, capped or not.
    expect(await requests.claim(capped, { max: 3, since: '2999-01-01T00:00:00.000Z' })).toBeNull();
  });

  it('keeps the do-not-call list: added once, listed, removed', async () => {
    expect(await dnc.has('+15559990000')).toBe(false);
    const entry = await dnc.add('+15559990000', 'api', 'asked by phone');
    expect(entry).toMatchObject({ number: '+15559990000', source: 'api', reason: 'asked by phone' });
    expect(await dnc.add('+15559990000', 'call', null)).toEqual(entry);
    expect(await dnc.has('+15559990000')).toBe(true);
    expect((await dnc.list(10, 0)).items.map((e) => e.number)).toContain('+15559990000');
    expect(await dnc.remove('+15559990000')).toBe(true);
    expect(await dnc.remove('+15559990000')).toBe(false);
    expect(await dnc.has('+15559990000')).toBe(false);
  });
});

describe('newOutboundRequestId', () => {
  it('makes ids the log scrubber leaves whole (a UUID can read as a phone number)', () => {
    for (let i = 0; i < 200; i++) {
      const id = newOutboundRequestId();
      expect(id).toMatch(/^ob_[0-9a-f]{24}$/);
      expect(maskPhonesInText(`request ${id} dialled`)).toBe(`request ${id} dialled`);
    }
    expect(maskPhonesInText('14eddb77-8e74-4941-8258-45817ab16370')).not.toBe('14eddb77-8e74-4941-8258-45817ab16370');
  });
});
