import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { CallLogWriter } from '../src/call-log/call-log-writer';
import { EmergencyAlerts } from '../src/on-call/emergency-alerts';
import { OnCallPager, PAGE_QUEUE } from '../src/on-call/on-call-pager';
import { FakeTwilioRest, type RecordedTwilioMessage } from './support/fake-twilio-rest';
import { MockRealtimeServer, type MockRealtimeConnection } from './support/mock-realtime-server';
import { callTool, SignedTwilio } from './support/signed-twilio';
import type { TwilioCaller } from './support/twilio-caller';
import { TcpProxy } from './support/tcp-proxy';
import { freshDataDir, startApp, TEST_API_KEY, type TestApp } from './support/test-app';

const ACCOUNT_SID = 'AC' + 'e'.repeat(32);
const AUTH_TOKEN = 'twilio-auth-token-on-call-0123';
const API_TOKEN = 'test-api-token-on-call-0123456789';
const PUBLIC_BASE_URL = 'https://calls.example.com';
const SMS_FROM = '+15557650000';
const ACK_MINUTES = 5;
const auth = { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' };

const alice = { id: 'alice', name: 'Alice Jones', mobile: '+15551230001' };
const bob = { id: 'bob', name: 'Bob Smith', mobile: '+15551230002' };
const EVERY_DAY = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
/** Alice, then Bob, around the clock: whenever the test runs, both are on call in that order. */
const ROTA = { timezone: 'America/New_York', people: [alice, bob], windows: [{ days: EVERY_DAY, start: '00:00', end: '00:00', people: ['alice', 'bob'] }] };

const sid = (prefix: string) => prefix + randomBytes(16).toString('hex');

function env(over: Record<string, string> = {}): Record<string, string> {
  return {
    API_TOKEN,
    TWILIO_ACCOUNT_SID: ACCOUNT_SID,
    TWILIO_AUTH_TOKEN: AUTH_TOKEN,
    TWILIO_VALIDATE_SIGNATURE: 'true',
    PUBLIC_BASE_URL,
    SMS_FROM_NUMBER: SMS_FROM,
    ON_CALL_ROTA: JSON.stringify(ROTA),
    ON_CALL_ACK_MINUTES: String(ACK_MINUTES),
    ON_CALL_CALLBACK_MINUTES: '20',
    ...over,
  };
}

/** A call Twilio starts, signed, up to the greeting request. */
const startCall = (t: TestApp, mock: MockRealtimeServer, from = '+14155550000') =>
  new SignedTwilio(t, AUTH_TOKEN, PUBLIC_BASE_URL).startCall(mock, { customParameters: { from, to: SMS_FROM, direction: 'inbound' } });

/** The model saves the job request; its output. */
const saveJob = (rt: MockRealtimeConnection, args: Record<string, string>) => callTool(rt, 'save_job_request', args);

const EMERGENCY = { caller_name: 'Dana Smith', callback_number: '(415) 555-2671', service_address: '12 Elm Street, Springfield', problem: 'Burst pipe in the basement', urgency: 'emergency' };

describe('on call: emergency paging', () => {
  let rest: FakeTwilioRest;
  let mock: MockRealtimeServer;
  let t: TestApp;

  beforeAll(async () => {
    rest = await FakeTwilioRest.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
    mock = await MockRealtimeServer.start();
    t = await startApp(env({ OPENAI_API_KEY: TEST_API_KEY, OPENAI_REALTIME_URL: mock.url, TWILIO_API_BASE_URL: rest.baseUrl }));
  });

  afterAll(async () => {
    await t?.close();
    await mock?.close();
    await rest?.close();
  });

  const pagesFor = (callSid: string): RecordedTwilioMessage[] => rest.messages.filter((m) => m.body.includes(callSid));
  const pageTo = (callSid: string, person: { mobile: string }) => rest.waitForMessage((m) => m.to === person.mobile && m.body.includes(callSid));

  /** Twilio's inbound message webhook, signed over the public URL. */
  const reply = (from: string, body: string, signed = true) =>
    new SignedTwilio(t, AUTH_TOKEN, PUBLIC_BASE_URL).post('/twilio/sms', { AccountSid: ACCOUNT_SID, MessageSid: sid('SM'), From: from, To: SMS_FROM, Body: body, NumMedia: '0' }, signed);

  /** The page job for `step`, run as the queue runs it when it comes due. */
  const runStep = (callSid: string, step: number) =>
    t.app.get(OnCallPager).due({ id: sid('job-'), name: PAGE_QUEUE, data: { callSid, step }, retryCount: 0, signal: new AbortController().signal });

  const record = async (callSid: string) => (await (await fetch(`${t.httpUrl}/api/calls/${callSid}`, { headers: auth })).json()) as Record<string, any>;

  async function hangUp(caller: TwilioCaller, rt: MockRealtimeConnection): Promise<void> {
    caller.sendStop();
    await rt.waitForClose();
    await t.logs.waitFor('call ended', { callSid: caller.callSid });
    await t.app.get(CallLogWriter).drained();
  }

  it('pages the on-call person within 30 s of an emergency job request, and tells the agent who and when', async () => {
    const { caller, rt } = await startCall(t, mock);
    const savedAt = Date.now();
    const output = await saveJob(rt, EMERGENCY);
    expect(output).toMatchObject({
      saved: true,
      onCall: { alerted: true, person: { id: 'alice', name: 'Alice Jones' }, callbackWithinMinutes: 20 },
      tellCaller: expect.stringContaining("I've alerted our on-call plumber, Alice Jones, who will call you back within 20 minutes."),
    });
    const page = await pageTo(caller.callSid, alice);
    expect(page.at.getTime() - savedAt).toBeLessThan(30_000);
    expect(page.from).toBe(SMS_FROM);
    expect(page.body).toBe(
      `EMERGENCY Call Operator Pro Plumbing: Dana Smith, call back +14155552671. 12 Elm Street, Springfield. Burst pipe in the basement. ` +
        `Reply YES to take it, NO to pass it on. ${PUBLIC_BASE_URL}/console/#/calls/${caller.callSid}`,
    );
    const sent = await t.logs.waitFor('on-call page sent', { callSid: caller.callSid, step: 0 });
    expect(sent).toMatchObject({ person: 'alice', messageSid: page.sid });
    // The next step waits for the ack timeout.
    const next = await t.logs.waitFor('next on-call step scheduled', { callSid: caller.callSid, step: 1 });
    expect(Date.parse(next.at as string) - Date.parse(sent.time as string)).toBeGreaterThanOrEqual(ACK_MINUTES * 60_000 - 1_000);
    // Nothing about the caller in the logs: no address, no problem, no name.
    expect(t.logs.raw.join('\n')).not.toMatch(/Elm Street|Burst pipe|Dana Smith/);
    await reply(alice.mobile, 'YES');
    await hangUp(caller, rt);
  });

  it('pages the next person once the ack timeout has passed without a YES, and keeps every page on the call record', async () => {
    const { caller, rt } = await startCall(t, mock);
    await saveJob(rt, EMERGENCY);
    await pageTo(caller.callSid, alice);
    await t.logs.waitFor('next on-call step scheduled', { callSid: caller.callSid, step: 1 });
    await hangUp(caller, rt);

    // Due early (a clock behind the database's): it waits.
    await runStep(caller.callSid, 1);
    expect(pagesFor(caller.callSid)).toHaveLength(1);
    t.clock.skip(ACK_MINUTES * 60_000);
    await runStep(caller.callSid, 1);
    expect((await pageTo(caller.callSid, bob)).body).toContain('Dana Smith');

    // After the call: the pages are on its record.
    const { details } = await record(caller.callSid);
    expect(details.onCall).toEqual({ alerted: true, person: { id: 'alice', name: 'Alice Jones' }, callbackWithinMinutes: 20 });
    expect(details.paging).toMatchObject({
      status: 'paging',
      people: [alice, bob],
      facts: { callerName: 'Dana Smith', callbackNumber: '+14155552671', serviceAddress: '12 Elm Street, Springfield', problem: 'Burst pipe in the basement' },
      pages: [
        { step: 0, personId: 'alice', to: alice.mobile, status: 'sent', messageSid: expect.stringMatching(/^SM/), answer: null },
        { step: 1, personId: 'bob', to: bob.mobile, status: 'sent', messageSid: expect.stringMatching(/^SM/), answer: null },
      ],
    });

    // Bob does not answer either: paging gives up, on the record and loudly in the logs.
    t.clock.skip(ACK_MINUTES * 60_000);
    await runStep(caller.callSid, 2);
    expect((await record(caller.callSid)).details.paging).toMatchObject({ status: 'unacknowledged', gaveUpAt: expect.any(String) });
    expect(t.logs.find('emergency not taken: nobody on call answered the pages', { callSid: caller.callSid })).toMatchObject({ level: 'error' });

    // A late YES still takes it.
    expect((await reply(alice.mobile, 'Yes')).text).toContain('Thanks Alice Jones, it is yours');
    expect((await record(caller.callSid)).details.paging).toMatchObject({ status: 'acknowledged', ackedBy: 'alice', gaveUpAt: expect.any(String), pages: [{ answer: 'accepted' }, { answer: null }] });
  });

  it('stops paging on a YES from the person paged, answers them, and keeps the answer on the record', async () => {
    const { caller, rt } = await startCall(t, mock);
    await saveJob(rt, EMERGENCY);
    await pageTo(caller.callSid, alice);

    // Unsigned: refused.
    expect((await reply(alice.mobile, 'YES', false)).status).toBe(403);
    const answered = await reply(alice.mobile, '  yes ');
    expect(answered.status).toBe(200);
    expect(answered.text).toContain('<Message>Thanks Alice Jones, it is yours: please call Dana Smith back on +14155552671 now.</Message>');
    await t.logs.waitFor('emergency taken: paging stopped', { callSid: caller.callSid, person: 'alice' });

    t.clock.skip(ACK_MINUTES * 60_000);
    await runStep(caller.callSid, 1);
    expect(pagesFor(caller.callSid).map((m) => m.to)).toEqual([alice.mobile]);
    await hangUp(caller, rt);
    expect((await record(caller.callSid)).details.paging).toMatchObject({
      status: 'acknowledged',
      ackedBy: 'alice',
      ackedVia: 'sms',
      pages: [{ step: 0, answer: 'accepted', answerSid: expect.stringMatching(/^SM/) }],
    });
    // A second YES finds nothing waiting.
    expect((await reply(alice.mobile, 'YES')).text).toContain('No emergency is waiting for your answer.');
  });

  it('passes the emergency on at once on a NO, through the queue', async () => {
    const { caller, rt } = await startCall(t, mock);
    await saveJob(rt, EMERGENCY);
    await pageTo(caller.callSid, alice);
    expect((await reply(alice.mobile, 'No')).text).toContain('it goes to the next person on call');
    // No clock moved: the queue runs the next step now.
    await pageTo(caller.callSid, bob);
    expect((await reply(bob.mobile, 'maybe')).text).toContain('Reply YES to take the emergency');
    expect((await reply(bob.mobile, 'ok')).text).toContain('Thanks Bob Smith, it is yours');
    await hangUp(caller, rt);
    expect((await record(caller.callSid)).details.paging).toMatchObject({ status: 'acknowledged', ackedBy: 'bob', pages: [{ answer: 'declined' }, { answer: 'accepted' }] });
  });

  it("pages the next person at once when Twilio reports a page undelivered, and keeps the reports on the record", async () => {
    const { caller, rt } = await startCall(t, mock);
    await saveJob(rt, EMERGENCY);
    const page = await pageTo(caller.callSid, alice);
    expect(page.statusCallback).toBe(`${PUBLIC_BASE_URL}/twilio/sms/status`);
    const status = async (messageSid: string, MessageStatus: string, extra: Record<string, string> = {}, signed = true) => {
      const params = { AccountSid: ACCOUNT_SID, MessageSid: messageSid, SmsSid: messageSid, MessageStatus, SmsStatus: MessageStatus, From: SMS_FROM, To: alice.mobile, ...extra };
      return (await new SignedTwilio(t, AUTH_TOKEN, PUBLIC_BASE_URL).post(page.statusCallback!, params, signed)).status;
    };
    expect(await status(page.sid, 'undelivered', { ErrorCode: '30003' }, false)).toBe(403);
    expect(await status(page.sid, 'sent')).toBe(204);
    expect(await status('not-a-sid', 'delivered')).toBe(400);
    expect(await status(page.sid, 'undelivered', { ErrorCode: '30003' })).toBe(204);
    // No clock moved and no answer: the queue pages Bob now.
    const next = await pageTo(caller.callSid, bob);
    expect(await status(next.sid, 'delivered')).toBe(204);
    await hangUp(caller, rt);
    expect((await record(caller.callSid)).details.paging).toMatchObject({
      status: 'paging',
      pages: [
        { personId: 'alice', status: 'failed', delivery: 'undelivered', deliveryError: 30003, error: 'not delivered: undelivered (Twilio error 30003)' },
        { personId: 'bob', status: 'sent', delivery: 'delivered', deliveryError: null },
      ],
    });
    expect((await reply(bob.mobile, 'YES')).text).toContain('Thanks Bob Smith, it is yours');
  });

  it('pages nobody for a routine job, and ignores texts from numbers not on call', async () => {
    const routine = await startCall(t, mock, '+14155550123');
    const output = await saveJob(routine.rt, { caller_name: 'Lee Park', problem: 'Dripping tap', urgency: 'routine' });
    expect(output).not.toHaveProperty('onCall');
    await hangUp(routine.caller, routine.rt);

    // An emergency after it is paged; the routine job never was.
    const { caller, rt } = await startCall(t, mock);
    await saveJob(rt, EMERGENCY);
    await pageTo(caller.callSid, alice);
    expect(pagesFor(routine.caller.callSid)).toEqual([]);
    const { details } = await record(routine.caller.callSid);
    expect(details).not.toHaveProperty('paging');
    expect(details).not.toHaveProperty('onCall');
    await reply(alice.mobile, 'YES');
    await hangUp(caller, rt);

    const stranger = await reply('+14155559999', 'YES');
    expect(stranger).toEqual({ status: 200, text: '<?xml version="1.0" encoding="UTF-8"?><Response/>' });
    // Not staff: a caller's YES is an opt-in (Twilio's keyword), not an answer to a page.
    expect(t.logs.find('number opted back in to texts')).toMatchObject({ keyword: 'YES', wasOptedOut: false });
  });

  describe('the rota API', () => {
    const api = (path: string, init: RequestInit = {}) => fetch(`${t.httpUrl}/api/on-call${path}`, { ...init, headers: { ...auth, ...(init.headers ?? {}) } });
    const json = async (res: Response | Promise<Response>) => (await (await res).json()) as Record<string, any>;

    it('serves the default until it is edited, then the database copy', async () => {
      expect((await fetch(`${t.httpUrl}/api/on-call`)).status).toBe(401);
      const initial = await (await api('')).json();
      expect(initial).toMatchObject({ source: 'default', updatedAt: null, rota: { timezone: 'America/New_York', people: [alice, bob], overrides: [] }, onCallNow: [{ id: 'alice', name: 'Alice Jones' }, { id: 'bob', name: 'Bob Smith' }] });

      const carol = { id: 'carol', name: 'Carol Diaz', mobile: '+15551230003' };
      const put = await api('', { method: 'PUT', body: JSON.stringify({ ...ROTA, people: [alice, bob, carol], windows: [{ start: 'mon 00:00', end: 'mon 00:00', people: ['carol', 'alice'] }] }) });
      expect(put.status).toBe(200);
      expect(await json(put)).toMatchObject({ source: 'database', updatedAt: expect.any(String), rota: { windows: [{ days: null, start: 'mon 00:00', end: 'mon 00:00' }] }, onCallNow: [{ id: 'carol' }, { id: 'alice' }] });

      // An override puts Bob on for the next hour; one naming nobody known is refused.
      const start = new Date(Date.now() - 60_000).toISOString();
      const end = new Date(Date.now() + 3_600_000).toISOString();
      const added = await api('/overrides', { method: 'POST', body: JSON.stringify({ id: 'cover', start, end, people: ['bob'], note: 'Carol at the dentist' }) });
      expect(added.status).toBe(201);
      expect(await json(added)).toMatchObject({ id: 'cover', people: ['bob'], note: 'Carol at the dentist' });
      expect((await json(api(''))).onCallNow).toEqual([{ id: 'bob', name: 'Bob Smith' }]);
      const refused = await api('/overrides', { method: 'POST', body: JSON.stringify({ start, end, people: ['dave'] }) });
      expect(refused.status).toBe(400);
      expect((await json(refused)).message).toEqual(['override.people: no person has the id "dave"']);

      expect((await api('/overrides/cover', { method: 'DELETE' })).status).toBe(204);
      expect((await api('/overrides/cover', { method: 'DELETE' })).status).toBe(404);
      expect((await json(api(''))).onCallNow).toEqual([{ id: 'carol', name: 'Carol Diaz' }, { id: 'alice', name: 'Alice Jones' }]);
    });

    it('refuses a rota with problems, naming each', async () => {
      const bad = await api('', { method: 'PUT', body: JSON.stringify({ people: [{ id: 'x', name: 'X', mobile: '555' }], windows: [{ days: ['mon'], start: 'mon 17:00', end: '08:00', people: ['y'] }], extra: 1 }) });
      expect(bad.status).toBe(400);
      expect((await json(bad)).message).toEqual(expect.arrayContaining(['property extra should not exist', expect.stringContaining('mobile must be a phone number in E.164 form')]));
      const unknown = await api('', { method: 'PUT', body: JSON.stringify({ people: [alice], windows: [{ days: ['mon'], start: 'mon 17:00', end: '08:00', people: ['y'] }] }) });
      expect((await json(unknown)).message).toEqual(['windows[0].start: "mon 17:00" must be a time of day HH:MM (with days)', 'windows[0].people: no person has the id "y"']);
    });

    it('tells the agent honestly when nobody is on call, and pages nobody', async () => {
      const put = await api('', { method: 'PUT', body: JSON.stringify({ ...ROTA, windows: [] }) });
      expect((await json(put)).onCallNow).toEqual([]);
      const { caller, rt } = await startCall(t, mock);
      const output = await saveJob(rt, EMERGENCY);
      expect(output).toMatchObject({ onCall: { alerted: false, reason: 'nobody_on_call' }, tellCaller: expect.stringContaining('no on-call plumber has been paged') });
      await hangUp(caller, rt);
      expect(pagesFor(caller.callSid)).toEqual([]);
      expect((await record(caller.callSid)).details).toMatchObject({ onCall: { alerted: false, reason: 'nobody_on_call' } });
    });
  });
});

describe('on call: a bad default rota', () => {
  it('stops boot, naming the setting and each problem', async () => {
    // The rota is checked as the on-call module is built, after the database client: an unreachable
    // PostgreSQL has no embedded database's worker to leave running once boot fails.
    const bad = { ON_CALL_ROTA: JSON.stringify({ people: [alice], windows: [{ days: ['mon'], start: '9am', end: '17:00', people: ['alice'] }] }), DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' };
    await expect(startApp(env(bad))).rejects.toThrow('ON_CALL_ROTA: windows[0].start: "9am" must be a time of day HH:MM (with days)');
    await expect(startApp(env({ ON_CALL_ROTA: '', ON_CALL_ROTA_FILE: '/nonexistent/rota.json' }))).rejects.toThrow('ON_CALL_ROTA_FILE: cannot read /nonexistent/rota.json (ENOENT)');
  });
});

/** A real outage: PostgreSQL reached through a proxy that the test cuts. */
(process.env.DATABASE_URL ? describe : describe.skip)('on call: paging through a PostgreSQL outage', () => {
  let proxy: TcpProxy;
  let rest: FakeTwilioRest;
  let mock: MockRealtimeServer;
  let admin: import('pg').Client;
  let schema: string;
  let jobsSchema: string;
  let url: string;
  let dataDir: string;

  beforeAll(async () => {
    const base = new URL(process.env.DATABASE_URL!);
    const { Client } = await import('pg');
    admin = new Client({ connectionString: base.toString() });
    await admin.connect();
    schema = `oncall_${randomBytes(6).toString('hex')}`;
    jobsSchema = `${schema}_jobs`;
    await admin.query(`CREATE SCHEMA ${schema}`);
    proxy = await TcpProxy.start(base.hostname, Number(base.port || 5432));
    const viaProxy = new URL(base);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    viaProxy.searchParams.set('options', `-c search_path=${schema}`);
    url = viaProxy.toString();
    rest = await FakeTwilioRest.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
    mock = await MockRealtimeServer.start();
    dataDir = await freshDataDir();
  });

  afterAll(async () => {
    await mock?.close();
    await rest?.close();
    await proxy?.close();
    await admin?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; DROP SCHEMA IF EXISTS ${jobsSchema} CASCADE`);
    await admin?.end();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('loses no emergency: the caller is told at once, the page goes when the database is back, or after the next boot', async () => {
    const appEnv = env({ OPENAI_API_KEY: TEST_API_KEY, OPENAI_REALTIME_URL: mock.url, TWILIO_API_BASE_URL: rest.baseUrl, DATABASE_URL: url, JOBS_SCHEMA: jobsSchema, DATA_DIR: dataDir });
    let t = await startApp(appEnv);
    await t.logs.waitFor('emergency pages are sent by this instance');

    // Down when the emergency is saved, back a little later.
    proxy.cut();
    const first = await startCall(t, mock);
    expect(await saveJob(first.rt, EMERGENCY)).toMatchObject({ onCall: { alerted: true, person: { id: 'alice' } } });
    await t.logs.waitFor('emergency not handed to the page queue yet: the database did not take it; retrying', { callSid: first.caller.callSid });
    proxy.restore();
    await rest.waitForMessage((m) => m.to === alice.mobile && m.body.includes(first.caller.callSid), 45_000);
    first.caller.sendStop();
    await first.rt.waitForClose();

    // Down through shutdown: spooled, and paged by the next boot.
    proxy.cut();
    const second = await startCall(t, mock);
    expect(await saveJob(second.rt, EMERGENCY)).toMatchObject({ onCall: { alerted: true } });
    await t.logs.waitFor('emergency not handed to the page queue yet: the database did not take it; retrying', { callSid: second.caller.callSid });
    second.caller.sendStop();
    await second.rt.waitForClose();
    const closing = t.logs;
    await t.close();
    expect(closing.find('emergency spooled to disk: its paging starts at the next boot', { callSid: second.caller.callSid })).toBeDefined();
    proxy.restore();
    t = await startApp(appEnv);
    await rest.waitForMessage((m) => m.to === alice.mobile && m.body.includes(second.caller.callSid), 45_000);
    expect(t.app.get(EmergencyAlerts).pendingCount).toBe(0);
    await t.close();
  }, 120_000);
});
