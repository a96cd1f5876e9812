import { randomBytes } from 'node:crypto';
import { callRecord } from '../../test/support/call-records';
import type { CallRecord } from '../call-log/call-record';
import { summaryDetailOf } from '../call-log/call-summary';
import { EndedCallHooks } from '../call-log/ended-call-hooks';
import { SqlCallLogRepository } from '../call-log/sql-call-log.repository';
import { ManualClock } from '../common/clock';
import { ManualScheduler } from '../common/scheduler';
import type { AppConfig } from '../config/app-config';
import { MigrationRunner } from '../database/migration-runner';
import { silentAppLogger, sqlTestBackends, type SqlTestDatabase } from '../database/sql-test-backends';
import type { RecordingLinks } from '../recording/recording-links';
import type { CallSummaries } from '../summary/call-summaries';
import { buildCallEndedEvent, callEndedEventId, type NewWebhookEvent } from './call-ended-event';
import { CallEndedWebhooks } from './call-ended-webhooks';
import { SqlWebhookOutbox } from './sql-webhook-outbox';
import type { WebhookDispatcher } from './webhook-dispatcher';

jest.setTimeout(30_000);

const A = 'https://a.example.com/hooks/call';
const B = 'https://b.example.com/in?token=t0k3n';
const T0 = Date.UTC(2026, 11, 1, 12);
const LEASE = 40_000;
const sid = () => 'CA' + randomBytes(16).toString('hex');
const iso = (ms: number) => new Date(ms).toISOString();
const event = (at = T0, callSid = sid()): NewWebhookEvent => buildCallEndedEvent(callRecord({ callSid }), { recordingUrl: null, now: at });

describe.each(sqlTestBackends())('the webhook outbox on $name', (backend) => {
  let db: SqlTestDatabase;
  let outbox: SqlWebhookOutbox;

  beforeAll(async () => {
    db = await backend.open();
    const migrations = new MigrationRunner(db.client, silentAppLogger, new ManualScheduler());
    await migrations.ensureMigrated();
    outbox = new SqlWebhookOutbox(db.client, migrations);
  });

  beforeEach(async () => {
    await db.client.query('DELETE FROM webhook_events; DELETE FROM calls');
  });

  afterAll(async () => {
    await db?.dispose();
    await backend.shutdown();
  });

  const add = (e: NewWebhookEvent, urls = [A, B]) => db.client.transaction((tx) => outbox.add(tx, e, urls));

  it('keeps an event once, with one pending delivery per URL, due at once', async () => {
    const e = event();
    expect(await add(e)).toBe(true);
    expect(await add({ ...e, body: '{"changed":true}' })).toBe(false);
    const view = await outbox.event(e.id);
    expect(view).toMatchObject({ id: e.id, type: 'call.ended', callSid: e.callSid, createdAt: new Date(T0).toISOString(), payload: JSON.parse(e.body) });
    expect(view!.deliveries.map((d) => [d.url, d.status, d.attempts, d.nextAttemptAt])).toEqual([
      [A, 'pending', 0, new Date(T0).toISOString()],
      [B, 'pending', 0, new Date(T0).toISOString()],
    ]);
    expect(view!.deliveries.every((d) => /^whd_[0-9a-f]{24}$/.test(d.id))).toBe(true);
    expect(await outbox.nextDue([A, B])).toBe(T0);
  });

  it('writes nothing when the transaction rolls back', async () => {
    const e = event();
    await expect(
      db.client.transaction(async (tx) => {
        await outbox.add(tx, e, [A]);
        throw new Error('the call record failed');
      }),
    ).rejects.toThrow('the call record failed');
    expect(await outbox.event(e.id)).toBeUndefined();
  });

  it('hands a due delivery to one attempt at a time, holding it for the lease', async () => {
    const e = event();
    await add(e, [A]);
    expect(await outbox.claim([A], T0 - 1, 10, LEASE)).toEqual([]); // not due yet
    expect(await outbox.claim([B], T0, 10, LEASE)).toEqual([]); // not a URL asked for
    const [claimed] = await outbox.claim([A], T0, 10, LEASE);
    expect(claimed).toEqual({ id: expect.any(String), eventId: e.id, url: A, attempt: 1, body: e.body, eventCreatedAt: T0 });
    expect(await outbox.claim([A], T0 + 1000, 10, LEASE)).toEqual([]); // held
    expect(await outbox.nextDue([A])).toBe(T0 + LEASE);
    // The worker died: after the lease it is attempted again, as attempt 2.
    // Past the hold, the instance still attempting it does not take it again; any other does.
    expect(await outbox.claim([A], T0 + LEASE, 10, LEASE, [claimed.id])).toEqual([]);
    const [again] = await outbox.claim([A], T0 + LEASE, 10, LEASE);
    expect(again).toMatchObject({ id: claimed.id, attempt: 2 });
    // The first attempt's late answer is not recorded over the second's.
    expect(await outbox.settle(claimed.id, 1, { status: 'delivered', httpStatus: 200 }, T0 + LEASE + 1)).toBe(false);
    expect(await outbox.settle(again.id, 2, { status: 'delivered', httpStatus: 204 }, T0 + LEASE + 2)).toBe(true);
    expect(await outbox.delivery(claimed.id)).toMatchObject({
      status: 'delivered',
      attempts: 2,
      lastStatus: 204,
      lastError: null,
      nextAttemptAt: null,
      deliveredAt: new Date(T0 + LEASE + 2).toISOString(),
      lastAttemptAt: new Date(T0 + LEASE).toISOString(),
    });
    // Delivered is final: never handed out again, not even after a late settle.
    expect(await outbox.claim([A], T0 + 10 * LEASE, 10, LEASE)).toEqual([]);
    expect(await outbox.settle(claimed.id, 2, { status: 'failed', httpStatus: 500, error: 'HTTP 500' }, T0)).toBe(false);
    expect(await outbox.nextDue([A])).toBeNull();
  });

  it('records a failed attempt and its retry time, then a final failure', async () => {
    const e = event();
    await add(e, [A]);
    const [first] = await outbox.claim([A], T0, 10, LEASE);
    expect(await outbox.settle(first.id, 1, { status: 'pending', nextAttemptAt: T0 + 10_000, httpStatus: 503, error: 'HTTP 503' }, T0 + 5)).toBe(true);
    expect(await outbox.delivery(first.id)).toMatchObject({ status: 'pending', attempts: 1, lastStatus: 503, lastError: 'HTTP 503', nextAttemptAt: new Date(T0 + 10_000).toISOString() });
    expect(await outbox.nextDue([A])).toBe(T0 + 10_000);
    expect(await outbox.claim([A], T0 + 9_999, 10, LEASE)).toEqual([]);
    const [second] = await outbox.claim([A], T0 + 10_000, 10, LEASE);
    expect(second.attempt).toBe(2);
    expect(await outbox.settle(second.id, 2, { status: 'failed', httpStatus: null, error: 'no answer: ECONNREFUSED; no 2xx after 2 attempts' }, T0 + 10_001)).toBe(true);
    expect(await outbox.delivery(first.id)).toMatchObject({ status: 'failed', attempts: 2, lastStatus: null, lastError: 'no answer: ECONNREFUSED; no 2xx after 2 attempts', nextAttemptAt: null });
    expect(await outbox.claim([A], T0 + 10 * LEASE, 10, LEASE)).toEqual([]);

    // By hand: due again now, once more.
    const retried = await outbox.retryNow(first.id, T0 + 60_000);
    expect(retried).toMatchObject({ status: 'pending', attempts: 2, nextAttemptAt: new Date(T0 + 60_000).toISOString() });
    expect((await outbox.claim([A], T0 + 60_000, 10, LEASE)).map((c) => c.attempt)).toEqual([3]);
    expect(await outbox.retryNow('whd_' + '0'.repeat(24), T0)).toBeUndefined();
  });

  it('leaves a delivered delivery as it is when retried by hand', async () => {
    const e = event();
    await add(e, [A]);
    const [c] = await outbox.claim([A], T0, 1, LEASE);
    await outbox.settle(c.id, 1, { status: 'delivered', httpStatus: 200 }, T0);
    expect(await outbox.retryNow(c.id, T0 + 1)).toMatchObject({ status: 'delivered', attempts: 1 });
  });

  it('takes at most `limit`, oldest due first, and never the same delivery twice when workers race', async () => {
    const events = [event(T0 + 2), event(T0), event(T0 + 1)];
    for (const e of events) await add(e);
    const first = await outbox.claim([A, B], T0 + 10, 2, LEASE);
    expect(first.map((c) => c.eventId)).toEqual([events[1].id, events[1].id]);
    // Two workers at once (two connections on PostgreSQL): together they take the other four, each once.
    const other = db.connect();
    const outbox2 = new SqlWebhookOutbox(other, new MigrationRunner(other, silentAppLogger, new ManualScheduler()));
    const [x, y] = await Promise.all([outbox.claim([A, B], T0 + 10, 10, LEASE), outbox2.claim([A, B], T0 + 10, 10, LEASE)]);
    const ids = [...x, ...y].map((c) => c.id);
    expect(ids).toHaveLength(4);
    expect(new Set([...ids, ...first.map((c) => c.id)]).size).toBe(6);
  });

  it('holds an event until its notBefore, and release gives it its final body and makes it due at once', async () => {
    const held = { ...event(), notBefore: T0 + 25_000 };
    await add(held);
    expect((await outbox.event(held.id))!.deliveries.map((d) => d.nextAttemptAt)).toEqual([iso(T0 + 25_000), iso(T0 + 25_000)]);
    expect(await outbox.nextDue([A, B])).toBe(T0 + 25_000);
    expect(await outbox.claim([A, B], T0 + 1000, 10, LEASE)).toEqual([]);

    const final = { ...held, body: '{"type":"call.ended","data":{"summary":"Three sentences."}}' };
    expect(await db.client.transaction((tx) => outbox.release(tx, final, T0 + 3000))).toBe(true);
    const view = await outbox.event(held.id);
    expect(view).toMatchObject({ payload: { data: { summary: 'Three sentences.' } }, createdAt: iso(T0) });
    expect(view!.deliveries.map((d) => d.nextAttemptAt)).toEqual([iso(T0 + 3000), iso(T0 + 3000)]);
    expect((await outbox.claim([A, B], T0 + 3000, 10, LEASE)).map((c) => c.body)).toEqual([final.body, final.body]);
  });

  it('never changes the body of an event tried already, nor one it does not know', async () => {
    const held = { ...event(), notBefore: T0 + 25_000 };
    await add(held);
    // The hold ran out: one URL was tried with the body made first.
    const [tried] = await outbox.claim([A], T0 + 25_000, 1, LEASE);
    await outbox.settle(tried.id, 1, { status: 'pending', nextAttemptAt: T0 + 60_000, httpStatus: 500, error: 'HTTP 500' }, T0 + 25_001);
    const late = { ...held, body: '{"late":true}' };
    expect(await db.client.transaction((tx) => outbox.release(tx, late, T0 + 26_000))).toBe(false);
    const view = await outbox.event(held.id);
    expect(view!.payload).toEqual(JSON.parse(held.body));
    // Neither delivery was moved: B still waits for its hold, A for its retry.
    expect(view!.deliveries.map((d) => d.nextAttemptAt)).toEqual([iso(T0 + 60_000), iso(T0 + 25_000)]);
    expect(await db.client.transaction((tx) => outbox.release(tx, event(), T0))).toBe(false);
  });

  it('release never delays a delivery already due', async () => {
    const e = event();
    await add(e, [A]);
    expect(await db.client.transaction((tx) => outbox.release(tx, e, T0 + 10_000))).toBe(true);
    expect(await outbox.nextDue([A])).toBe(T0);
  });

  it('lists deliveries newest first, by status and by call, with the total', async () => {
    const older = event(T0);
    const newer = event(T0 + 1000);
    await add(older);
    await add(newer, [A]);
    const [c] = await outbox.claim([B], T0 + 2000, 1, LEASE);
    await outbox.settle(c.id, 1, { status: 'failed', httpStatus: 410, error: 'HTTP 410; the receiver answered 410 Gone' }, T0 + 2000);

    const all = await outbox.list({ limit: 10, offset: 0 });
    expect(all.total).toBe(3);
    expect(all.items.map((d) => d.eventId)).toEqual([newer.id, older.id, older.id]);
    expect(all.items[0]).toMatchObject({ eventType: 'call.ended', callSid: newer.callSid, url: A, status: 'pending' });
    expect(await outbox.list({ status: 'failed', limit: 10, offset: 0 })).toEqual({ items: [expect.objectContaining({ url: B, lastStatus: 410 })], total: 1 });
    expect((await outbox.list({ callSid: older.callSid!, limit: 10, offset: 0 })).total).toBe(2);
    const page2 = await outbox.list({ limit: 2, offset: 2 });
    expect(page2).toMatchObject({ total: 3, items: [expect.objectContaining({ eventId: older.id })] });
  });
});

describe.each(sqlTestBackends())('call.ended events written with the ended record, on $name', (backend) => {
  let db: SqlTestDatabase;
  let outbox: SqlWebhookOutbox;
  let repo: SqlCallLogRepository;
  let hooks: EndedCallHooks;
  let woken: number;
  const clock = new ManualClock(0, T0);
  /** Calls whose summary is being made, and until when their event waits. */
  const holds = new Map<string, number>();
  const links = { urlFor: (callSid: string) => `https://op.example.com/recordings/${callSid}.wav?expires=1&signature=x` } as unknown as RecordingLinks;

  beforeAll(async () => {
    db = await backend.open();
    const migrations = new MigrationRunner(db.client, silentAppLogger, new ManualScheduler());
    await migrations.ensureMigrated();
    outbox = new SqlWebhookOutbox(db.client, migrations);
    hooks = new EndedCallHooks();
    const dispatcher = { enabled: true, wake: () => void woken++ } as unknown as WebhookDispatcher;
    const config = { webhooks: { urls: [A, B] } } as unknown as AppConfig;
    const summaries = { holdUntil: (record: CallRecord) => (summaryDetailOf(record.details) ? null : (holds.get(record.callSid) ?? null)) } as CallSummaries;
    new CallEndedWebhooks(hooks, outbox, links, dispatcher, clock, config, summaries).onModuleInit();
    repo = new SqlCallLogRepository(db.client, migrations, hooks);
  });

  beforeEach(async () => {
    woken = 0;
    holds.clear();
    await db.client.query('DELETE FROM webhook_events; DELETE FROM calls');
  });

  afterAll(async () => {
    await db?.dispose();
    await backend.shutdown();
  });

  const deliveries = async () => (await outbox.list({ limit: 100, offset: 0 })).items;

  it('makes no event while the call is in progress, one when it ends, and no second on a repeated write', async () => {
    const callSid = sid();
    const live: CallRecord = callRecord({ callSid, status: 'in-progress', endedAt: null, durationMs: null, endReason: null, recording: 'r.wav' });
    await repo.save(live);
    expect(await deliveries()).toEqual([]);
    expect(woken).toBe(0);

    const ended = { ...live, status: 'completed' as const, endedAt: '2026-12-01T12:01:00.000Z', durationMs: 60_000, endReason: 'twilio_stop', details: { jobRequest: { problem: 'leak' } } };
    await repo.save(ended);
    await repo.save(ended); // a write repeated after a lost answer, or a spool file replayed
    const event = await outbox.event(callEndedEventId(callSid));
    expect(event?.payload).toMatchObject({
      type: 'call.ended',
      data: { callSid, status: 'completed', outcome: 'job_request', recordingUrl: links.urlFor(callSid) },
    });
    expect(event?.deliveries.map((d) => d.url)).toEqual([A, B]);
    expect(await deliveries()).toHaveLength(2);
    expect(woken).toBe(2);
    expect((await repo.get(callSid))?.status).toBe('completed');
  });

  it("holds the event of a call whose summary is being made, and sends it with the model's summary once attached", async () => {
    const callSid = sid();
    holds.set(callSid, T0 + 25_000);
    const ended = callRecord({ callSid, endReason: 'twilio_stop', details: { jobRequest: { problem: 'leak', urgency: 'urgent' } } });
    await repo.save(ended);
    const id = callEndedEventId(callSid);
    expect(await outbox.event(id)).toMatchObject({ payload: { data: { summary: 'urgent job: leak' } } });
    expect((await deliveries()).map((d) => d.nextAttemptAt)).toEqual([iso(T0 + 25_000), iso(T0 + 25_000)]);

    clock.advance(4_000);
    const summary = { status: 'ready', text: 'Dana called. A leak. A plumber calls back.', model: 'gpt-4.1-mini', at: iso(T0 + 4_000) };
    const summarised = { ...ended, details: { ...ended.details, summary } };
    await repo.save(summarised);
    await repo.save(summarised); // repeated: still one event
    const view = await outbox.event(id);
    expect(view).toMatchObject({ payload: { data: { summary: 'Dana called. A leak. A plumber calls back.', outcome: 'job_request' } } });
    expect(view!.deliveries.map((d) => [d.nextAttemptAt, d.attempts])).toEqual([[iso(T0 + 4_000), 0], [iso(T0 + 4_000), 0]]);
    expect(await deliveries()).toHaveLength(2);
    expect(await repo.get(callSid)).toMatchObject({ details: { summary } });
  });

  it('releases a held event with the one-line summary when the summary failed', async () => {
    const callSid = sid();
    holds.set(callSid, T0 + 25_000);
    const ended = callRecord({ callSid, endReason: 'twilio_stop', details: {} });
    await repo.save(ended);
    await repo.save({ ...ended, details: { summary: { status: 'failed', reason: 'timeout', model: 'gpt-4.1-mini', at: iso(T0) } } });
    const view = await outbox.event(callEndedEventId(callSid));
    expect(view).toMatchObject({ payload: { data: { summary: 'Call twilio_stop; no job request captured.' } } });
    expect(view!.deliveries.map((d) => d.nextAttemptAt)).toEqual([iso(clock.epochMs()), iso(clock.epochMs())]);
  });

  it('sends at once, with the summary, a record whose summary came before its first write', async () => {
    const callSid = sid();
    holds.set(callSid, T0 + 25_000);
    const summary = { status: 'ready', text: 'A caller rang. About a drip. Nothing more is needed.', model: 'gpt-4.1-mini', at: iso(T0) };
    await repo.save(callRecord({ callSid, details: { summary } }));
    const view = await outbox.event(callEndedEventId(callSid));
    expect(view).toMatchObject({ payload: { data: { summary: summary.text } } });
    expect(view!.deliveries.map((d) => d.nextAttemptAt)).toEqual([iso(clock.epochMs()), iso(clock.epochMs())]);
  });

  it('makes one for a call sent to the fallback', async () => {
    const callSid = sid();
    await repo.save(callRecord({ callSid, status: 'fallback', endReason: 'missing_api_key', streamSid: null }));
    expect((await outbox.event(callEndedEventId(callSid)))?.payload).toMatchObject({ data: { outcome: 'fallback', recordingUrl: null } });
  });

  it('makes one for a call whose instance died, ended by another', async () => {
    const callSid = sid();
    await repo.save(callRecord({ callSid, status: 'in-progress', endedAt: null, durationMs: null, endReason: null }));
    expect(await repo.endAbandoned(callSid, 'instance_lost', '2026-03-01T10:00:30.000Z', { lostInstance: 'host:1' })).toBe(true);
    expect((await outbox.event(callEndedEventId(callSid)))?.payload).toMatchObject({
      data: { callSid, status: 'failed', endReason: 'instance_lost', outcome: 'failed', durationMs: 30_000 },
    });
    expect(await repo.endAbandoned(callSid, 'instance_lost', null, {})).toBe(false);
    expect(await deliveries()).toHaveLength(2);
  });

  it('writes neither the record nor the event when the event cannot be written: the writer retries both', async () => {
    const callSid = sid();
    await db.client.query('ALTER TABLE webhook_events RENAME TO webhook_events_away');
    try {
      await expect(repo.save(callRecord({ callSid }))).rejects.toThrow();
    } finally {
      await db.client.query('ALTER TABLE webhook_events_away RENAME TO webhook_events');
    }
    expect(await repo.get(callSid)).toBeUndefined();
    await repo.save(callRecord({ callSid }));
    expect(await outbox.event(callEndedEventId(callSid))).toBeDefined();
  });
});
