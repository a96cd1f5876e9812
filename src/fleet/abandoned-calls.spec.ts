import { ManualClock } from '../common/clock';
import { ManualScheduler } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import { AppLogger } from '../logging/app-logger';
import type { RedisConnection } from '../redis/redis-connection';
import { InMemorySessionStore, type CallSession } from '../session/session-store';
import { MemoryRepository } from '../../test/support/call-harness';
import { callRecord } from '../../test/support/call-records';
import { LogCapture } from '../../test/support/log-capture';
import { ABANDONED_GRACE_MS, AbandonedCalls } from './abandoned-calls';
import type { InstanceLease } from './instance-lease';

const ME = 'pod-a';
const LEASE_MS = 15_000;
const NOW = Date.UTC(2026, 11, 2, 3, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();
const sid = (n: number) => `CA${String(n).padStart(32, '0')}`;

/**
 * The sweeper over in-memory records, a session store that plays the shared one (it holds
 * sessions of other instances too), a lease table the test sets, and a Redis that has been up as
 * long as the test says.
 */
function sweeper(options: { redis: boolean }) {
  const env = { INSTANCE_ID: ME, INSTANCE_LEASE_SECONDS: String(LEASE_MS / 1000), ...(options.redis ? { REDIS_URL: 'redis://127.0.0.1:6379', DATABASE_URL: 'postgres://x@h/db' } : {}) };
  const config = new AppConfig(validateEnvironment(env));
  const clock = new ManualClock(0, NOW);
  const scheduler = new ManualScheduler(clock);
  const logs = new LogCapture();
  const records = new MemoryRepository();
  const store = new InMemorySessionStore(config, clock);
  const sessions: CallSession[] = [];
  // The shared store: sessions saved by any instance, as list() shows them.
  const shared = Object.assign(Object.create(store) as InMemorySessionStore, {
    list: async () => sessions.map((s) => ({ ...s })),
    remove: async (callSid: string) => void sessions.splice(sessions.findIndex((s) => s.callSid === callSid) >>> 0, 1),
  });
  const alive = new Set<string>([ME]);
  const lease = { alive: async (ids: readonly string[]) => new Set(ids.filter((id) => alive.has(id))) } as unknown as InstanceLease;
  const redis = { upFor: LEASE_MS, client: options.redis ? {} : null, upForMs() { return this.upFor; } };
  const calls = new AbandonedCalls(records, shared, lease, redis as unknown as RedisConnection, config, clock, scheduler, new AppLogger(config, logs));
  const inProgress = (n: number, startedAt: number) => records.save(callRecord({ callSid: sid(n), status: 'in-progress', startedAt: iso(startedAt), endedAt: null, durationMs: null, endReason: null }));
  const session = (n: number, instanceId: string, lastSeenAt: number): void =>
    void sessions.push({ callSid: sid(n), instanceId, streamSid: 'MZ1', from: '+15551230000', to: '+15557650000', direction: 'inbound', startedAt: NOW - 120_000, lastSeenAt, state: 'listening' });
  return { calls, records, sessions, alive, redis, clock, scheduler, logs, inProgress, session };
}

describe('AbandonedCalls', () => {
  describe('alone (no REDIS_URL): at boot', () => {
    it('ends every record its previous run left in progress, and nothing else', async () => {
      const t = sweeper({ redis: false });
      await t.inProgress(1, NOW - 3_600_000);
      await t.inProgress(2, NOW - 1_000);
      await t.records.save(callRecord({ callSid: sid(3), status: 'completed' }));
      await t.records.save(callRecord({ callSid: sid(4), status: 'fallback' }));

      expect((await t.calls.sweepAlone()).sort()).toEqual([sid(1), sid(2)]);
      expect(t.records.rows.get(sid(1))).toMatchObject({ status: 'failed', endReason: 'instance_lost', details: { abandoned: { noticedBy: ME } } });
      expect(t.records.rows.get(sid(2))).toMatchObject({ status: 'failed', endReason: 'instance_lost' });
      expect(t.records.rows.get(sid(3))?.status).toBe('completed');
      expect(t.records.rows.get(sid(4))?.status).toBe('fallback');
      expect(t.logs.lines.filter((l) => l.msg === 'call record ended: the instance holding the call is gone').map((l) => l.callSid).sort()).toEqual([sid(1), sid(2)]);
    });

    it('runs once at boot, in the background, and never on a timer', async () => {
      const t = sweeper({ redis: false });
      await t.inProgress(1, NOW - 3_600_000);
      t.calls.onApplicationBootstrap();
      await t.logs.waitFor('call record ended: the instance holding the call is gone', { callSid: sid(1) });
      expect(t.scheduler.pending).toBe(0);
    });
  });

  describe('in a fleet (REDIS_URL)', () => {
    it('ends the calls of an instance whose lease lapsed, at when Twilio was last heard from, and removes their sessions', async () => {
      const t = sweeper({ redis: true });
      await t.inProgress(1, NOW - 120_000);
      await t.inProgress(2, NOW - 120_000);
      await t.inProgress(3, NOW - 120_000);
      t.session(1, 'pod-b', NOW - 9_000); // pod-b died
      t.session(2, 'pod-c', NOW - 1_000); // pod-c lives
      t.alive.add('pod-c');
      t.session(3, ME, NOW - 500); // this instance's own

      expect(await t.calls.sweepFleet()).toEqual([sid(1)]);
      expect(t.records.rows.get(sid(1))).toMatchObject({
        status: 'failed',
        endReason: 'instance_lost',
        endedAt: iso(NOW - 9_000),
        durationMs: 111_000,
        details: { abandoned: { holder: 'pod-b', noticedBy: ME } },
      });
      expect(t.sessions.map((s) => s.callSid)).toEqual([sid(2), sid(3)]);
      expect(t.records.rows.get(sid(2))?.status).toBe('in-progress');
      expect(t.records.rows.get(sid(3))?.status).toBe('in-progress');
    });

    it('keeps the session as the record of a call whose holder died before its record was written', async () => {
      const t = sweeper({ redis: true });
      t.session(4, 'pod-b', NOW - 5_000);
      expect(await t.calls.sweepFleet()).toEqual([sid(4)]);
      expect(t.records.rows.get(sid(4))).toMatchObject({
        callSid: sid(4),
        direction: 'inbound',
        from: '+15551230000',
        status: 'failed',
        endReason: 'instance_lost',
        startedAt: iso(NOW - 120_000),
        endedAt: iso(NOW - 5_000),
        durationMs: 115_000,
        details: { abandoned: { holder: 'pod-b', noticedBy: ME, fromSession: true } },
      });
      expect(t.sessions).toEqual([]);
    });

    it('ends a record in progress with no session left once it is older than the grace period', async () => {
      const t = sweeper({ redis: true });
      await t.inProgress(1, NOW - ABANDONED_GRACE_MS - 1);
      await t.inProgress(2, NOW - ABANDONED_GRACE_MS + 1_000); // its session may not have landed yet
      expect(await t.calls.sweepFleet()).toEqual([sid(1)]);
      expect(t.records.rows.get(sid(2))?.status).toBe('in-progress');
    });

    it('waits until Redis has been up for a whole lease: after a restart, sessions and leases are saved again first', async () => {
      const t = sweeper({ redis: true });
      await t.inProgress(1, NOW - 3_600_000);
      t.redis.upFor = LEASE_MS - 1;
      expect(await t.calls.sweepFleet()).toEqual([]);
      expect(t.records.rows.get(sid(1))?.status).toBe('in-progress');
      t.redis.upFor = LEASE_MS;
      expect(await t.calls.sweepFleet()).toEqual([sid(1)]);
    });

    it('sweeps every lease period, and a failed sweep is logged and tried again', async () => {
      const t = sweeper({ redis: true });
      await t.inProgress(1, NOW - 3_600_000);
      const inProgress = t.records.inProgress.bind(t.records);
      let failures = 1;
      t.records.inProgress = async (...args) => (failures-- > 0 ? Promise.reject(new Error('connection refused')) : inProgress(...args));
      t.calls.onApplicationBootstrap();
      expect(t.scheduler.pending).toBe(1);

      t.scheduler.advance(LEASE_MS);
      await t.logs.waitFor('abandoned calls sweep failed; trying again next time', { err: 'connection refused' });
      expect(t.records.rows.get(sid(1))?.status).toBe('in-progress');
      t.scheduler.advance(LEASE_MS);
      await t.logs.waitFor('call record ended: the instance holding the call is gone', { callSid: sid(1) });
      t.calls.onModuleDestroy();
      expect(t.scheduler.pending).toBe(0);
    });
  });
});
