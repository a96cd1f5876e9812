import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { LogCapture } from '../../test/support/log-capture';
import { ManualClock } from '../common/clock';
import { ManualScheduler } from '../common/scheduler';
import type { AppConfig } from '../config/app-config';
import type { AppLogger } from '../logging/app-logger';
import { EmergencyAlerts } from './emergency-alerts';
import type { OnCallPager } from './on-call-pager';
import type { OnCallRotas } from './on-call-rotas';
import type { OnCallSms } from './on-call-sms';
import type { EmergencyFacts } from './page-message';
import type { NewEscalation, PagingStore } from './paging-store';
import type { OnCallPerson } from './rota';

const alice: OnCallPerson = { id: 'alice', name: 'Alice Jones', mobile: '+15551230001' };
const bob: OnCallPerson = { id: 'bob', name: 'Bob Smith', mobile: '+15551230002' };
const CALL = 'CA' + '1'.repeat(32);
const FACTS: EmergencyFacts = { callerName: 'Dana Smith', problem: 'Burst pipe', callerNumber: '+14155550000' };

/** The database as EmergencyAlerts uses it: the emergencies recorded and the first jobs queued; both fail while `down`. */
class Database {
  down = false;
  readonly escalations = new Map<string, NewEscalation>();
  readonly started: string[] = [];
  readonly store = {
    begin: async (e: NewEscalation) => {
      this.check();
      const known = this.escalations.get(e.callSid);
      this.escalations.set(e.callSid, known ? { ...known, facts: e.facts } : e);
    },
    updateFacts: async (callSid: string, facts: EmergencyFacts) => {
      this.check();
      const known = this.escalations.get(callSid);
      if (known) this.escalations.set(callSid, { ...known, facts });
      return Boolean(known);
    },
  };
  readonly pager = {
    start: async (callSid: string) => {
      this.check();
      this.started.push(callSid);
    },
  };
  private check(): void {
    if (this.down) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
  }
}

describe('EmergencyAlerts', () => {
  let dataDir: string;
  let clock: ManualClock;
  let scheduler: ManualScheduler;
  let db: Database;
  let logs: LogCapture;
  let onCall: OnCallPerson[];
  let unavailable: string | null;

  const flush = () => new Promise((resolve) => setImmediate(resolve));

  function alerts(): EmergencyAlerts {
    const logger = pino({ level: 'debug' }, logs);
    const rotas = { onCallNow: async () => ({ people: onCall, from: onCall.length ? 'windows' : 'nobody', stale: false }) } as unknown as OnCallRotas;
    const sms = { get unavailableReason() { return unavailable; } } as unknown as OnCallSms;
    const config = { dataDir, onCall: { callbackMinutes: 20 } } as unknown as AppConfig;
    return new EmergencyAlerts(
      rotas,
      db.store as unknown as PagingStore,
      db.pager as unknown as OnCallPager,
      sms,
      clock,
      scheduler,
      config,
      { child: () => logger } as unknown as AppLogger,
      { shutdownFlushMs: 50 },
    );
  }

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'emergency-alerts-'));
    clock = new ManualClock(0, Date.UTC(2026, 0, 15, 7));
    scheduler = new ManualScheduler(clock);
    db = new Database();
    logs = new LogCapture();
    onCall = [alice, bob];
    unavailable = null;
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('answers with the first person on call, then records the emergency and queues its paging', async () => {
    const a = alerts();
    expect(await a.raise(CALL, FACTS)).toEqual({ alerted: true, person: { id: 'alice', name: 'Alice Jones' }, callbackWithinMinutes: 20 });
    await a.drained();
    expect(db.escalations.get(CALL)).toEqual({ callSid: CALL, startedAt: '2026-01-15T07:00:00.000Z', people: [alice, bob], facts: FACTS });
    expect(db.started).toEqual([CALL]);
    a.update(CALL, { ...FACTS, serviceAddress: '12 Elm Street' });
    await a.drained();
    expect(db.escalations.get(CALL)!.facts.serviceAddress).toBe('12 Elm Street');
    expect(db.started).toEqual([CALL]);
  });

  it('says honestly when nobody is on call, or nobody can be paged, and records nothing', async () => {
    onCall = [];
    expect(await alerts().raise(CALL, FACTS)).toEqual({ alerted: false, reason: 'nobody_on_call' });
    onCall = [alice];
    unavailable = 'paging needs SMS_FROM_NUMBER';
    expect(await alerts().raise(CALL, FACTS)).toEqual({ alerted: false, reason: 'paging_unavailable' });
    expect(logs.find('emergency raised, but nobody can be paged: set up paging')).toMatchObject({ level: 50, why: 'paging needs SMS_FROM_NUMBER' });
    expect(db.escalations.size).toBe(0);
  });

  it('through a database outage, answers at once, keeps retrying with backoff, and loses nothing', async () => {
    db.down = true;
    const a = alerts();
    expect(await a.raise(CALL, FACTS)).toMatchObject({ alerted: true });
    await flush();
    expect(a.pendingCount).toBe(1);
    expect(logs.find('emergency not handed to the page queue yet: the database did not take it; retrying')).toMatchObject({ level: 50, attempts: 1, retryMs: 1_000 });
    for (const delay of [1_000, 2_000, 4_000]) {
      scheduler.advance(delay);
      await flush();
    }
    expect(logs.all('emergency not handed to the page queue yet: the database did not take it; retrying').map((l) => [l.level, l.retryMs])).toEqual([
      [50, 1_000],
      [40, 2_000],
      [40, 4_000],
      [40, 8_000],
    ]);
    // A correction during the outage is tried at once, and kept with the rest.
    a.update(CALL, { ...FACTS, serviceAddress: '12 Elm Street' });
    await flush();
    expect(logs.all('emergency not handed to the page queue yet: the database did not take it; retrying').at(-1)).toMatchObject({ attempts: 5, retryMs: 16_000 });
    db.down = false;
    scheduler.advance(16_000);
    await a.drained();
    expect(db.escalations.get(CALL)).toMatchObject({ people: [alice, bob], facts: { serviceAddress: '12 Elm Street' } });
    expect(db.started).toEqual([CALL]);
    expect(scheduler.pending).toBe(0);
  });

  it('spools what the database still would not take at shutdown, and takes it up at the next boot', async () => {
    db.down = true;
    const first = alerts();
    await first.raise(CALL, FACTS);
    await flush();
    const shutdown = first.beforeApplicationShutdown();
    scheduler.advance(50); // the flush waits no longer
    await shutdown;
    expect(first.pendingCount).toBe(0);
    expect(scheduler.pending).toBe(0);
    const spooled = readdirSync(join(dataDir, 'spool', 'on-call'));
    expect(spooled).toEqual([`${CALL}.json`]);
    expect(JSON.parse(readFileSync(join(dataDir, 'spool', 'on-call', spooled[0]), 'utf8'))).toMatchObject({ callSid: CALL, start: true, begin: { people: [alice, bob] } });
    expect(logs.find('emergency spooled to disk: its paging starts at the next boot')).toMatchObject({ callSid: CALL });

    db.down = false;
    const second = alerts();
    await second.onApplicationBootstrap();
    await second.drained();
    expect(db.escalations.get(CALL)).toMatchObject({ people: [alice, bob], facts: FACTS });
    expect(db.started).toEqual([CALL]);
    expect(readdirSync(join(dataDir, 'spool', 'on-call'))).toEqual([]);
  });
});
