import { ManualScheduler } from '../common/scheduler';
import { MigrationRunner, runMigrations } from '../database/migration-runner';
import { MIGRATIONS } from '../database/migrations';
import { silentAppLogger, sqlTestBackends, type SqlTestDatabase } from '../database/sql-test-backends';
import { callRecord } from '../../test/support/call-records';
import { CALL_OUTCOMES, callOutcome } from './call-outcome';
import type { CallRecord } from './call-record';
import { SqlCallLogRepository } from './sql-call-log.repository';

// Starting an embedded PostgreSQL (WASM) takes a few seconds, more on a busy machine.
jest.setTimeout(30_000);

function record(overrides: Partial<CallRecord> = {}): CallRecord {
  return callRecord({ callSid: 'CA0001', streamSid: null, from: '+15550000001', to: '+15559990000', ...overrides });
}

const full: CallRecord = {
  callSid: 'CAfull',
  streamSid: 'MZ123',
  direction: 'outbound',
  from: '+15551112222',
  to: '+15553334444',
  status: 'completed',
  startedAt: '2026-03-02T08:15:30.123Z',
  endedAt: '2026-03-02T08:19:01.456Z',
  durationMs: 211_333,
  endReason: 'agent-hangup',
  transcript: [
    { speaker: 'agent', text: 'Thanks for calling, is this an emergency?', startMs: 0 },
    { speaker: 'caller', text: "Yes, there's water everywhere — the basement's flooding!", startMs: 3_200 },
    { speaker: 'agent', text: 'Please turn off the main', startMs: 7_800, interrupted: true },
    { speaker: 'caller', text: 'Where is it?', startMs: 9_100 },
  ],
  usage: {
    responses: 4,
    inputTextTokens: 1_200,
    inputAudioTokens: 3_400,
    cachedTextTokens: 800,
    cachedAudioTokens: 100,
    outputTextTokens: 250,
    outputAudioTokens: 2_900,
  },
  costUsd: 0.123457,
  recording: 'CAfull.wav',
  details: { job: { kind: 'leak', urgent: true, notes: ['basement', "it's bad"] }, summary: 'Flooded basement', crm: null },
  profile: 'plumbing-north',
};

describe.each(sqlTestBackends())('SqlCallLogRepository on $name', (backend) => {
  let db: SqlTestDatabase;
  let repo: SqlCallLogRepository;

  beforeAll(async () => {
    db = await backend.open();
    const migrations = new MigrationRunner(db.client, silentAppLogger, new ManualScheduler());
    await migrations.ensureMigrated();
    repo = new SqlCallLogRepository(db.client, migrations);
  });

  afterAll(async () => {
    await db?.dispose();
    await backend.shutdown();
  });

  beforeEach(async () => {
    await db.client.query('DELETE FROM calls');
  });

  it('runs migrations idempotently', async () => {
    const again = await runMigrations(db.client);
    expect(again.applied).toEqual([]);
    expect(again.version).toBe(MIGRATIONS.at(-1)!.version);
    const rows = await db.client.query<{ version: number; name: string }>('SELECT version, name FROM schema_migrations ORDER BY version');
    expect(rows).toEqual(MIGRATIONS.map(({ version, name }) => ({ version, name })));
  });

  it('merges CRM state into its own column, which later snapshots leave alone', async () => {
    expect(await repo.mergeCrm(full.callSid, { contactId: '1' })).toBe(false);
    await repo.save(full);
    expect(await repo.mergeCrm(full.callSid, { contactId: '501' })).toBe(true);
    expect(await repo.mergeCrm(full.callSid, { jobRequest: { status: 'synced' } })).toBe(true);
    await repo.save({ ...full, status: 'completed' });
    expect((await repo.get(full.callSid))?.crm).toEqual({ contactId: '501', jobRequest: { status: 'synced' } });
  });

  it('round-trips a full record', async () => {
    await repo.save(full);
    expect(await repo.get(full.callSid)).toEqual({ ...full, crm: {} });
  });

  it('round-trips a record with every nullable field null', async () => {
    const sparse = record({ streamSid: null, endedAt: null, durationMs: null, endReason: null, recording: null, status: 'in-progress' });
    await repo.save(sparse);
    expect(await repo.get(sparse.callSid)).toEqual({ ...sparse, crm: {} });
  });

  it('overwrites on save: the latest snapshot wins', async () => {
    await repo.save(record({ status: 'in-progress', endedAt: null, durationMs: null, endReason: null }));
    const [first] = await db.client.query<{ updated_at: Date }>('SELECT updated_at FROM calls');
    await repo.save(full);
    await repo.save({ ...full, callSid: 'CA0001', status: 'fallback', costUsd: 1.5, details: { fallback: true } });

    expect(await repo.get('CA0001')).toEqual({ ...full, callSid: 'CA0001', status: 'fallback', costUsd: 1.5, details: { fallback: true }, crm: {} });
    const rows = await db.client.query<{ updated_at: Date; created_at: Date }>('SELECT created_at, updated_at FROM calls WHERE call_sid = $1', ['CA0001']);
    expect(rows).toHaveLength(1);
    expect(rows[0].updated_at.getTime()).toBeGreaterThanOrEqual(first.updated_at.getTime());
    expect((await repo.list({ limit: 10, offset: 0 })).total).toBe(2);
  });

  it('returns undefined for an unknown sid', async () => {
    expect(await repo.get('CAnope')).toBeUndefined();
  });

  it('rounds a fractional duration rather than failing the write', async () => {
    await repo.save(record({ durationMs: 1234.6 }));
    expect((await repo.get('CA0001'))?.durationMs).toBe(1235);
  });

  it('knows whether a number has saved a job request lately', async () => {
    await repo.save(record({ callSid: 'CAjob-1', from: '+15550007777', startedAt: '2026-05-01T10:00:00.000Z', details: { jobRequest: { problem: 'leak' } } }));
    await repo.save(record({ callSid: 'CAjob-2', from: '+15550008888', startedAt: '2026-05-01T10:00:00.000Z', details: {} }));
    expect(await repo.hasJobRequestFrom('+15550007777', '2026-04-01T00:00:00.000Z')).toBe(true);
    expect(await repo.hasJobRequestFrom('+15550007777', '2026-05-02T00:00:00.000Z')).toBe(false);
    expect(await repo.hasJobRequestFrom('+15550008888', '2026-04-01T00:00:00.000Z')).toBe(false);
  });

  describe('calls whose instance died', () => {
    const live = (callSid: string, startedAt: string) => record({ callSid, status: 'in-progress', startedAt, endedAt: null, durationMs: null, endReason: null });

    it('lists the records in progress that started before a time, oldest first', async () => {
      await repo.save(live('CAip-2', '2026-05-01T10:00:02.000Z'));
      await repo.save(live('CAip-1', '2026-05-01T10:00:01.000Z'));
      await repo.save(live('CAip-3', '2026-05-01T10:00:03.000Z'));
      await repo.save(record({ callSid: 'CAip-done', status: 'completed', startedAt: '2026-05-01T10:00:00.000Z' }));
      const before = (await repo.inProgress('2026-05-01T10:00:02.500Z', 10)).filter((sid) => sid.startsWith('CAip-'));
      expect(before).toEqual(['CAip-1', 'CAip-2']);
      expect((await repo.inProgress('2026-05-01T10:00:04.000Z', 2)).filter((sid) => sid.startsWith('CAip-'))).toHaveLength(2);
    });

    it('ends a record in progress once, as failed with the reason, keeping its transcript and details', async () => {
      const started = live('CAab-1', '2026-05-01T11:00:00.000Z');
      await repo.save({ ...started, details: { jobRequest: { problem: 'leak' } } });
      expect(await repo.endAbandoned('CAab-1', 'instance_lost', '2026-05-01T11:02:03.456Z', { abandoned: { holder: 'pod-b' } })).toBe(true);
      expect(await repo.get('CAab-1')).toEqual({
        ...started,
        status: 'failed',
        endReason: 'instance_lost',
        endedAt: '2026-05-01T11:02:03.456Z',
        durationMs: 123_456,
        details: { jobRequest: { problem: 'leak' }, abandoned: { holder: 'pod-b' } },
        crm: {},
      });
      // A second instance noticing the same call changes nothing.
      expect(await repo.endAbandoned('CAab-1', 'instance_lost', '2026-05-01T11:09:00.000Z', { abandoned: { holder: 'pod-c' } })).toBe(false);
      expect((await repo.get('CAab-1'))?.endedAt).toBe('2026-05-01T11:02:03.456Z');
    });

    it('leaves ended calls and unknown ones alone, and never ends a call before it started', async () => {
      await repo.save(record({ callSid: 'CAab-done', status: 'completed', endReason: 'twilio_stop' }));
      expect(await repo.endAbandoned('CAab-done', 'instance_lost', '2026-05-01T11:00:00.000Z', {})).toBe(false);
      expect((await repo.get('CAab-done'))?.status).toBe('completed');
      expect(await repo.endAbandoned('CAab-none', 'instance_lost', '2026-05-01T11:00:00.000Z', {})).toBe(false);

      await repo.save(live('CAab-2', '2026-05-01T12:00:00.000Z'));
      expect(await repo.endAbandoned('CAab-2', 'instance_lost', '2026-05-01T11:59:59.000Z', {})).toBe(true);
      expect(await repo.get('CAab-2')).toMatchObject({ endedAt: '2026-05-01T12:00:00.000Z', durationMs: 0 });
    });

    it('puts an unknown end at the record\'s last write', async () => {
      const startedAt = new Date(Date.now() - 3_600_000).toISOString();
      await repo.save(live('CAab-3', startedAt));
      const [{ updated_at: lastWrite }] = await db.client.query<{ updated_at: Date }>("SELECT updated_at FROM calls WHERE call_sid = 'CAab-3'");
      expect(await repo.endAbandoned('CAab-3', 'instance_lost', null, {})).toBe(true);
      const ended = await repo.get('CAab-3');
      expect(ended?.endedAt).toBe(lastWrite.toISOString());
      // updated_at has microseconds; the duration is rounded to the millisecond.
      expect(Math.abs(ended!.durationMs! - (lastWrite.getTime() - Date.parse(startedAt)))).toBeLessThanOrEqual(1);
    });
  });

  describe('list', () => {
    // Ten calls, one a minute from 10:00; numbers and statuses vary so that filters overlap.
    const calls = Array.from({ length: 10 }, (_, i) =>
      record({
        callSid: `CA${String(i).padStart(4, '0')}`,
        startedAt: new Date(Date.UTC(2026, 2, 1, 10, i)).toISOString(),
        from: i % 2 === 0 ? '+15550000001' : '+15550000002',
        to: i % 3 === 0 ? '+15550000001' : '+15559990000',
        status: i % 4 === 0 ? 'failed' : 'completed',
      }),
    );
    const sids = (page: { items: readonly CallRecord[] }) => page.items.map((c) => c.callSid);

    beforeEach(async () => {
      for (const call of calls) await repo.save(call);
    });

    it('lists newest first, with total', async () => {
      const page = await repo.list({ limit: 100, offset: 0 });
      expect(page.total).toBe(10);
      expect(sids(page)).toEqual(calls.map((c) => c.callSid).reverse());
      expect(page.items[0]).toEqual({ ...calls[9], crm: {} });
    });

    it('breaks ties on started_at by callSid', async () => {
      const at = '2026-03-01T12:00:00.000Z';
      for (const sid of ['CAz', 'CAa', 'CAm']) await repo.save(record({ callSid: sid, startedAt: at }));
      expect(sids(await repo.list({ limit: 3, offset: 0 }))).toEqual(['CAa', 'CAm', 'CAz']);
    });

    it('paginates with limit and offset; total counts every match', async () => {
      const first = await repo.list({ limit: 4, offset: 0 });
      const second = await repo.list({ limit: 4, offset: 4 });
      const last = await repo.list({ limit: 4, offset: 8 });
      const beyond = await repo.list({ limit: 4, offset: 20 });
      expect(sids(first)).toEqual(['CA0009', 'CA0008', 'CA0007', 'CA0006']);
      expect(sids(second)).toEqual(['CA0005', 'CA0004', 'CA0003', 'CA0002']);
      expect(sids(last)).toEqual(['CA0001', 'CA0000']);
      expect(beyond.items).toEqual([]);
      for (const page of [first, second, last, beyond]) expect(page.total).toBe(10);
    });

    it('filters by number, matching from or to exactly', async () => {
      const page = await repo.list({ number: '+15550000001', limit: 100, offset: 0 });
      // from: even i; to: i divisible by 3.
      expect(sids(page)).toEqual(['CA0009', 'CA0008', 'CA0006', 'CA0004', 'CA0003', 'CA0002', 'CA0000']);
      expect(page.total).toBe(7);
      expect((await repo.list({ number: '+1555000000', limit: 100, offset: 0 })).total).toBe(0);
      expect((await repo.list({ number: '+15559990000', limit: 100, offset: 0 })).total).toBe(6);
    });

    it('filters by since (inclusive) and until (exclusive)', async () => {
      const since = await repo.list({ since: '2026-03-01T10:07:00.000Z', limit: 100, offset: 0 });
      expect(sids(since)).toEqual(['CA0009', 'CA0008', 'CA0007']);
      const until = await repo.list({ until: '2026-03-01T10:02:00.000Z', limit: 100, offset: 0 });
      expect(sids(until)).toEqual(['CA0001', 'CA0000']);
      // Offsets other than Z mean the same instant.
      const window = await repo.list({ since: '2026-03-01T11:03:00+01:00', until: '2026-03-01T10:05:00.000Z', limit: 100, offset: 0 });
      expect(sids(window)).toEqual(['CA0004', 'CA0003']);
      expect(window.total).toBe(2);
    });

    it('filters by status', async () => {
      const failed = await repo.list({ status: 'failed', limit: 100, offset: 0 });
      expect(sids(failed)).toEqual(['CA0008', 'CA0004', 'CA0000']);
      expect((await repo.list({ status: 'in-progress', limit: 100, offset: 0 })).total).toBe(0);
    });

    it('combines every filter with pagination', async () => {
      const query = {
        number: '+15550000001',
        since: '2026-03-01T10:01:00.000Z',
        until: '2026-03-01T10:09:00.000Z',
        status: 'completed' as const,
        limit: 2,
        offset: 1,
      };
      // Matches: CA0006, CA0003, CA0002 (CA0008 and CA0004 failed, CA0009 too late, CA0000 too early).
      const page = await repo.list(query);
      expect(sids(page)).toEqual(['CA0003', 'CA0002']);
      expect(page.total).toBe(3);
    });

    it('treats SQL-looking input as data', async () => {
      const nasty = "x' OR '1'='1";
      await repo.save(record({ callSid: "CA'; DROP TABLE calls; --", from: nasty, details: { note: "'); DELETE FROM calls; --" } }));
      expect((await repo.list({ number: nasty, limit: 100, offset: 0 })).total).toBe(1);
      expect((await repo.list({ number: "' OR 1=1 --", limit: 100, offset: 0 })).total).toBe(0);
      expect(await repo.get("CA0000' OR '1'='1")).toBeUndefined();
      expect((await repo.get("CA'; DROP TABLE calls; --"))?.details).toEqual({ note: "'); DELETE FROM calls; --" });
      await expect(repo.list({ since: "2026-01-01' OR '1'='1", limit: 1, offset: 0 })).rejects.toThrow();
      expect((await repo.list({ limit: 100, offset: 0 })).total).toBe(11);
    });
  });

  describe('what calls came to', () => {
    // Every branch of callOutcome, and the records that sit on its edges.
    const cases: Array<Partial<CallRecord>> = [
      { status: 'fallback', endReason: 'at_capacity', details: {} },
      { status: 'fallback', endReason: 'transferred', details: { jobRequest: { problem: 'leak' } } },
      { status: 'completed', endReason: 'twilio_stop', details: { jobRequest: { problem: 'leak', urgency: 'emergency' } } },
      { status: 'completed', endReason: 'transferred', details: { jobRequest: { problem: 'leak', urgency: 'routine' } } },
      { status: 'failed', endReason: 'realtime_closed', details: { jobRequest: { problem: 'leak', urgency: 'urgent' } } },
      { status: 'completed', endReason: 'transferred', details: {} },
      { status: 'failed', endReason: 'transferred', details: {} },
      { status: 'completed', endReason: 'caller_silent', details: {} },
      { status: 'completed', endReason: 'hangup', details: { jobRequest: 'not an object' } },
      { status: 'completed', endReason: 'hangup', details: { jobRequest: ['an', 'array'] } },
      { status: 'completed', endReason: 'hangup', details: { jobRequest: null } },
      { status: 'in-progress', endReason: null, endedAt: null, durationMs: null, details: {} },
      { status: 'in-progress', endReason: null, endedAt: null, durationMs: null, details: { jobRequest: { urgency: 'emergency' } } },
      { status: 'failed', endReason: 'instance_lost', details: {} },
      { status: 'failed', endReason: null, details: {} },
    ];
    const records = cases.map((c, i) =>
      record({ callSid: `CAo${String(i).padStart(3, '0')}`, startedAt: new Date(Date.UTC(2026, 4, 1, 9, i)).toISOString(), ...c }),
    );

    beforeEach(async () => {
      for (const r of records) await repo.save(r);
    });

    it.each(CALL_OUTCOMES)('filters on outcome %s exactly as callOutcome decides it', async (outcome) => {
      const page = await repo.list({ outcome, limit: 100, offset: 0 });
      const expected = records.filter((r) => callOutcome(r) === outcome).map((r) => r.callSid).reverse();
      expect(page.items.map((r) => r.callSid)).toEqual(expected);
      expect(page.total).toBe(expected.length);
    });

    it("filters on the job request's urgency", async () => {
      expect((await repo.list({ urgency: 'emergency', limit: 100, offset: 0 })).items.map((r) => r.callSid)).toEqual(['CAo012', 'CAo002']);
      expect((await repo.list({ urgency: 'urgent', outcome: 'job_request', limit: 100, offset: 0 })).items.map((r) => r.callSid)).toEqual(['CAo004']);
    });

    it('orders emergencies first, then newest', async () => {
      const page = await repo.list({ outcome: 'job_request', order: 'emergency_first', limit: 100, offset: 0 });
      expect(page.items.map((r) => r.callSid)).toEqual(['CAo012', 'CAo002', 'CAo004', 'CAo003']);
    });
  });
});
