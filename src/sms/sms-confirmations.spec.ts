import { CallDetailSources } from '../call-log/call-detail-sources';
import { EMPTY_USAGE, type CallRecord } from '../call-log/call-record';
import { summaryDetailOf } from '../call-log/call-summary';
import { EndedCallHooks } from '../call-log/ended-call-hooks';
import { ManualClock } from '../common/clock';
import { ManualScheduler } from '../common/scheduler';
import type { AppConfig } from '../config/app-config';
import type { SqlExecutor } from '../database/sql-client';
import { silentAppLogger } from '../database/sql-test-backends';
import { SmsError, type OnCallSms } from '../on-call/on-call-sms';
import type { CallSummaries } from '../summary/call-summaries';
import type { ClaimedConfirmation, NewConfirmation, SmsConfirmationStore } from './confirmation-store';
import { CONFIRMATION_ATTEMPTS, SmsConfirmations } from './sms-confirmations';
import type { SmsOptOuts } from './sms-opt-outs';

const CALL_SID = 'CA0123456789abcdef0123456789abcdef';

function record(over: Partial<CallRecord> = {}, job: Record<string, unknown> | null = { problem: 'Leaking tap', serviceAddress: '12 Elm Street', callbackNumber: '+14155552671', urgency: 'routine' }): CallRecord {
  return {
    callSid: CALL_SID,
    streamSid: null,
    direction: 'inbound',
    from: '+14155550100',
    to: '+15557650000',
    status: 'completed',
    startedAt: '2026-12-01T10:00:00.000Z',
    endedAt: '2026-12-01T10:05:00.000Z',
    durationMs: 300_000,
    endReason: 'caller hung up',
    transcript: [],
    usage: EMPTY_USAGE,
    costUsd: 0,
    recording: null,
    details: job ? { jobRequest: job } : {},
    profile: null,
    ...over,
  };
}

/** The outbox in memory, as the SQL store behaves. */
class MemoryStore {
  readonly rows = new Map<string, Omit<NewConfirmation, 'status'> & { status: string; attempts: number; messageSid: string | null }>();
  add(_tx: SqlExecutor, c: NewConfirmation): Promise<boolean> {
    if (this.rows.has(c.callSid)) return Promise.resolve(false);
    this.rows.set(c.callSid, { ...c, attempts: 0, messageSid: null });
    return Promise.resolve(true);
  }
  release(_tx: SqlExecutor, callSid: string, body: string): Promise<void> {
    const row = this.rows.get(callSid);
    if (row?.status === 'pending') this.rows.set(callSid, { ...row, body, notBefore: null });
    return Promise.resolve();
  }
  pending(_limit: number, now: string): Promise<string[]> {
    const due = (r: { status: string; notBefore: string | null }) => r.status === 'pending' && (r.notBefore === null || r.notBefore <= now);
    return Promise.resolve([...this.rows.values()].filter(due).map((r) => r.callSid));
  }
  claim(callSid: string): Promise<ClaimedConfirmation | null> {
    const row = this.rows.get(callSid);
    if (row?.status !== 'pending') return Promise.resolve(null);
    this.rows.set(callSid, { ...row, status: 'sending', attempts: row.attempts + 1 });
    return Promise.resolve({ callSid, to: row.to!, body: row.body!, attempts: row.attempts + 1 });
  }
  settle(callSid: string, status: string, _at: string, fields: { reason?: string | null; messageSid?: string | null } = {}): Promise<void> {
    const row = this.rows.get(callSid)!;
    this.rows.set(callSid, { ...row, status, reason: fields.reason ?? null, messageSid: fields.messageSid ?? null });
    return Promise.resolve();
  }
  forCalls(): Promise<Map<string, unknown>> {
    return Promise.resolve(new Map());
  }
}

describe('SmsConfirmations', () => {
  let store: MemoryStore;
  let optedOut: Map<string, string>;
  let sent: Array<{ to: string; body: string }>;
  let failures: SmsError[];
  let unavailable: string | null;
  let hooks: EndedCallHooks;
  let scheduler: ManualScheduler;
  let clock: ManualClock;
  /** What CallSummaries.holdUntil answers: a summary being made holds the text until then. */
  let holdUntil: number | null;

  function make(enabled = true): SmsConfirmations {
    const optOuts = {
      has: (n: string) => Promise.resolve(optedOut.has(n)),
      add: (n: string, k: string) => Promise.resolve(void optedOut.set(n, k)),
    } as unknown as SmsOptOuts;
    const sms = {
      get unavailableReason() {
        return unavailable;
      },
      send: (to: string, body: string) => {
        const failure = failures.shift();
        if (failure) return Promise.reject(failure);
        sent.push({ to, body });
        return Promise.resolve(`SM${String(sent.length).padStart(32, '0')}`);
      },
    } as unknown as OnCallSms;
    const config = {
      sms: { confirmations: enabled },
      tools: { defaultPhoneRegion: 'US' },
      operator: { companyName: 'Pro Plumbing' },
      onCall: { callbackMinutes: 20 },
    } as unknown as AppConfig;
    const summaries = { holdUntil: (r: CallRecord) => (summaryDetailOf(r.details) === null ? holdUntil : null) } as unknown as CallSummaries;
    const c = new SmsConfirmations(
      hooks,
      new CallDetailSources(silentAppLogger),
      store as unknown as SmsConfirmationStore,
      optOuts,
      sms,
      clock,
      scheduler,
      config,
      silentAppLogger,
      summaries,
    );
    c.onModuleInit();
    return c;
  }

  async function end(c: SmsConfirmations, r: CallRecord): Promise<void> {
    await hooks.written({} as SqlExecutor, r);
    hooks.committed(r);
    await c.idle();
  }

  beforeEach(() => {
    store = new MemoryStore();
    optedOut = new Map();
    sent = [];
    failures = [];
    unavailable = null;
    hooks = new EndedCallHooks();
    scheduler = new ManualScheduler();
    clock = new ManualClock();
    holdUntil = null;
  });

  it('texts the callback number once, however often the ended record is written', async () => {
    const c = make();
    await end(c, record());
    await end(c, record());
    expect(sent).toEqual([{ to: '+14155552671', body: expect.stringContaining('Ref R-ABCDEF.') as string }]);
    expect(store.rows.get(CALL_SID)).toMatchObject({ status: 'sent', attempts: 1, reference: 'R-ABCDEF' });
  });

  it("waits for the call's summary and tells the problem in its words", async () => {
    const c = make();
    holdUntil = clock.epochMs() + 25_000;
    await end(c, record({ endedAt: new Date(clock.epochMs()).toISOString() }));
    expect(sent).toEqual([]);
    const summary = { status: 'ready', text: 'Dana called. A tap drips in the kitchen. We will call back.', model: 'm', at: 'x' };
    await end(c, record({ endedAt: new Date(clock.epochMs()).toISOString(), details: { jobRequest: record().details.jobRequest, summary } }));
    expect(sent).toHaveLength(1);
    expect(sent[0].body).toContain('for 12 Elm Street. A tap drips in the kitchen. Ref R-ABCDEF.');
  });

  it('sends the text with the facts at the end of the hold when no summary comes', async () => {
    const c = make();
    holdUntil = clock.epochMs() + 25_000;
    await end(c, record({ endedAt: new Date(clock.epochMs()).toISOString() }));
    expect(sent).toEqual([]);
    clock.advance(25_000);
    c.wake();
    await c.idle();
    expect(sent).toEqual([{ to: '+14155552671', body: expect.stringContaining('(Leaking tap, at 12 Elm Street).') as string }]);
  });

  it('is no hook when SMS_CONFIRMATIONS is off', async () => {
    const c = make(false);
    expect(hooks.active).toBe(false);
    await end(c, record());
    expect(sent).toEqual([]);
    expect(store.rows.size).toBe(0);
  });

  it('writes nothing for a call without a job request', async () => {
    const c = make();
    await end(c, record({}, null));
    expect(store.rows.size).toBe(0);
  });

  it("falls back to the caller's number, and skips a call with no textable number", async () => {
    const c = make();
    await end(c, record({}, { problem: 'x', callbackNumber: '+14155552671', callbackNumberUnverified: true }));
    expect(sent.map((s) => s.to)).toEqual(['+14155550100']);
    store.rows.clear();
    await end(c, record({ from: '+442079460000' }, { problem: 'x' }));
    expect(store.rows.get(CALL_SID)).toMatchObject({ status: 'skipped', reason: 'no-mobile-number', to: null, body: null });
  });

  it('texts the callee of an outbound call', async () => {
    const c = make();
    await end(c, record({ direction: 'outbound', from: '+15557650000', to: '+14155550177' }, { problem: 'x' }));
    expect(sent.map((s) => s.to)).toEqual(['+14155550177']);
  });

  it('skips as not configured without SMS_FROM_NUMBER or credentials', async () => {
    unavailable = 'texts need SMS_FROM_NUMBER';
    const c = make();
    await end(c, record());
    expect(store.rows.get(CALL_SID)).toMatchObject({ status: 'skipped', reason: 'sms-not-configured' });
  });

  it('skips a record written over a day after its call ended (a late spool replay)', async () => {
    const c = make();
    await end(c, record({ endedAt: '2025-12-30T00:00:00.000Z' }));
    expect(sent).toEqual([]);
    expect(store.rows.get(CALL_SID)).toMatchObject({ status: 'skipped', reason: 'too-late' });
  });

  it('checks the opt-out list right before sending', async () => {
    const c = make();
    optedOut.set('+14155552671', 'STOP');
    await end(c, record());
    expect(sent).toEqual([]);
    expect(store.rows.get(CALL_SID)).toMatchObject({ status: 'skipped', reason: 'opted-out' });
  });

  it("records Twilio's 21610 as an opt-out", async () => {
    const c = make();
    failures.push(new SmsError('Twilio did not take the SMS: HTTP 400 (code 21610)', 'rejected', 21610));
    await end(c, record());
    expect(optedOut.get('+14155552671')).toBe('twilio-21610');
    expect(store.rows.get(CALL_SID)).toMatchObject({ status: 'skipped', reason: 'opted-out' });
  });

  it('tries again when Twilio is unreachable, then gives up as failed', async () => {
    const c = make();
    c.onApplicationBootstrap();
    for (let i = 0; i < CONFIRMATION_ATTEMPTS; i++) failures.push(new SmsError('Twilio did not take the SMS: timeout', 'unreachable'));
    await end(c, record());
    expect(store.rows.get(CALL_SID)).toMatchObject({ status: 'pending', attempts: 1 });
    c.wake();
    await c.idle();
    c.wake();
    await c.idle();
    expect(store.rows.get(CALL_SID)).toMatchObject({ status: 'failed', attempts: CONFIRMATION_ATTEMPTS, reason: 'Twilio did not take the SMS: timeout' });
    expect(sent).toEqual([]);
    c.onModuleDestroy();
  });

  it('a rejected text fails at once', async () => {
    const c = make();
    failures.push(new SmsError('Twilio did not take the SMS: HTTP 400 (code 21211)', 'rejected', 21211));
    await end(c, record());
    expect(store.rows.get(CALL_SID)).toMatchObject({ status: 'failed', attempts: 1 });
  });
});
