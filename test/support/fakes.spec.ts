import { IncomingMessage } from 'http';
import { AddressInfo } from 'net';
import WebSocket, { WebSocketServer } from 'ws';
import { MockRealtimeServer, RealtimeShape } from './mock-realtime-server';
import { TwilioCaller } from './twilio-caller';
import { summarize, Waiters, withTimeout, DEFAULT_TIMEOUT_MS } from './wait';
import { wsText } from '../../src/common/ws-text';

/** A bare ws endpoint for the tests: records parsed JSON frames and waits for them by `key`. */
class Peer {
  readonly received: any[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly waiters = new Waiters('test peer');
  private readonly returned = new Set<unknown>();

  constructor(
    readonly ws: WebSocket,
    private readonly key: 'event' | 'type',
  ) {
    this.closed = new Promise((resolve) =>
      ws.once('close', (code, reason) => {
        this.waiters.fail(`closed (code ${code})`);
        resolve({ code, reason: reason.toString() });
      }),
    );
    ws.on('error', () => undefined);
    ws.on('message', (data) => {
      this.received.push({ ...JSON.parse(wsText(data)), at: Date.now() });
      this.waiters.notify();
    });
  }

  waitFor(name: string, predicate?: (m: any) => boolean, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<any> {
    return this.waiters.until(
      `"${name}"`,
      () => {
        const found = this.received.find((m) => m[this.key] === name && !this.returned.has(m) && (!predicate || predicate(m)));
        if (found) this.returned.add(found);
        return found;
      },
      () => summarize(this.received.map((m) => m[this.key])),
      timeoutMs,
    );
  }

  send(frame: object | string | Buffer): void {
    this.ws.send(typeof frame === 'object' && !Buffer.isBuffer(frame) ? JSON.stringify(frame) : frame);
  }
}

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function track(peer: Peer): Peer {
  cleanups.push(() => {
    peer.ws.terminate();
    return peer.closed;
  });
  return peer;
}

/** A tiny ws server playing "the service" a TwilioCaller connects to. */
async function startService(verify?: (req: IncomingMessage) => boolean) {
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    verifyClient: verify ? (info, cb) => (verify(info.req) ? cb(true) : cb(false, 403, 'Forbidden')) : undefined,
  });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const peers: Array<{ peer: Peer; req: IncomingMessage }> = [];
  const waiters = new Waiters('service');
  wss.on('connection', (ws, req) => {
    peers.push({ peer: track(new Peer(ws, 'event')), req });
    waiters.notify();
  });
  cleanups.push(() => new Promise((resolve) => wss.close(resolve)));
  let next = 0;
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/media`,
    nextPeer: () =>
      waiters.until(
        'a connection',
        () => peers[next] && peers[next++],
        () => `${peers.length} connections`,
      ),
  };
}

async function callerAndService(opts?: Parameters<typeof TwilioCaller.connect>[1]) {
  const service = await startService();
  const caller = await TwilioCaller.connect(service.url, opts);
  cleanups.push(() => {
    caller.terminate();
    return caller.closed;
  });
  const { peer, req } = await service.nextPeer();
  const toCaller = {
    media: (audio: Buffer) => peer.send({ event: 'media', streamSid: caller.streamSid, media: { payload: audio.toString('base64') } }),
    mark: (name: string) => peer.send({ event: 'mark', streamSid: caller.streamSid, mark: { name } }),
    clear: () => peer.send({ event: 'clear', streamSid: caller.streamSid }),
  };
  return { caller, peer, req, toCaller };
}

/** Distinct bytes so that "what was played" comparisons mean something. */
const audio = (bytes: number, seed = 0) => Buffer.from(Array.from({ length: bytes }, (_, i) => (i * 7 + seed) % 251));

describe('TwilioCaller', () => {
  it('sends Twilio-shaped frames with string counters', async () => {
    const { caller, peer, req } = await callerAndService({
      customParameters: { sessionToken: 'tok', tenant: 'acme' },
      headers: { 'x-twilio-signature': 'sig' },
    });
    expect(req.headers['x-twilio-signature']).toBe('sig');
    expect(caller.callSid).toMatch(/^CA[0-9a-f]{32}$/);
    expect(caller.streamSid).toMatch(/^MZ[0-9a-f]{32}$/);

    caller.sendConnected();
    caller.sendStart();
    caller.sendMedia(audio(160));
    caller.sendMedia(audio(160, 1));
    caller.sendMedia(audio(160, 2), 100);
    caller.sendDtmf('5');
    caller.sendStop();

    expect(await peer.waitFor('connected')).toMatchObject({ protocol: 'Call', version: '1.0.0' });
    expect(peer.received[0].streamSid).toBeUndefined();
    const start = await peer.waitFor('start');
    expect(start).toMatchObject({
      sequenceNumber: '1',
      streamSid: caller.streamSid,
      start: {
        streamSid: caller.streamSid,
        callSid: caller.callSid,
        accountSid: caller.accountSid,
        tracks: ['inbound'],
        customParameters: { sessionToken: 'tok', tenant: 'acme' },
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
    });
    const media = [await peer.waitFor('media'), await peer.waitFor('media'), await peer.waitFor('media')];
    expect(media.map((m) => [m.sequenceNumber, m.media.chunk, m.media.timestamp, m.media.track])).toEqual([
      ['2', '1', '0', 'inbound'],
      ['3', '2', '20', 'inbound'],
      ['4', '3', '100', 'inbound'],
    ]);
    expect(Buffer.from(media[1].media.payload, 'base64')).toEqual(audio(160, 1));
    expect(await peer.waitFor('dtmf')).toMatchObject({ sequenceNumber: '5', streamSid: caller.streamSid, dtmf: { track: 'inbound_track', digit: '5' } });
    expect(await peer.waitFor('stop')).toMatchObject({ sequenceNumber: '6', stop: { callSid: caller.callSid, accountSid: caller.accountSid } });
  });

  it('startTalking sends one frame per 20 ms of wall clock, timestamped from the stream clock', async () => {
    const { caller, peer } = await callerAndService();
    caller.sendStart();
    const frames = [0, 1, 2, 3, 4].map((i) => audio(160, i));
    const t0 = Date.now();
    await caller.startTalking(frames);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(80);

    const received = [];
    for (let i = 0; i < frames.length; i++) received.push(await peer.waitFor('media'));
    const timestamps = received.map((m) => Number(m.media.timestamp));
    expect(timestamps.map((t) => t - timestamps[0])).toEqual([0, 20, 40, 60, 80]);
    expect(received.map((m) => Buffer.from(m.media.payload, 'base64'))).toEqual(frames);
  });

  it('echoes a mark immediately when nothing is queued', async () => {
    const { caller, peer, toCaller } = await callerAndService();
    toCaller.mark('empty');
    const echo = await peer.waitFor('mark');
    expect(echo).toMatchObject({ streamSid: caller.streamSid, mark: { name: 'empty' } });
    expect(typeof echo.sequenceNumber).toBe('string');
    expect(caller.echoedMarks).toEqual([{ name: 'empty', at: expect.any(Number), flushed: false }]);
    expect(caller.playedMs()).toBe(0);
  });

  it('echoes a mark only once the audio sent before it has played', async () => {
    const { caller, peer, toCaller } = await callerAndService();
    const first = audio(800); // 100 ms
    const second = audio(400, 3); // 50 ms
    toCaller.media(first);
    toCaller.mark('m1');
    toCaller.media(second);
    toCaller.mark('m2');

    const m2 = await caller.waitForEcho('m2');
    const arrival = (await caller.waitFor('media')).at;
    const m1 = caller.echoedMarks[0];
    expect(m1.name).toBe('m1');
    expect(m1.at - arrival).toBeGreaterThanOrEqual(100);
    expect(m2.at - arrival).toBeGreaterThanOrEqual(150);
    expect(m2.at - arrival).toBeLessThan(1000);
    expect([m1.flushed, m2.flushed]).toEqual([false, false]);
    expect((await peer.waitFor('mark')).mark.name).toBe('m1');
    expect((await peer.waitFor('mark')).mark.name).toBe('m2');

    expect(caller.playedMs()).toBe(150);
    expect(caller.queuedMs()).toBe(0);
    expect(caller.playedAudio()).toEqual(Buffer.concat([first, second]));
    expect(caller.media).toEqual([first, second]);
  });

  it('clear drops queued audio, echoes pending marks as flushed, and new media resumes playback', async () => {
    const { caller, peer, toCaller } = await callerAndService();
    const reply = audio(8000); // 1 s in five 200 ms chunks, a mark after each
    for (let i = 0; i < 5; i++) {
      toCaller.media(reply.subarray(i * 1600, (i + 1) * 1600));
      toCaller.mark(`c${i + 1}`);
    }
    await caller.waitForPlayed(220);
    toCaller.clear();
    await caller.waitFor('clear');

    const heardMs = caller.playedMs();
    expect(heardMs).toBeGreaterThanOrEqual(220);
    expect(heardMs).toBeLessThan(1000);
    expect(caller.queuedMs()).toBe(0);
    expect(caller.playedAudio()).toEqual(reply.subarray(0, heardMs * 8));
    // Marks whose audio played before the clear were echoed normally, the rest as flushed.
    expect(caller.echoedMarks.map((m) => [m.name, m.flushed])).toEqual(
      [1, 2, 3, 4, 5].map((i) => [`c${i}`, i * 200 > heardMs]),
    );
    for (let i = 1; i <= 5; i++) expect((await peer.waitFor('mark')).mark.name).toBe(`c${i}`);

    const more = audio(160, 9);
    toCaller.media(more);
    toCaller.mark('after');
    const after = await caller.waitForEcho('after');
    const arrival = caller.received.filter((f) => f.event === 'media').pop().at;
    expect(after.at - arrival).toBeGreaterThanOrEqual(20);
    expect(caller.playedAudio()).toEqual(Buffer.concat([reply.subarray(0, heardMs * 8), more]));
  });

  it('derives the play position from the wall clock, so a blocked event loop does not make it lag', async () => {
    const { caller, toCaller } = await callerAndService();
    toCaller.media(audio(4000)); // 500 ms
    await caller.waitFor('media');
    const until = Date.now() + 150;
    while (Date.now() < until) {
      // Busy on purpose: no timer can fire here.
    }
    expect(caller.playedMs()).toBeGreaterThanOrEqual(150);
    expect(caller.playedMs()).toBeLessThan(500);
  });

  it('records malformed, unknown and foreign frames without throwing or playing them', async () => {
    const { caller, peer, toCaller } = await callerAndService();
    peer.send('not json');
    peer.send(Buffer.from([1, 2, 3]));
    peer.send({ event: 'hello', streamSid: caller.streamSid });
    peer.send({ event: 'media', streamSid: 'MZ-other', media: { payload: audio(80).toString('base64') } });
    peer.send({ event: 'mark', streamSid: caller.streamSid, mark: {} });
    toCaller.mark('ok');
    await caller.waitForEcho('ok');

    expect(caller.received.map((f) => f.event)).toEqual(['__invalid__', '__invalid__', 'hello', 'media', 'mark', 'mark']);
    expect(caller.received[0].raw).toBe('not json');
    expect(caller.warnings).toHaveLength(5);
    expect(caller.media).toEqual([]);
    expect(caller.echoedMarks.map((m) => m.name)).toEqual(['ok']);
  });

  it('says what it waited for and what it got when a wait fails', async () => {
    const { caller, peer, toCaller } = await callerAndService();
    toCaller.mark('x');
    await caller.waitForEcho('x');
    await expect(caller.waitFor('clear', undefined, 30)).rejects.toThrow(
      /timed out after 30 ms while waiting for server frame "clear".*Received so far: mark/,
    );
    await expect(caller.waitForPlayed(1000, 30)).rejects.toThrow(/1000 ms of agent audio.*played 0 ms, queued 0 ms/);

    peer.ws.close(1000, 'bye');
    expect(await caller.waitForClose()).toEqual({ code: 1000, reason: 'bye' });
    await expect(caller.waitFor('clear')).rejects.toThrow(/socket closed \(code 1000\)/);
  });

  it('connect rejects with the HTTP status when the upgrade is refused', async () => {
    const service = await startService(() => false);
    await expect(TwilioCaller.connect(service.url)).rejects.toThrow(/403/);
  });
});

describe.each<RealtimeShape>(['ga', 'beta'])('MockRealtimeServer (%s shape)', (shape) => {
  const names =
    shape === 'ga'
      ? { delta: 'response.output_audio.delta', done: 'response.output_audio.done', transcript: 'response.output_audio_transcript.done', item: 'conversation.item.added' }
      : { delta: 'response.audio.delta', done: 'response.audio.done', transcript: 'response.audio_transcript.done', item: 'conversation.item.created' };

  async function serverAndClient(opts: { autoSessionUpdated?: boolean } = {}) {
    const server = await MockRealtimeServer.start({ shape, ...opts });
    cleanups.push(() => server.close());
    const headers: Record<string, string> = { Authorization: 'Bearer sk-test' };
    if (shape === 'beta') headers['OpenAI-Beta'] = 'realtime=v1';
    const client = track(new Peer(new WebSocket(`${server.url}?model=gpt-realtime`, { headers }), 'type'));
    const conn = await server.nextConnection();
    await client.waitFor('session.created');
    return { server, client, conn };
  }

  it('emits server events with the shape’s names and event ids', async () => {
    const { client, conn } = await serverAndClient();
    expect(conn.headers.authorization).toBe('Bearer sk-test');
    expect(conn.headers['openai-beta']).toBe(shape === 'beta' ? 'realtime=v1' : undefined);
    expect(conn.model).toBe('gpt-realtime');

    const reply = audio(1000);
    conn.responseCreated('resp_1');
    conn.itemAdded('item_1');
    conn.sendAudio('resp_1', 'item_1', reply, 333);
    conn.audioDone('resp_1', 'item_1');
    conn.transcriptDone('resp_1', 'item_1', 'hello');
    conn.speechStarted(1200, 'item_u1');
    conn.speechStopped(1800, 'item_u1');
    conn.responseDone('resp_1', 'cancelled');
    conn.error('conversation_already_has_active_response', 'busy');
    await client.waitFor('error');

    expect(client.received.map((e) => e.type)).toEqual([
      'session.created',
      'response.created',
      names.item,
      ...Array(4).fill(names.delta),
      names.done,
      names.transcript,
      'input_audio_buffer.speech_started',
      'input_audio_buffer.speech_stopped',
      'response.done',
      'error',
    ]);
    const ids = client.received.map((e) => e.event_id);
    expect(new Set(ids).size).toBe(ids.length);
    ids.forEach((id) => expect(id).toMatch(/^event_\d+$/));

    const deltas = client.received.filter((e) => e.type === names.delta);
    deltas.forEach((d) => expect(d).toMatchObject({ response_id: 'resp_1', item_id: 'item_1', output_index: 0, content_index: 0 }));
    const decoded = deltas.map((d) => Buffer.from(d.delta, 'base64'));
    expect(decoded.map((b) => b.length)).toEqual([333, 333, 333, 1]);
    expect(Buffer.concat(decoded)).toEqual(reply);

    const byType = (t: string) => client.received.find((e) => e.type === t);
    expect(byType(names.transcript)).toMatchObject({ response_id: 'resp_1', item_id: 'item_1', transcript: 'hello' });
    expect(byType(names.item).item).toMatchObject({ id: 'item_1', role: 'assistant' });
    expect(byType('input_audio_buffer.speech_started')).toMatchObject({ audio_start_ms: 1200, item_id: 'item_u1' });
    expect(byType('input_audio_buffer.speech_stopped')).toMatchObject({ audio_end_ms: 1800, item_id: 'item_u1' });
    expect(byType('response.done').response).toMatchObject({
      id: 'resp_1',
      status: 'cancelled',
      status_details: { reason: 'turn_detected' },
      output: [],
      usage: { total_tokens: 0 },
    });
    expect(byType('error').error).toEqual({
      type: 'invalid_request_error',
      code: 'conversation_already_has_active_response',
      message: 'busy',
      param: null,
      event_id: null,
    });
  });

  it('answers session.update with session.updated echoing the session', async () => {
    const { client } = await serverAndClient();
    const session = { type: 'realtime', audio: { input: { format: { type: 'audio/pcmu' } }, output: { format: { type: 'audio/pcmu' } } } };
    client.send({ type: 'session.update', session });
    expect((await client.waitFor('session.updated')).session).toEqual(session);
  });

  it('stays silent on session.update when autoSessionUpdated is false', async () => {
    const { client, conn } = await serverAndClient({ autoSessionUpdated: false });
    client.send({ type: 'session.update', session: { type: 'realtime' } });
    await conn.waitFor('session.update');
    conn.send({ type: 'test.marker' });
    await client.waitFor('test.marker');
    expect(client.received.map((e) => e.type)).toEqual(['session.created', 'test.marker']);
  });

  it('records client events in order; waitFor returns each event once; appendedAudio concatenates', async () => {
    const { client, conn } = await serverAndClient();
    const [a, b, c] = [audio(160, 1), audio(7, 2), audio(333, 3)];
    const append = (x: Buffer) => client.send({ type: 'input_audio_buffer.append', audio: x.toString('base64') });
    append(a);
    append(b);
    client.send('garbage{');
    append(c);
    client.send({ type: 'response.create' });
    await conn.waitFor('response.create');

    expect(conn.received.map((e) => e.type)).toEqual([
      'input_audio_buffer.append',
      'input_audio_buffer.append',
      '__invalid__',
      'input_audio_buffer.append',
      'response.create',
    ]);
    expect(conn.received[2]).toEqual({ type: '__invalid__', raw: 'garbage{' });
    expect(conn.appendedAudio()).toEqual(Buffer.concat([a, b, c]));

    const cB64 = c.toString('base64');
    expect((await conn.waitFor('input_audio_buffer.append', (e) => e.audio === cB64)).audio).toBe(cB64);
    expect((await conn.waitFor('input_audio_buffer.append')).audio).toBe(a.toString('base64'));
    expect((await conn.waitFor('input_audio_buffer.append')).audio).toBe(b.toString('base64'));
    await expect(conn.waitFor('input_audio_buffer.append', undefined, 30)).rejects.toThrow(
      /timed out after 30 ms while waiting for client event "input_audio_buffer.append".*Received so far: input_audio_buffer.append ×2, __invalid__, input_audio_buffer.append, response.create/,
    );

    const commit = conn.waitFor('input_audio_buffer.commit');
    client.send({ type: 'input_audio_buffer.commit' });
    expect(await commit).toEqual({ type: 'input_audio_buffer.commit' });
  });

  it('nextConnection hands out each connection once, counting already-open ones', async () => {
    const server = await MockRealtimeServer.start({ shape });
    cleanups.push(() => server.close());
    const open = (model: string) => {
      const peer = track(new Peer(new WebSocket(`${server.url}?model=${model}`), 'type'));
      return peer.waitFor('session.created');
    };
    await open('m1');
    await open('m2');
    expect((await server.nextConnection()).model).toBe('m1');
    expect((await server.nextConnection()).model).toBe('m2');
    await expect(server.nextConnection(30)).rejects.toThrow(/connection #3.*2 connection\(s\), 2 already returned/);
  });

  it('holds only as many upgrades as asked, answering later ones at once', async () => {
    const server = await MockRealtimeServer.start({ shape });
    cleanups.push(() => server.close());
    server.holdConnections(1);
    const held = track(new Peer(new WebSocket(`${server.url}?model=held`), 'type'));
    await server.waitForHeldConnection();
    const answered = track(new Peer(new WebSocket(`${server.url}?model=answered`), 'type'));
    await answered.waitFor('session.created');
    expect(server.connections.map((c) => c.model)).toEqual(['answered']);
    server.releaseConnections();
    await held.waitFor('session.created');
    expect(server.connections.map((c) => c.model)).toEqual(['answered', 'held']);
  });

  it('refuses upgrades with HTTP 503 while not accepting connections', async () => {
    const server = await MockRealtimeServer.start({ shape, acceptConnections: false });
    cleanups.push(() => server.close());
    const ws = new WebSocket(server.url);
    ws.on('error', () => undefined); // terminate() below reports the aborted handshake as an error
    const closed = new Promise((resolve) => ws.once('close', resolve));
    const status = await withTimeout(
      new Promise<number>((resolve) => ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))),
      'unexpected-response',
    );
    ws.terminate();
    await closed;
    expect(status).toBe(503);
    await expect(TwilioCaller.connect(server.url)).rejects.toThrow(/503/);
    expect(server.connections).toHaveLength(0);

    server.acceptConnections = true;
    const caller = await TwilioCaller.connect(server.url);
    cleanups.push(() => {
      caller.terminate();
      return caller.closed;
    });
    expect((await server.nextConnection()).model).toBeNull();
  });

  it('closes, drops and shuts down connections', async () => {
    const { server, client, conn } = await serverAndClient();
    conn.close(1001, 'Your session hit the maximum duration of 60 minutes.');
    expect(await client.closed).toEqual({ code: 1001, reason: 'Your session hit the maximum duration of 60 minutes.' });
    expect(await conn.waitForClose()).toMatchObject({ code: 1001 });
    await expect(conn.waitFor('response.create')).rejects.toThrow(/connection closed \(code 1001\)/);

    const dropped = track(new Peer(new WebSocket(server.url), 'type'));
    (await server.nextConnection()).terminate();
    expect((await dropped.closed).code).toBe(1006);

    const last = track(new Peer(new WebSocket(server.url), 'type'));
    await server.nextConnection();
    await server.close();
    expect((await last.closed).code).toBe(1006);
    await expect(server.nextConnection()).rejects.toThrow(/server closed/);
  });
});
