import { ManualScheduler } from '../common/scheduler';
import { MigrationRunner } from '../database/migration-runner';
import { silentAppLogger, sqlTestBackends, type SqlTestDatabase } from '../database/sql-test-backends';
import { SmsConfirmationStore } from './confirmation-store';
import { SqlSmsOptOuts } from './sms-opt-outs';

jest.setTimeout(30_000);

let sidCounter = 0;
const newCallSid = () => `CA${(++sidCounter).toString(16).padStart(32, '0')}`;

describe.each(sqlTestBackends())('SMS storage on $name', (backend) => {
  let db: SqlTestDatabase;
  let optOuts: SqlSmsOptOuts;
  let store: SmsConfirmationStore;

  beforeAll(async () => {
    db = await backend.open();
    const migrations = new MigrationRunner(db.client, silentAppLogger, new ManualScheduler());
    await migrations.ensureMigrated();
    optOuts = new SqlSmsOptOuts(db.client, migrations);
    store = new SmsConfirmationStore(db.client, migrations);
  });

  afterAll(async () => {
    await db?.dispose();
    await backend.shutdown();
  });

  describe('the opt-out list', () => {
    it('opts a number out once (the first keyword stays), lists newest first, opts it back in', async () => {
      expect(await optOuts.has('+14155550001')).toBe(false);
      await optOuts.add('+14155550001', 'STOP', '2026-12-01T10:00:00.000Z');
      await optOuts.add('+14155550001', 'QUIT', '2026-12-01T11:00:00.000Z');
      await optOuts.add('+14155550002', 'twilio-21610', '2026-12-01T12:00:00.000Z');
      expect(await optOuts.has('+14155550001')).toBe(true);
      expect(await optOuts.list(10, 0)).toEqual({
        items: [
          { number: '+14155550002', at: '2026-12-01T12:00:00.000Z', keyword: 'twilio-21610' },
          { number: '+14155550001', at: '2026-12-01T10:00:00.000Z', keyword: 'STOP' },
        ],
        total: 2,
      });
      expect((await optOuts.list(1, 1)).items.map((i) => i.number)).toEqual(['+14155550001']);
      expect(await optOuts.remove('+14155550001')).toBe(true);
      expect(await optOuts.remove('+14155550001')).toBe(false);
      expect(await optOuts.has('+14155550001')).toBe(false);
    });
  });

  describe('the confirmation outbox', () => {
    const at = '2026-12-01T10:00:00.000Z';

    it('keeps the first row written for a call (a replayed record writes nothing new)', async () => {
      const callSid = newCallSid();
      await db.client.transaction((tx) => store.add(tx, { callSid, reference: 'R-000001', to: '+14155552671', body: 'first', status: 'pending', reason: null, at, notBefore: null }));
      await db.client.transaction((tx) => store.add(tx, { callSid, reference: 'R-000001', to: '+14155559999', body: 'second', status: 'pending', reason: null, at, notBefore: null }));
      expect(await store.claim(callSid, at)).toEqual({ callSid, to: '+14155552671', body: 'first', attempts: 1 });
    });

    it('lets one claim a pending row, once; a row handed back may be claimed again; settled rows are shown on the record', async () => {
      const callSid = newCallSid();
      const other = newCallSid();
      await db.client.transaction(async (tx) => {
        await store.add(tx, { callSid, reference: 'R-000002', to: '+14155552671', body: 'hello', status: 'pending', reason: null, at, notBefore: null });
        await store.add(tx, { callSid: other, reference: 'R-000003', to: null, body: null, status: 'skipped', reason: 'no-mobile-number', at, notBefore: null });
      });
      expect(await store.pending(100, at)).toContain(callSid);
      expect(await store.pending(100, at)).not.toContain(other);
      const [a, b] = await Promise.all([store.claim(callSid, at), store.claim(callSid, at)]);
      expect([a, b].filter((c) => c !== null)).toHaveLength(1);
      expect(await store.pending(100, at)).not.toContain(callSid);

      await store.settle(callSid, 'pending', '2026-12-01T10:00:10.000Z');
      expect((await store.claim(callSid, at))?.attempts).toBe(2);
      await store.settle(callSid, 'sent', '2026-12-01T10:00:20.000Z', { messageSid: 'SM' + '1'.repeat(32) });
      expect(await store.claim(callSid, at)).toBeNull();

      const details = await store.forCalls([callSid, other, 'CAnone']);
      expect(details.get(callSid)).toEqual({ reference: 'R-000002', status: 'sent', reason: null, messageSid: 'SM' + '1'.repeat(32), attempts: 2, at: '2026-12-01T10:00:20.000Z' });
      expect(details.get(other)).toEqual({ reference: 'R-000003', status: 'skipped', reason: 'no-mobile-number', messageSid: null, attempts: 0, at });
      expect(details.has('CAnone')).toBe(false);
    });

    it('holds a row until its not-before time, or until released with its final text', async () => {
      const held = newCallSid();
      const released = newCallSid();
      const notBefore = '2026-12-01T10:00:25.000Z';
      await db.client.transaction(async (tx) => {
        expect(await store.add(tx, { callSid: held, reference: 'R-000005', to: '+14155552671', body: 'facts', status: 'pending', reason: null, at, notBefore })).toBe(true);
        await store.add(tx, { callSid: released, reference: 'R-000006', to: '+14155552671', body: 'facts', status: 'pending', reason: null, at, notBefore });
      });
      expect(await store.pending(100, at)).not.toEqual(expect.arrayContaining([held]));
      expect(await db.client.transaction((tx) => store.add(tx, { callSid: released, reference: 'R-000006', to: '+1', body: 'x', status: 'pending', reason: null, at, notBefore: null }))).toBe(false);
      await db.client.transaction((tx) => store.release(tx, released, 'summarised'));
      const due = await store.pending(100, at);
      expect(due).toContain(released);
      expect(due).not.toContain(held);
      expect(await store.pending(100, notBefore)).toContain(held);
      expect(await store.claim(released, at)).toMatchObject({ body: 'summarised' });
      // Once taken for sending, a late release leaves the text it is sent with.
      await db.client.transaction((tx) => store.release(tx, released, 'too late'));
      await store.settle(released, 'pending', at);
      expect(await store.claim(released, at)).toMatchObject({ body: 'summarised' });
    });

    it('rolls the row back with the transaction that failed', async () => {
      const callSid = newCallSid();
      await expect(
        db.client.transaction(async (tx) => {
          await store.add(tx, { callSid, reference: 'R-000004', to: '+14155552671', body: 'x', status: 'pending', reason: null, at, notBefore: null });
          throw new Error('the record write failed');
        }),
      ).rejects.toThrow('the record write failed');
      expect((await store.forCalls([callSid])).size).toBe(0);
    });
  });
});
