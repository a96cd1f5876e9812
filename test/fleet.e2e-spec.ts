import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { CallLogWriter } from '../src/call-log/call-log-writer';
import { CallLogRepository } from '../src/call-log/call-record';
import { STREAM_TOKEN_PARAMETER } from '../src/security/stream-tokens';
import { CALL_PARAMS } from './support/calls';
import { FakeTwilioRest } from './support/fake-twilio-rest';
import { LiveEvents, type LiveEvent } from './support/live-events';
import { MockRealtimeServer, type MockRealtimeConnection } from './support/mock-realtime-server';
import { ServiceProcess } from './support/service-process';
import { TcpProxy } from './support/tcp-proxy';
import { startApp, TEST_API_KEY, type TestApp } from './support/test-app';
import { TwilioCaller } from './support/twilio-caller';

const redisUrl = process.env.REDIS_URL;
const databaseUrl = process.env.DATABASE_URL;

const ACCOUNT_SID = 'AC' + 'c'.repeat(32);
const AUTH_TOKEN = 'twilio-auth-token-fleet-012345';
const API_TOKEN = 'test-api-token-0123456789';
const auth = { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' };
const sid = () => `CA${randomBytes(16).toString('hex')}`;
const alice = { id: 'alice', name: 'Alice Jones', mobile: '+15551230001' };
const EVERY_DAY = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const ROTA = { timezone: 'America/New_York', people: [alice], windows: [{ days: EVERY_DAY, start: '00:00', end: '00:00', people: ['alice'] }] };

/** Instances share Redis and one PostgreSQL: the fleet on this machine (.ci/run sets both URLs). */
(redisUrl && databaseUrl ? describe : describe.skip)('several instances sharing Redis and PostgreSQL', () => {
  jest.setTimeout(60_000);

  const prefix = `call-operator-e2e:${process.pid}:${Date.now()}:`;
  const schema = `e2e_fleet_${randomBytes(6).toString('hex')}`;
  let sharedDatabaseUrl: string;
  let admin: import('pg').Client;
  let probe: Redis;
  let mock: MockRealtimeServer;
  let rest: FakeTwilioRest;
  let a: TestApp;
  let b: TestApp;

  const env = (instanceId: string, over: Record<string, string> = {}): Record<string, string> => ({
    OPENAI_API_KEY: TEST_API_KEY,
    OPENAI_REALTIME_URL: mock.url,
    TWILIO_ACCOUNT_SID: ACCOUNT_SID,
    TWILIO_AUTH_TOKEN: AUTH_TOKEN,
    TWILIO_API_BASE_URL: rest.baseUrl,
    PUBLIC_BASE_URL: 'https://calls.example.com',
    API_TOKEN,
    DATABASE_URL: sharedDatabaseUrl,
    REDIS_URL: redisUrl!,
    REDIS_KEY_PREFIX: prefix,
    INSTANCE_ID: instanceId,
    INSTANCE_LEASE_SECONDS: '1',
    RECORDING_ENABLED: 'false',
    ON_CALL_ROTA: JSON.stringify(ROTA),
    ...over,
  });

  beforeAll(async () => {
    const { Client } = await import('pg');
    admin = new Client({ connectionString: databaseUrl });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    const url = new URL(databaseUrl!);
    url.searchParams.set('options', `-c search_path=${schema}`);
    sharedDatabaseUrl = url.toString();
    probe = new Redis(redisUrl!, { lazyConnect: true });
    await probe.connect();
    mock = await MockRealtimeServer.start();
    rest = await FakeTwilioRest.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
    a = await startApp(env('pod-a'));
    b = await startApp(env('pod-b'));
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await rest?.close();
    await mock?.close();
    const keys = await probe.keys(`${prefix}*`);
    if (keys.length > 0) await probe.del(...keys);
    await probe.quit();
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
  });

  /** Twilio's "a call comes in" at `instance`: the stream token its TwiML carries. */
  async function webhook(instance: { httpUrl: string }, callSid: string): Promise<string> {
    const res = await fetch(`${instance.httpUrl}/twilio/voice`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ CallSid: callSid, From: CALL_PARAMS.from, To: CALL_PARAMS.to, Direction: 'inbound' }),
    });
    const twiml = await res.text();
    const token = new RegExp(`<Parameter name="${STREAM_TOKEN_PARAMETER}" value="([^"]+)"`).exec(twiml)?.[1];
    if (!token) throw new Error(`no stream token in ${twiml}`);
    return token;
  }

  /** The call's media stream, opened at `instance` with `token`, up to the greeting request. */
  async function stream(instance: { streamUrl: string }, callSid: string, token: string): Promise<{ caller: TwilioCaller; rt: MockRealtimeConnection }> {
    const caller = await TwilioCaller.connect(instance.streamUrl, { callSid, streamToken: token, customParameters: CALL_PARAMS });
    caller.sendConnected();
    caller.sendStart();
    const rt = await mock.nextConnection();
    await rt.waitFor('response.create');
    return { caller, rt };
  }

  const command = (instance: TestApp, callSid: string, action: string, body: unknown = {}) =>
    fetch(`${instance.httpUrl}/api/calls/${callSid}/${action}`, { method: 'POST', headers: auth, body: JSON.stringify(body) });
  const live = async (instance: { httpUrl: string }) =>
    ((await (await fetch(`${instance.httpUrl}/api/calls/live`, { headers: auth })).json()) as { items: Array<Record<string, unknown>> }).items;

  async function hangUp(instance: TestApp, caller: TwilioCaller, rt: MockRealtimeConnection): Promise<void> {
    caller.sendStop();
    await rt.waitForClose();
    await instance.logs.waitFor('call ended', { callSid: caller.callSid });
  }

  it('takes the stream on B for a webhook A answered; A lists it as held by B; the token cannot be used again on A', async () => {
    const callSid = sid();
    const token = await webhook(a, callSid);
    const { caller, rt } = await stream(b, callSid, token);

    expect(await live(a)).toContainEqual(expect.objectContaining({ callSid, instanceId: 'pod-b', from: CALL_PARAMS.from }));

    const replay = await TwilioCaller.connect(a.streamUrl, { callSid, streamToken: token, customParameters: CALL_PARAMS });
    replay.sendConnected();
    replay.sendStart();
    expect(await replay.closed).toEqual({ code: 1011, reason: 'stream_token_replayed' });
    expect(a.logs.lines.find((l) => l.msg === 'media stream refused: bad stream token' && l.callSid === callSid)).toMatchObject({ refusal: 'stream_token_replayed' });

    await hangUp(b, caller, rt);
    expect((await live(a)).map((s) => s.callSid)).not.toContain(callSid);
  });

  it("streams B's call to a console watching A, as it starts, changes and ends", async () => {
    const events = await LiveEvents.open(a.httpUrl, API_TOKEN);
    try {
      const callSid = sid();
      const { caller, rt } = await stream(b, callSid, await webhook(a, callSid));
      const holds = (e: LiveEvent) => e.event === 'calls' && e.data.items.some((c: { callSid: string }) => c.callSid === callSid);
      const started = await events.waitFor('the call held by B', holds);
      expect(started.data.items).toContainEqual(expect.objectContaining({ callSid, instanceId: 'pod-b', from: CALL_PARAMS.from, state: 'listening' }));
      rt.responseCreated('resp_live');
      // Two seconds of the agent's audio: longer than a tick of the feed.
      rt.sendAudio('resp_live', 'item_live', Buffer.alloc(16_000, 0x35), 800);
      await events.waitFor('the agent speaking', (e) => holds(e) && e.data.items.some((c: { callSid: string; state: string }) => c.callSid === callSid && c.state === 'speaking'));
      const before = events.events.length;
      await hangUp(b, caller, rt);
      await events.waitFor('the call gone', (e) => events.events.indexOf(e) >= before && e.event === 'calls' && !holds(e));
    } finally {
      events.close();
    }
  });

  it('carries say, transfer and hangup sent to A out on the call B holds, and brings B\'s answers back', async () => {
    let callSid = sid();
    let { caller, rt } = await stream(b, callSid, await webhook(a, callSid));
    rt.responseCreated('resp_greeting');
    rt.responseDone('resp_greeting');

    let res = await command(a, callSid, 'say', { text: 'The on-call plumber is on the way.' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ callSid, action: 'say', said: 'now', waiting: 0 });
    await rt.waitFor('response.create', (e) => String(e.response?.instructions).includes('on-call plumber is on the way'));

    res = await command(a, callSid, 'transfer', { to: '+15552223333' });
    expect(await res.json()).toEqual({ callSid, action: 'transfer', transferredTo: '+15552223333' });
    await rest.waitForRequest((r) => r.callSid === callSid && String(r.form.Twiml).includes('+15552223333'));
    // B answers for its call: it is already leaving.
    res = await command(a, callSid, 'hangup');
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ statusCode: 409, message: 'The call is already being hung up or transferred.' });
    await hangUp(b, caller, rt);

    callSid = sid();
    ({ caller, rt } = await stream(b, callSid, await webhook(a, callSid)));
    res = await command(a, callSid, 'hangup');
    expect(await res.json()).toEqual({ callSid, action: 'hangup', hungUp: true });
    await rest.waitForRequest((r) => r.callSid === callSid && r.form.Status === 'completed');
    await hangUp(b, caller, rt);
    await b.app.get(CallLogWriter).drained();
    expect(await a.app.get(CallLogRepository).get(callSid)).toMatchObject({ status: 'completed', endReason: 'hangup' });

    // Ended: no instance knows the call any more.
    expect((await command(a, callSid, 'hangup')).status).toBe(404);
  });

  it("carries a warm transfer's leg webhooks that reach A to the call B holds, and B's TwiML back", async () => {
    const callSid = sid();
    const { caller, rt } = await stream(b, callSid, await webhook(a, callSid));
    rt.responseCreated('resp_connect');
    const args = JSON.stringify({ summary: 'Burst pipe at 12 Elm Street.' });
    rt.send({ type: 'response.function_call_arguments.done', response_id: 'resp_connect', item_id: 'item_connect', output_index: 0, call_id: 'connect', name: 'connect_to_on_call', arguments: args });
    rt.responseDone('resp_connect');
    const output = await rt.waitFor('conversation.item.create', (e) => e.item?.call_id === 'connect');
    expect(JSON.parse(output.item.output as string)).toMatchObject({ connecting: true, onCall: 'Alice Jones' });
    const leg = await rest.waitForRequest((r) => r.form.To === alice.mobile && typeof r.form.Url === 'string' && r.form.Url.includes(callSid), 5000);

    // Twilio reaches A with every webhook of the on-call leg (unsigned here: the test defaults trust it).
    const post = async (url: string, params: Record<string, string>) => {
      const target = new URL(url);
      const res = await fetch(`${a.httpUrl}${target.pathname}${target.search}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ AccountSid: ACCOUNT_SID, CallSid: leg.callSid!, ...params }),
      });
      return { status: res.status, text: await res.text() };
    };
    const whisper = await post(leg.form.Url, { CallStatus: 'in-progress' });
    expect(whisper.text).toContain('a caller is waiting to be connected to you. Burst pipe at 12 Elm Street. Press 1');
    const action = /<Gather[^>]* action="([^"]+)"/.exec(whisper.text)![1].replace(/&amp;/g, '&');
    const answer = await post(action, { Digits: '1' });
    expect(answer.text).toContain('<Conference endConferenceOnExit="true" beep="false">transfer-');
    // B, holding the call, moved the caller into the same conference.
    const moved = await rest.waitForRequest((r) => r.callSid === callSid && r.form.Twiml !== undefined, 5000);
    expect(moved.form.Twiml).toBe(answer.text);
    await b.logs.waitFor('warm transfer', { callSid, to: 'bridged' });
    expect(a.logs.lines.some((l) => l.msg === 'warm transfer' && l.callSid === callSid)).toBe(false);

    // The transfer is over: a late webhook, on either instance, lets the leg go.
    expect((await post(leg.form.Url, { CallStatus: 'in-progress' })).text).toContain('This caller is no longer waiting. Goodbye.');
    expect((await post(leg.form.StatusCallback, { CallStatus: 'completed' })).status).toBe(204);
    await hangUp(b, caller, rt);
  });

  it('records the calls of an instance killed mid-call as ended, and its sessions go', async () => {
    const killed = await ServiceProcess.start(env('pod-killed', { LOG_LEVEL: 'info' }));
    try {
      const callSid = sid();
      const { caller } = await stream(killed, callSid, await webhook(a, callSid));
      expect(await live(a)).toContainEqual(expect.objectContaining({ callSid, instanceId: 'pod-killed' }));
      await killed.waitForLog((l) => l.msg === 'call started' && l.callSid === callSid);

      killed.signal('SIGKILL');
      await killed.waitForExit();
      await caller.closed;

      // The first sweep of A or B after the lease lapsed: either may notice.
      await Promise.any(
        [a, b].map((x) => x.logs.waitFor('call record ended: the instance holding the call is gone', { callSid, holder: 'pod-killed' }, 15_000)),
      );
      expect(await a.app.get(CallLogRepository).get(callSid)).toMatchObject({
        status: 'failed',
        endReason: 'instance_lost',
        details: { abandoned: { holder: 'pod-killed', noticedBy: expect.stringMatching(/^pod-[ab]$/) } },
      });
      expect((await live(a)).map((s) => s.callSid)).not.toContain(callSid);
      expect((await command(a, callSid, 'hangup')).status).toBe(404);
    } finally {
      await killed.kill();
    }
  });

  it('a Redis restart during a call costs no audio; the call saves its session again once Redis is back', async () => {
    const target = new URL(redisUrl!);
    const proxy = await TcpProxy.start(target.hostname, Number(target.port || 6379));
    // A lease longer than the outage: a Redis restart is not an instance lost (which the test above covers).
    const c = await startApp(env('pod-c', { REDIS_URL: `redis://127.0.0.1:${proxy.port}`, INSTANCE_LEASE_SECONDS: '30' }));
    try {
      const callSid = sid();
      const { caller, rt } = await stream(c, callSid, await webhook(c, callSid));
      const frames: Buffer[] = [];
      const talk = async (count: number) => {
        for (let i = 0; i < count; i++) {
          const frame = Buffer.alloc(160, (frames.length % 250) + 1);
          frames.push(frame);
          caller.sendMedia(frame);
        }
        const last = frames.at(-1)![0];
        await rt.waitFor('input_audio_buffer.append', (e) => Buffer.from(e.audio as string, 'base64')[0] === last);
      };
      let agentBytes = 0;
      const speak = async (id: string) => {
        rt.speak(`resp_${id}`, `item_${id}`, Buffer.alloc(4_000, 0x2a));
        agentBytes += 4_000;
        await caller.waitFor('mark', () => caller.playedMs() + caller.queuedMs() >= agentBytes / 8);
      };

      await talk(10);
      await speak('before');

      // Redis goes away, and comes back empty, as a restart of a Redis that keeps nothing on disk.
      proxy.cut();
      await c.logs.waitFor('redis unreachable');
      await probe.del(`${prefix}session:${callSid}`);
      await probe.zrem(`${prefix}sessions`, callSid);
      await talk(50);
      await speak('during');
      expect(caller.warnings).toEqual([]);

      proxy.restore();
      await c.logs.waitFor('redis reachable again');
      await talk(10);
      await speak('after');

      // Every caller frame reached the model, in order, and every byte of the agent reached the caller.
      expect(rt.appendedAudio().equals(Buffer.concat(frames))).toBe(true);
      expect(caller.playedMs() + caller.queuedMs()).toBe(agentBytes / 8);
      expect(c.logs.lines.filter((l) => l.msg === 'session save failed' || l.msg === 'session touch failed')).toEqual([]);

      // The next refresh finds the session gone and saves it again.
      c.clock.skip(5_000);
      await talk(1);
      await c.logs.waitFor('session saved again: the shared store had lost it', { callSid });
      expect(await live(a)).toContainEqual(expect.objectContaining({ callSid, instanceId: 'pod-c' }));
      await hangUp(c, caller, rt);
    } finally {
      await c.close();
      await proxy.close();
    }
  });
});
