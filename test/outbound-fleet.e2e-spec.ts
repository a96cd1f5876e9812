import { randomBytes } from 'node:crypto';
import { MAX_ATTEMPTS_PER_DAY } from '../src/outbound/dial-gate';
import { DIAL_QUEUE } from '../src/outbound/outbound-dialer';
import { OutboundAttempts } from '../src/outbound/outbound-attempts';
import type { OutboundRequest } from '../src/outbound/outbound-request';
import { FakeTwilioRest, type RecordedTwilioRequest } from './support/fake-twilio-rest';
import { FleetLogs } from './support/log-capture';
import { SignedTwilio } from './support/signed-twilio';
import { startApp, type TestApp } from './support/test-app';
import { deferred } from './support/wait';

const databaseUrl = process.env.DATABASE_URL;

const ACCOUNT_SID = 'AC' + 'e'.repeat(32);
const AUTH_TOKEN = 'twilio-auth-token-obfleet-0123';
const API_TOKEN = 'test-api-token-0123456789';
const PUBLIC_BASE_URL = 'https://calls.example.com';
const auth = { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' };
const CONSENT = { source: 'job sheet', obtainedAt: '2026-01-01T00:00:00Z' };
const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

/** A time zone where the local hour at `at` is in [from, to). */
function zoneWhere(at: number, from: number, to: number): string {
  const hour = (zone: string) => Number(new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', hourCycle: 'h23' }).format(new Date(at)));
  const zone = Intl.supportedValuesOf('timeZone').find((z) => hour(z) >= from && hour(z) < to);
  if (!zone) throw new Error(`no zone between ${from}:00 and ${to}:00`);
  return zone;
}

/** Late morning where the callee is: the calling window is open, and the next retry slot (14:00) far enough away not to come during a test. */
const lateMorning = (at: number) => zoneWhere(at, 11, 13);

/** The outbound request a Calls.create was for, as its voice URL names it (null for any other request). */
function requestOf(r: RecordedTwilioRequest): string | null {
  if (r.definitionProblems === null || !r.form.Url) return null;
  return new URL(r.form.Url).searchParams.get('outboundRequest');
}

/**
 * Several instances of the service dialling from one queue on one PostgreSQL (the dialer's
 * coordination is all in the database: the queue, the claim, the attempts, the do-not-call list),
 * against one fake Twilio REST API. Skipped without DATABASE_URL (.ci/run sets it).
 */
(databaseUrl ? describe : describe.skip)('the outbound dialer on several instances sharing PostgreSQL', () => {
  jest.setTimeout(30_000);

  const schema = `e2e_obfleet_${randomBytes(6).toString('hex')}`;
  // The job queue's own schema: the default (pgboss) would be shared with every other test run on this database.
  const jobsSchema = `${schema}_jobs`;
  let admin: import('pg').Client;
  let rest: FakeTwilioRest;
  let apps: TestApp[] = [];
  let fleet: FleetLogs;

  beforeAll(async () => {
    const { Client } = await import('pg');
    admin = new Client({ connectionString: databaseUrl });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
  });

  afterAll(async () => {
    if (!admin) return;
    await admin.query(`DROP SCHEMA IF EXISTS ${jobsSchema} CASCADE`);
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  });

  // A fleet of its own for each test, whose clocks start at the real time: a test moves them a day on.
  beforeEach(async () => {
    const url = new URL(databaseUrl!);
    url.searchParams.set('options', `-c search_path=${schema}`);
    rest = await FakeTwilioRest.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
    for (const instance of ['pod-1', 'pod-2', 'pod-3']) {
      apps.push(
        await startApp({
          API_TOKEN,
          TWILIO_ACCOUNT_SID: ACCOUNT_SID,
          TWILIO_AUTH_TOKEN: AUTH_TOKEN,
          TWILIO_API_BASE_URL: rest.baseUrl,
          TWILIO_VALIDATE_SIGNATURE: 'true',
          PUBLIC_BASE_URL,
          OUTBOUND_CALLER_ID: '+15557650000',
          OUTBOUND_DIALS_PER_SECOND: '50',
          // The request's zone decides the window here; the number's state would narrow it further.
          CALLING_STATE_RULES: 'false',
          DATABASE_URL: url.toString(),
          JOBS_SCHEMA: jobsSchema,
          // A job made due in the database (below) is found by the next poll of some instance.
          JOBS_POLL_SECONDS: '1',
          INSTANCE_ID: instance,
          RECORDING_ENABLED: 'false',
        }),
      );
    }
    fleet = new FleetLogs(apps.map((t) => t.logs));
  });

  afterEach(async () => {
    for (const t of apps) await t.close();
    apps = [];
    await rest?.close();
  });

  async function requested(t: TestApp, body: Record<string, unknown>): Promise<OutboundRequest> {
    const res = await fetch(`${t.httpUrl}/api/outbound-calls`, { method: 'POST', headers: auth, body: JSON.stringify({ consent: CONSENT, ...body }) });
    expect(res.status).toBe(201);
    return (await res.json()) as OutboundRequest;
  }

  async function stored(t: TestApp, id: string): Promise<OutboundRequest> {
    const res = await fetch(`${t.httpUrl}/api/outbound-calls/${id}`, { headers: auth });
    expect(res.status).toBe(200);
    return (await res.json()) as OutboundRequest;
  }

  const createsFor = (id: string) => rest.createdCalls.filter((r) => requestOf(r) === id);
  const createFor = (id: string) => rest.waitForRequest((r) => requestOf(r) === id);

  /** Twilio reports the call's end to `t`, at the StatusCallback it was given, signed as Twilio signs it. */
  async function callEnded(t: TestApp, create: RecordedTwilioRequest, status: 'no-answer' | 'busy'): Promise<void> {
    const params = { AccountSid: ACCOUNT_SID, CallSid: create.callSid!, CallStatus: status, SequenceNumber: '2', CallDuration: '0', Direction: 'outbound-api' };
    expect((await new SignedTwilio(t, AUTH_TOKEN, PUBLIC_BASE_URL).post(create.form.StatusCallback, params)).status).toBe(204);
  }

  /** Time passes on every instance: the instances share one clock, moved forward together. */
  function skipTo(at: number): void {
    const by = at - apps[0].clock.epochMs();
    for (const t of apps) t.clock.skip(by);
  }

  /**
   * The request's waiting dial job falls due. pg-boss hands out a job once the database's clock
   * passes its start (the instances' skipped clocks do not move that one), so the job is moved to
   * now in the database; the next poll of some instance takes it.
   */
  async function jobFallsDue(requestId: string): Promise<void> {
    const moved = await admin.query(`UPDATE ${jobsSchema}.job SET start_after = now() WHERE name = $1 AND singleton_key = $2 AND state < 'active' RETURNING id`, [
      DIAL_QUEUE,
      requestId,
    ]);
    expect(moved.rowCount).toBe(1);
  }

  it('dials each of many requests, made on every instance, exactly once between them, and loses none', async () => {
    const zone = lateMorning(apps[0].clock.epochMs());
    const numbers = Array.from({ length: 24 }, (_, i) => `+120255502${String(i).padStart(2, '0')}`);
    const requests = await Promise.all(numbers.map((to, i) => requested(apps[i % apps.length], { to, purpose: 'your boiler service tomorrow', timezone: zone })));
    const ids = new Set(requests.map((r) => r.id));
    expect(ids.size).toBe(numbers.length);

    await rest.waitForRequests((r) => ids.has(requestOf(r) ?? ''), ids.size);
    // Each dial is logged by the instance that placed it, once its call is recorded.
    const placed = await Promise.all(requests.map((r) => fleet.waitFor('outbound call placed', { outboundRequest: r.id })));

    const creates = rest.createdCalls.filter((r) => ids.has(requestOf(r) ?? ''));
    expect(creates).toHaveLength(ids.size);
    expect(new Set(creates.map(requestOf)).size).toBe(ids.size);
    for (const create of creates) {
      expect(create.definitionProblems).toEqual([]);
      expect(new URL(create.form.StatusCallback).searchParams.get('outboundRequest')).toBe(requestOf(create));
    }
    expect(fleet.matching('outbound call placed').filter((p) => ids.has(p.line.outboundRequest as string))).toHaveLength(ids.size);
    for (const request of requests) {
      const create = creates.find((c) => requestOf(c) === request.id)!;
      expect(create.form.To).toBe(request.to);
      expect(await stored(apps[0], request.id)).toMatchObject({ status: 'dialing', attempts: [{ attempt: 1, callSid: create.callSid }] });
    }
    // Which instance takes which job is pg-boss's choice, so the split is not asserted; but the jobs were
    // shared: every instance was woken by the jobs it sent, and took one from the queue at a time.
    expect(new Set(placed.map((p) => p.instance)).size).toBeGreaterThan(1);
  });

  it('holds the cap of 3 attempts at a number in 24 hours across instances: a 4th request waits until 24 h after the first attempt', async () => {
    const zone = lateMorning(apps[0].clock.epochMs());
    const to = '+12025550301';
    const purposes = ['your boiler service tomorrow', 'the invoice for the new radiator', 'a leak reported on your street', 'your annual gas safety check'];
    const outcomes = ['no-answer', 'busy', 'no-answer'] as const;
    const firstThree: OutboundRequest[] = [];
    for (let k = 0; k < MAX_ATTEMPTS_PER_DAY; k++) {
      const request = await requested(apps[k % apps.length], { to, purpose: purposes[k], timezone: zone });
      const create = await createFor(request.id);
      // Twilio's callback reaches another instance than the one the request was made on.
      await callEnded(apps[(k + 1) % apps.length], create, outcomes[k]);
      await fleet.waitFor('outbound call placed', { outboundRequest: request.id });
      const after = await stored(apps[(k + 2) % apps.length], request.id);
      expect(after).toMatchObject({ status: 'queued', statusReason: outcomes[k], attempts: [{ attempt: 1, status: outcomes[k], callSid: create.callSid }] });
      // Its retry is at the next retry slot, not due while the test runs.
      expect(Date.parse(after.nextAttemptAt!)).toBeGreaterThan(apps[0].clock.epochMs() + 30 * 60_000);
      firstThree.push(after);
    }
    // Every callback found its attempt, on whichever instance, however it raced the dialer recording the call.
    expect(fleet.matching('status callback for a call no outbound attempt has: ignored')).toEqual([]);
    const firstAttemptAt = Date.parse(firstThree[0].attempts[0].startedAt);
    const capFreeAt = new Date(firstAttemptAt + DAY_MS).toISOString();

    const fourth = await requested(apps[0], { to, purpose: purposes[3], timezone: zone });
    const scheduled = await fleet.waitFor('outbound dial scheduled', { outboundRequest: fourth.id });
    expect(scheduled.line).toMatchObject({ reason: 'daily_attempt_cap', at: capFreeAt });
    expect(await stored(apps[1], fourth.id)).toMatchObject({ status: 'queued', statusReason: 'daily_attempt_cap', nextAttemptAt: capFreeAt, attempts: [] });

    // A minute before the first attempt is 24 hours old, the job comes round early: still not dialled.
    skipTo(firstAttemptAt + DAY_MS - 60_000);
    await jobFallsDue(fourth.id);
    const again = await fleet.waitForCount('outbound dial scheduled', { outboundRequest: fourth.id }, 2);
    expect(again[1].line).toMatchObject({ reason: 'daily_attempt_cap', at: capFreeAt });
    expect(await stored(apps[2], fourth.id)).toMatchObject({ status: 'queued', statusReason: 'daily_attempt_cap', nextAttemptAt: capFreeAt, attempts: [] });
    expect(createsFor(fourth.id)).toHaveLength(0);

    // 24 hours after the first attempt, the 4th is dialled.
    skipTo(firstAttemptAt + DAY_MS);
    await jobFallsDue(fourth.id);
    const create = await createFor(fourth.id);
    await fleet.waitFor('outbound call placed', { outboundRequest: fourth.id });
    expect(await stored(apps[0], fourth.id)).toMatchObject({ status: 'dialing', attempts: [{ attempt: 1, callSid: create.callSid }] });
    // The gate and the claim agreed that the cap had room again.
    expect(fleet.matching('outbound dial capped by a dial at the same number elsewhere: deciding again')).toEqual([]);
    expect(rest.createdCalls.filter((r) => r.form.To === to)).toHaveLength(MAX_ATTEMPTS_PER_DAY + 1);
  });

  it('holds the cap when instances decide on the same count at once: the dial that would pass it is deferred', async () => {
    const zone = lateMorning(apps[0].clock.epochMs());
    const to = '+12025550321';
    const first = await requested(apps[0], { to, purpose: 'your boiler service tomorrow', timezone: zone });
    await fleet.waitFor('outbound call placed', { outboundRequest: first.id });

    // Each instance's gate reads the number's attempts (one), and waits until all three have read it:
    // they decide on the same facts, as workers do when the database is slow to answer.
    const read = deferred();
    let reads = 0;
    for (const t of apps) {
      const attempts = t.app.get(OutboundAttempts);
      const recentAttempts = attempts.recentAttempts.bind(attempts);
      attempts.recentAttempts = async (number, since) => {
        const recent = await recentAttempts(number, since);
        if (number === to && reads < apps.length) {
          if (++reads === apps.length) read.resolve();
          await read.promise;
        }
        return recent;
      };
    }
    const purposes = ['the invoice for the new radiator', 'a leak reported on your street', 'your annual gas safety check'];
    const requests = await Promise.all(purposes.map((purpose, i) => requested(apps[i], { to, purpose, timezone: zone })));
    const ids = new Set(requests.map((r) => r.id));

    // Each is dialled, or deferred to when the cap has room again.
    const settled = await fleet.waitForLines(
      'dials or deferrals of these requests',
      (l) => ids.has(l.outboundRequest as string) && (l.msg === 'outbound call placed' || l.msg === 'outbound dial scheduled'),
      requests.length,
    );
    expect(settled.map((s) => s.line.msg).sort()).toEqual(['outbound call placed', 'outbound call placed', 'outbound dial scheduled']);
    const capped = settled.find((s) => s.line.msg === 'outbound dial scheduled')!;
    expect(capped.line).toMatchObject({ reason: 'daily_attempt_cap' });
    // The gate let it through; the claim, counting under the number's lock, found the cap full.
    expect(fleet.matching('outbound dial capped by a dial at the same number elsewhere: deciding again', { outboundRequest: capped.line.outboundRequest })).toHaveLength(1);
    expect(reads).toBe(apps.length);

    expect(rest.createdCalls.filter((r) => r.form.To === to)).toHaveLength(MAX_ATTEMPTS_PER_DAY);
    const firstAttemptAt = Date.parse((await stored(apps[1], first.id)).attempts[0].startedAt);
    expect(await stored(apps[2], capped.line.outboundRequest as string)).toMatchObject({
      status: 'queued',
      statusReason: 'daily_attempt_cap',
      nextAttemptAt: new Date(firstAttemptAt + DAY_MS).toISOString(),
      attempts: [],
    });
  });

  it('never dials a number put on the do-not-call list after its request was taken: the deferred dial ends the request refused', async () => {
    const now = apps[0].clock.epochMs();
    const later = '+12025550311';
    const atNight = '+12025550312';
    // Not before an hour from now: its job waits in the queue.
    const notBefore = new Date(now + HOUR_MS).toISOString();
    const waiting = await requested(apps[0], { to: later, purpose: 'your boiler service tomorrow', timezone: lateMorning(now), notBefore });
    expect(waiting).toMatchObject({ status: 'queued', nextAttemptAt: notBefore });
    // In the small hours where the callee is: its job runs now and defers the dial to the morning.
    const shut = await requested(apps[1], { to: atNight, purpose: 'your boiler service tomorrow', timezone: zoneWhere(now, 0, 5) });
    const scheduled = await fleet.waitFor('outbound dial scheduled', { outboundRequest: shut.id });
    expect(scheduled.line).toMatchObject({ reason: 'calling_window' });
    const morning = Date.parse(scheduled.line.at as string);
    expect(morning).toBeGreaterThan(now + 2 * HOUR_MS);
    expect(await stored(apps[2], shut.id)).toMatchObject({ status: 'queued', statusReason: 'calling_window', nextAttemptAt: scheduled.line.at, attempts: [] });

    // Both numbers go on the list, through a third instance.
    for (const number of [later, atNight]) {
      const res = await fetch(`${apps[2].httpUrl}/api/dnc`, { method: 'POST', headers: auth, body: JSON.stringify({ number, reason: 'asked by text message' }) });
      expect(res.status).toBe(200);
    }

    for (const [request, dueAt] of [
      [waiting, Date.parse(notBefore)],
      [shut, morning],
    ] as const) {
      skipTo(dueAt + 1_000);
      await jobFallsDue(request.id);
      const ended = await fleet.waitFor('outbound request ended before a dial', { outboundRequest: request.id });
      expect(ended.line).toMatchObject({ status: 'refused', reason: 'do_not_call' });
      expect(await stored(apps[(ended.instance + 1) % apps.length], request.id)).toMatchObject({
        status: 'refused',
        statusReason: 'do_not_call',
        nextAttemptAt: null,
        attempts: [],
      });
    }
    expect(rest.createdCalls.filter((r) => r.form.To === later || r.form.To === atNight)).toHaveLength(0);
    expect(createsFor(waiting.id).concat(createsFor(shut.id))).toHaveLength(0);
  });
});
