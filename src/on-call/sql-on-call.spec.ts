import { ManualScheduler } from '../common/scheduler';
import { MigrationRunner } from '../database/migration-runner';
import { silentAppLogger, sqlTestBackends, type SqlTestDatabase } from '../database/sql-test-backends';
import { SqlPagingStore } from './paging-store';
import type { Rota } from './rota';
import { SqlRotaStore } from './rota-store';

jest.setTimeout(30_000);

const alice = { id: 'alice', name: 'Alice Jones', mobile: '+15551230001' };
const bob = { id: 'bob', name: 'Bob Smith', mobile: '+15551230002' };
const owner = { id: 'owner', name: 'Pat Owner', mobile: '+15551230009' };

const ROTA: Rota = {
  timezone: 'America/New_York',
  people: [alice, bob, owner],
  windows: [
    { days: ['mon', 'tue', 'wed', 'thu'], start: '17:00', end: '08:00', people: ['alice', 'bob'] },
    { days: null, start: 'fri 17:00', end: 'mon 08:00', people: ['bob', 'alice'] },
    { days: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'], start: '00:00', end: '00:00', people: ['owner'] },
  ],
  overrides: [{ id: 'xmas', start: '2026-12-24T22:00:00.000Z', end: '2026-12-26T13:00:00.000Z', people: ['owner'], note: 'closed' }],
};

let sidCounter = 0;
const newCallSid = () => `CA${(++sidCounter).toString(16).padStart(32, '0')}`;
const FACTS = { callerName: 'Dana Smith', callbackNumber: '+14155552671', serviceAddress: '12 Elm Street', problem: 'Burst pipe', callerNumber: '+14155550000' };

describe.each(sqlTestBackends())('on-call storage on $name', (backend) => {
  let db: SqlTestDatabase;
  let rotas: SqlRotaStore;
  let paging: SqlPagingStore;

  beforeAll(async () => {
    db = await backend.open();
    const migrations = new MigrationRunner(db.client, silentAppLogger, new ManualScheduler());
    await migrations.ensureMigrated();
    rotas = new SqlRotaStore(db.client, migrations);
    paging = new SqlPagingStore(db.client, migrations);
  });

  afterAll(async () => {
    await db?.dispose();
    await backend.shutdown();
  });

  describe('the rota', () => {
    it('has no copy until one is saved, then keeps it whole and in order', async () => {
      expect(await rotas.get()).toBeNull();
      const saved = await rotas.replace(ROTA, '2026-12-01T10:00:00.000Z');
      expect(saved).toEqual({ rota: ROTA, updatedAt: '2026-12-01T10:00:00.000Z' });
      expect(await rotas.get()).toEqual(saved);
    });

    it('replaces people, windows and overrides together', async () => {
      const smaller: Rota = { timezone: 'Europe/London', people: [bob], windows: [{ days: null, start: 'sat 00:00', end: 'sat 00:00', people: ['bob'] }], overrides: [] };
      await rotas.replace(smaller, '2026-12-02T10:00:00.000Z');
      expect(await rotas.get()).toEqual({ rota: smaller, updatedAt: '2026-12-02T10:00:00.000Z' });
      await rotas.replace(ROTA, '2026-12-03T10:00:00.000Z');
    });

    it('adds overrides in start order, replaces one by id, prunes long-ended ones, and removes one', async () => {
      const add = (id: string, start: string, end: string) =>
        rotas.addOverride({ id, start, end, people: ['bob'], note: null }, ROTA, '2026-12-04T10:00:00.000Z', '2026-06-01T00:00:00.000Z');
      await add('old', '2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z');
      await add('early', '2026-12-20T00:00:00.000Z', '2026-12-21T00:00:00.000Z');
      const after = await add('early', '2026-12-19T00:00:00.000Z', '2026-12-21T00:00:00.000Z');
      expect(after.updatedAt).toBe('2026-12-04T10:00:00.000Z');
      // 'old' ended before the prune date: dropped at the next add.
      const last = await add('late', '2027-01-05T00:00:00.000Z', '2027-01-06T00:00:00.000Z');
      expect(last.rota.overrides.map((o) => [o.id, o.start])).toEqual([
        ['early', '2026-12-19T00:00:00.000Z'],
        ['xmas', '2026-12-24T22:00:00.000Z'],
        ['late', '2027-01-05T00:00:00.000Z'],
      ]);
      expect(await rotas.removeOverride('early', '2026-12-05T00:00:00.000Z')).toBe(true);
      expect(await rotas.removeOverride('early', '2026-12-05T00:00:00.000Z')).toBe(false);
      expect((await rotas.get())!.rota.overrides.map((o) => o.id)).toEqual(['xmas', 'late']);
      expect((await rotas.get())!.updatedAt).toBe('2026-12-05T00:00:00.000Z');
    });
  });

  describe('the rota, first edited through an override', () => {
    let fresh: SqlTestDatabase;
    afterAll(() => fresh?.dispose());

    it('saves the default in force first, so that the first edit keeps who was on call', async () => {
      if (backend.name === 'pglite') return; // one schema at a time there (covered by the copy above on postgres)
      fresh = await backend.open();
      const migrations = new MigrationRunner(fresh.client, silentAppLogger, new ManualScheduler());
      const store = new SqlRotaStore(fresh.client, migrations);
      const saved = await store.addOverride({ id: 'sick', start: '2026-12-10T22:00:00.000Z', end: '2026-12-11T13:00:00.000Z', people: ['bob'], note: null }, ROTA, '2026-12-10T12:00:00.000Z', '2026-01-01T00:00:00.000Z');
      expect(saved.rota.people).toEqual(ROTA.people);
      expect(saved.rota.windows).toEqual(ROTA.windows);
      expect(saved.rota.overrides.map((o) => o.id)).toEqual(['sick', 'xmas']);
    });
  });

  describe('pages', () => {
    async function begun(people = [alice, bob, owner]): Promise<string> {
      const callSid = newCallSid();
      await paging.begin({ callSid, startedAt: '2026-12-02T07:00:00.000Z', people, facts: FACTS });
      return callSid;
    }

    it('starts an emergency once, keeping its list and bringing its facts up to date', async () => {
      const callSid = await begun();
      await paging.begin({ callSid, startedAt: '2026-12-02T07:00:05.000Z', people: [owner], facts: { ...FACTS, serviceAddress: '14 Elm Street' } });
      expect(await paging.get(callSid)).toEqual({
        callSid,
        startedAt: '2026-12-02T07:00:00.000Z',
        people: [alice, bob, owner],
        facts: { ...FACTS, serviceAddress: '14 Elm Street' },
        status: 'paging',
        ackedAt: null,
        ackedBy: null,
        ackedVia: null,
        gaveUpAt: null,
        pages: [],
      });
      expect(await paging.get(newCallSid())).toBeNull();
      expect(await paging.updateFacts(callSid, { ...FACTS, problem: 'Burst pipe, now flooding' })).toBe(true);
      expect((await paging.get(callSid))!.facts.problem).toBe('Burst pipe, now flooding');
      expect(await paging.updateFacts(newCallSid(), FACTS)).toBe(false);
    });

    it('lets one claim a step, records it sent or failed, and reads pages in step order', async () => {
      const callSid = await begun();
      expect(await paging.claim(callSid, 0, alice, 'job-1', '2026-12-02T07:00:01.000Z')).toBe(true);
      expect(await paging.claim(callSid, 0, alice, 'job-1', '2026-12-02T07:00:02.000Z')).toBe(false);
      await paging.sent(callSid, 0, 'SM' + '0'.repeat(32), '2026-12-02T07:00:01.500Z');
      expect(await paging.claim(callSid, 1, bob, 'job-1', '2026-12-02T07:05:02.000Z')).toBe(true);
      await paging.failed(callSid, 1, 'HTTP 400 (code 21211): invalid To');
      const e = (await paging.get(callSid))!;
      expect(e.pages).toEqual([
        { step: 0, personId: 'alice', personName: 'Alice Jones', to: alice.mobile, status: 'sent', claimedBy: 'job-1', claimedAt: '2026-12-02T07:00:01.000Z', sentAt: '2026-12-02T07:00:01.500Z', messageSid: 'SM' + '0'.repeat(32), error: null, answer: null, answeredAt: null, answerSid: null, delivery: null, deliveryError: null, deliveryAt: null },
        { step: 1, personId: 'bob', personName: 'Bob Smith', to: bob.mobile, status: 'failed', claimedBy: 'job-1', claimedAt: '2026-12-02T07:05:02.000Z', sentAt: null, messageSid: null, error: 'HTTP 400 (code 21211): invalid To', answer: null, answeredAt: null, answerSid: null, delivery: null, deliveryError: null, deliveryAt: null },
      ]);
      expect(await paging.wasPaged(alice.mobile)).toBe(true);
      expect(await paging.wasPaged('+15559999999')).toBe(false);
    });

    it('takes a YES as the answer to the latest page sent to that number, and the emergency as taken', async () => {
      // Numbers of their own: the pages of other tests are in the same tables.
      const alice = { id: 'alice', name: 'Alice Jones', mobile: '+15551239001' };
      const bob = { id: 'bob', name: 'Bob Smith', mobile: '+15551239002' };
      const older = await begun([alice]);
      await paging.claim(older, 0, alice, 'job-1', '2026-12-02T07:00:01.000Z');
      await paging.sent(older, 0, 'SMolder', '2026-12-02T07:00:01.000Z');
      const newer = await begun([bob, alice]);
      await paging.claim(newer, 0, bob, 'job-1', '2026-12-02T08:00:00.000Z');
      await paging.sent(newer, 0, 'SMnewer0', '2026-12-02T08:00:00.000Z');
      await paging.claim(newer, 1, alice, 'job-1', '2026-12-02T08:05:00.000Z');
      await paging.sent(newer, 1, 'SMnewer1', '2026-12-02T08:05:00.000Z');

      const taken = await paging.answer(alice.mobile, 'accepted', '2026-12-02T08:06:00.000Z', 'SMreply1');
      expect(taken).toEqual({ callSid: newer, step: 1, personId: 'alice', personName: 'Alice Jones', facts: FACTS, wasPaging: true });
      expect(await paging.get(newer)).toMatchObject({ status: 'acknowledged', ackedAt: '2026-12-02T08:06:00.000Z', ackedBy: 'alice', ackedVia: 'sms', pages: [{ answer: null }, { answer: 'accepted', answeredAt: '2026-12-02T08:06:00.000Z', answerSid: 'SMreply1' }] });

      // Bob's page belongs to an emergency Alice took: nothing left for him to answer.
      expect(await paging.answer(bob.mobile, 'accepted', '2026-12-02T08:07:00.000Z', 'SMreply2')).toBeNull();
      // Alice's next YES answers the older emergency, given up on meanwhile: a late YES still takes it.
      expect(await paging.giveUp(older, '2026-12-02T07:10:00.000Z')).toBe(true);
      expect(await paging.giveUp(older, '2026-12-02T07:10:00.000Z')).toBe(false);
      expect(await paging.answer(alice.mobile, 'accepted', '2026-12-02T08:08:00.000Z', 'SMreply3')).toMatchObject({ callSid: older, wasPaging: false });
      expect(await paging.get(older)).toMatchObject({ status: 'acknowledged', gaveUpAt: '2026-12-02T07:10:00.000Z', ackedBy: 'alice' });
      expect(await paging.answer(alice.mobile, 'accepted', '2026-12-02T08:09:00.000Z', 'SMreply4')).toBeNull();
    });

    it('takes a NO as an answer that leaves the emergency paging', async () => {
      const callSid = await begun([bob, owner]);
      await paging.claim(callSid, 0, bob, 'job-1', '2026-12-02T09:00:00.000Z');
      await paging.sent(callSid, 0, 'SMno', '2026-12-02T09:00:00.000Z');
      expect(await paging.answer(bob.mobile, 'declined', '2026-12-02T09:01:00.000Z', 'SMnoreply')).toMatchObject({ callSid, step: 0, wasPaging: true });
      expect(await paging.get(callSid)).toMatchObject({ status: 'paging', pages: [{ answer: 'declined' }] });
    });

    it("keeps Twilio's first final delivery report; a page not delivered and not answered fails", async () => {
      const callSid = await begun();
      const [sm0, sm1, sm2] = [0, 1, 2].map((n) => `SM${String(n).repeat(32)}${callSid.slice(-4)}`);
      for (const [step, person, sm] of [[0, alice, sm0], [1, bob, sm1], [2, owner, sm2]] as const) {
        await paging.claim(callSid, step, person, 'job-1', '2026-12-02T07:00:01.000Z');
        await paging.sent(callSid, step, sm, '2026-12-02T07:00:02.000Z');
      }
      expect(await paging.delivered(sm0, 'delivered', null, '2026-12-02T07:00:05.000Z')).toEqual({ callSid, step: 0, failed: false });
      // A later report of the same message changes nothing.
      expect(await paging.delivered(sm0, 'undelivered', 30003, '2026-12-02T07:00:06.000Z')).toBeNull();
      expect(await paging.delivered(sm1, 'undelivered', 30003, '2026-12-02T07:00:07.000Z')).toEqual({ callSid, step: 1, failed: true });
      // Answered before the report came: the answer stands.
      await paging.answer(owner.mobile, 'declined', '2026-12-02T07:00:08.000Z', 'SMdecl');
      expect(await paging.delivered(sm2, 'failed', 30008, '2026-12-02T07:00:09.000Z')).toEqual({ callSid, step: 2, failed: false });
      expect(await paging.delivered('SM' + 'f'.repeat(32), 'delivered', null, '2026-12-02T07:00:09.000Z')).toBeNull();
      expect((await paging.get(callSid))!.pages).toMatchObject([
        { step: 0, status: 'sent', delivery: 'delivered', deliveryError: null, deliveryAt: '2026-12-02T07:00:05.000Z', error: null },
        { step: 1, status: 'failed', delivery: 'undelivered', deliveryError: 30003, error: 'not delivered: undelivered (Twilio error 30003)' },
        { step: 2, status: 'sent', delivery: 'failed', deliveryError: 30008, answer: 'declined' },
      ]);
    });

    it('lists the emergencies still paging, oldest first', async () => {
      const later = newCallSid();
      await paging.begin({ callSid: later, startedAt: '2026-12-02T07:30:00.000Z', people: [alice], facts: FACTS });
      const earlier = await begun();
      const taken = await begun();
      await paging.acknowledge(taken, 'transfer', '2026-12-02T07:01:00.000Z', 'alice');
      // The tables hold the other tests' emergencies too.
      const mine = (await paging.paging(10_000)).filter((e) => [later, earlier, taken].includes(e.callSid));
      expect(mine.map((e) => e.callSid)).toEqual([earlier, later]);
      expect(mine[0]).toMatchObject({ status: 'paging', people: [alice, bob, owner] });
    });

    it('is taken through another feature once, and reads several calls at once', async () => {
      const a = await begun();
      const b = await begun();
      expect(await paging.acknowledge(a, 'transfer', '2026-12-02T10:00:00.000Z', 'bob')).toBe(true);
      expect(await paging.acknowledge(a, 'transfer', '2026-12-02T10:00:01.000Z', 'alice')).toBe(false);
      const both = await paging.forCalls([a, b, newCallSid(), a]);
      expect([...both.keys()].sort()).toEqual([a, b].sort());
      expect(both.get(a)).toMatchObject({ status: 'acknowledged', ackedVia: 'transfer', ackedBy: 'bob' });
      expect(await paging.forCalls([])).toEqual(new Map());
    });
  });
});
