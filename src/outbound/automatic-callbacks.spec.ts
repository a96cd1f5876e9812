import { ManualClock } from '../common/clock';
import { ManualScheduler } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import { MigrationRunner } from '../database/migration-runner';
import { silentAppLogger, sqlTestBackends, type SqlTestDatabase } from '../database/sql-test-backends';
import { MemoryRepository } from '../../test/support/call-harness';
import { callRecord } from '../../test/support/call-records';
import { AutomaticCallbacks, wantsCallback, type EndedInboundCall } from './automatic-callbacks';
import { SqlDoNotCallList } from './do-not-call';
import type { OutboundDialer } from './outbound-dialer';
import { SqlOutboundRequests } from './sql-outbound-requests';

jest.setTimeout(30_000);

const ended = (over: Partial<EndedInboundCall> = {}): EndedInboundCall => ({
  callSid: `CA${Math.random().toString(16).slice(2).padEnd(32, '0').slice(0, 32)}`,
  from: '+12025550160',
  direction: 'inbound',
  endReason: 'twilio_stop',
  jobRequestSaved: false,
  companyName: 'Acme Plumbing',
  ...over,
});

describe('wantsCallback', () => {
  it('wants one for an inbound call that ended without a job request: hung up, dropped, silent, or failed', () => {
    for (const endReason of ['twilio_stop', 'twilio_closed', 'caller_silent', 'shutdown', 'realtime_closed', 'realtime_connect_failed']) {
      expect(wantsCallback(ended({ endReason }))).toBe(true);
    }
  });

  it('not when a job was saved, the agent or a person ended it on purpose, it was outbound, or the number cannot be called', () => {
    expect(wantsCallback(ended({ jobRequestSaved: true }))).toBe(false);
    expect(wantsCallback(ended({ endReason: 'hangup' }))).toBe(false);
    expect(wantsCallback(ended({ endReason: 'transferred' }))).toBe(false);
    expect(wantsCallback(ended({ direction: 'outbound' }))).toBe(false);
    expect(wantsCallback(ended({ from: 'anonymous' }))).toBe(false);
    expect(wantsCallback(ended({ from: '' }))).toBe(false);
  });
});

describe.each(sqlTestBackends())('AutomaticCallbacks on $name', (backend) => {
  let db: SqlTestDatabase;
  let requests: SqlOutboundRequests;
  let dnc: SqlDoNotCallList;
  let calls: MemoryRepository;
  const clock = new ManualClock(0, Date.UTC(2026, 11, 2, 15));

  beforeAll(async () => {
    db = await backend.open();
    const migrations = new MigrationRunner(db.client, silentAppLogger, new ManualScheduler());
    await migrations.ensureMigrated();
    requests = new SqlOutboundRequests(db.client, migrations);
    dnc = new SqlDoNotCallList(db.client, migrations);
  });

  beforeEach(() => {
    calls = new MemoryRepository();
  });

  afterAll(async () => {
    await db?.dispose();
    await backend.shutdown();
  });

  const enqueued: string[] = [];
  const dialer = { enqueue: async (r: { id: string }) => void enqueued.push(r.id) } as unknown as OutboundDialer;
  const callbacks = (enabled = true) =>
    new AutomaticCallbacks(requests, dnc, calls, new AppConfig(validateEnvironment({ OUTBOUND_AUTO_CALLBACK: String(enabled) })), clock, dialer, silentAppLogger);

  it('requests one callback per call, to the caller, as a callback of that call', async () => {
    const call = ended({ from: '+12025550161' });
    const id = await callbacks().request(call);
    expect(await requests.get(id!)).toMatchObject({
      to: '+12025550161',
      purpose: 'returning your call to Acme Plumbing',
      callbackOf: call.callSid,
      consent: null,
      status: 'queued',
      metadata: { automatic: true, endReason: 'twilio_stop' },
    });
    expect(enqueued).toContain(id);
    expect(await callbacks().request(call)).toBeNull();
  });

  it('requests none for a number with an open request, a job on record, or on the do-not-call list', async () => {
    await callbacks().request(ended({ from: '+12025550162' }));
    expect(await callbacks().request(ended({ from: '+12025550162' }))).toBeNull();

    await calls.save(callRecord({ callSid: 'CAjob', from: '+12025550163', startedAt: new Date(clock.epochMs() - 86_400_000).toISOString(), details: { jobRequest: { problem: 'leak' } } }));
    expect(await callbacks().request(ended({ from: '+12025550163' }))).toBeNull();

    await dnc.add('+12025550164', 'api', null);
    expect(await callbacks().request(ended({ from: '+12025550164' }))).toBeNull();
    expect(await requests.hasOpenRequest('+12025550164')).toBe(false);
  });

  it('asks only when OUTBOUND_AUTO_CALLBACK is on and the call wants a callback', () => {
    const off = callbacks(false);
    const offRequest = jest.spyOn(off, 'request');
    off.callEnded(ended({ from: '+12025550165' }));
    expect(offRequest).not.toHaveBeenCalled();

    const on = callbacks(true);
    const onRequest = jest.spyOn(on, 'request').mockResolvedValue(null);
    const call = ended({ from: '+12025550165' });
    on.callEnded(call);
    on.callEnded(ended({ endReason: 'transferred' }));
    expect(onRequest.mock.calls).toEqual([[call]]);
  });
});
