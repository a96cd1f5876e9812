import twilio from 'twilio';
import { MockRealtimeServer } from './support/mock-realtime-server';
import { startApp, TEST_API_KEY, type TestApp } from './support/test-app';
import { startCall } from './support/calls';
import { testStreamToken, TwilioCaller } from './support/twilio-caller';

const AUTH_TOKEN = 'twilio-auth-token-0123456789';
const API_TOKEN = 'api-token-0123456789abcdef';
/** Behind a TLS-terminating proxy that strips /operator before the request reaches the service. */
const PUBLIC_BASE_URL = 'https://op.example.com/operator';
const SIGNED_VOICE_URL = `${PUBLIC_BASE_URL}/twilio/voice`;
const SIGNED_STREAM_URL = 'wss://op.example.com/operator/twilio/stream';

let sidCounter = 0;
const newCallSid = () => `CA${(++sidCounter).toString(16).padStart(32, '0')}`;
const webhookParams = (callSid: string) => ({ CallSid: callSid, From: '+15551230000', To: '+15557650000', Direction: 'inbound', CallStatus: 'ringing' });

/** POSTs the voice webhook as Twilio does; `signature`: computed with AUTH_TOKEN over the public URL by default. */
async function postVoice(
  t: TestApp,
  callSid: string,
  opts: { signature?: string | null; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: string; retryAfter: string | null }> {
  const params = webhookParams(callSid);
  const signature = opts.signature === undefined ? twilio.getExpectedTwilioSignature(AUTH_TOKEN, SIGNED_VOICE_URL, params) : opts.signature;
  const res = await fetch(`${t.httpUrl}/twilio/voice`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(signature === null ? {} : { 'x-twilio-signature': signature }), ...opts.headers },
    body: new URLSearchParams(params),
  });
  return { status: res.status, body: await res.text(), retryAfter: res.headers.get('retry-after') };
}

function streamTokenOf(twiml: string): string {
  const match = /<Parameter name="streamToken" value="([^"]+)"\/>/.exec(twiml);
  if (!match) throw new Error(`no streamToken in ${twiml}`);
  return match[1];
}

/** Opens a stream and sends connected + start; resolves with how the service closed it. */
async function refusedStart(t: TestApp, opts: { callSid?: string; streamToken?: string | null }): Promise<{ code: number; reason: string }> {
  const caller = await TwilioCaller.connect(t.streamUrl, opts);
  caller.sendConnected();
  caller.sendStart();
  return caller.waitForClose();
}

/** Webhook, then a stream with the token of its TwiML, up to the greeting request. */
async function callThroughWebhook(t: TestApp, mock: MockRealtimeServer, callSid = newCallSid()) {
  const streamToken = streamTokenOf((await postVoice(t, callSid, { signature: null })).body);
  const caller = await TwilioCaller.connect(t.streamUrl, { callSid, streamToken });
  caller.sendConnected();
  caller.sendStart();
  const rt = await mock.nextConnection();
  await rt.waitFor('response.create');
  return { caller, rt, streamToken };
}

/** The mock saw no Realtime connection for refused streams: the next call is the next connection. */
async function expectNoRealtimeConnectionSince(t: TestApp, mock: MockRealtimeServer, before: number): Promise<void> {
  const { caller, rt } = await callThroughWebhook(t, mock);
  expect(mock.connections.length).toBe(before + 1);
  caller.sendStop();
  await rt.waitForClose();
}

describe('Twilio signatures', () => {
  let mock: MockRealtimeServer;
  let t: TestApp;
  beforeAll(async () => {
    mock = await MockRealtimeServer.start();
    t = await startApp({
      OPENAI_API_KEY: TEST_API_KEY,
      OPENAI_REALTIME_URL: mock.url,
      TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      TWILIO_VALIDATE_SIGNATURE: 'true',
      PUBLIC_BASE_URL,
    });
  });
  afterAll(async () => {
    await t.close();
    await mock.close();
  });

  it('takes a webhook signed over the public URL (proxy path included) and connects the call with a stream token', async () => {
    const res = await postVoice(t, newCallSid());
    expect(res.status).toBe(200);
    expect(res.body).toContain(`<Stream url="${SIGNED_STREAM_URL}">`);
    expect(streamTokenOf(res.body)).toMatch(/^\d+\.[\w-]+\.[\w-]+$/);
  });

  it('refuses an unsigned webhook and one with a bad signature with 403, one warning each, no secret logged', async () => {
    const callSid = newCallSid();
    const forged = twilio.getExpectedTwilioSignature('another-auth-token-0123', SIGNED_VOICE_URL, webhookParams(callSid));
    const internalUrl = twilio.getExpectedTwilioSignature(AUTH_TOKEN, `${t.httpUrl}/twilio/voice`, webhookParams(callSid));
    expect((await postVoice(t, callSid, { signature: null })).status).toBe(403);
    expect((await postVoice(t, callSid, { signature: forged })).status).toBe(403);
    expect((await postVoice(t, callSid, { signature: internalUrl })).status).toBe(403);
    const warned = t.logs.all('twilio webhook refused: bad signature');
    expect(warned.map((l) => l.signature)).toEqual(['missing', 'invalid', 'invalid']);
    expect(warned.every((l) => l.level === 'warn' && l.path === '/twilio/voice')).toBe(true);
    const logged = t.logs.raw.join('\n');
    for (const secret of [AUTH_TOKEN, forged, internalUrl]) expect(logged).not.toContain(secret);
  });

  it('refuses a stream upgrade without or with a bad signature before any Realtime connection', async () => {
    const before = mock.connections.length;
    await expect(TwilioCaller.connect(t.streamUrl)).rejects.toThrow(/Unexpected server response: 403/);
    const wrongUrl = twilio.getExpectedTwilioSignature(AUTH_TOKEN, `${t.streamUrl}`, {});
    await expect(TwilioCaller.connect(t.streamUrl, { headers: { 'x-twilio-signature': wrongUrl } })).rejects.toThrow(/Unexpected server response: 403/);
    expect(t.logs.all('media stream upgrade refused: bad signature').map((l) => l.signature)).toEqual(['missing', 'invalid']);
    expect(t.logs.raw.join('\n')).not.toContain(wrongUrl);
    expect(mock.connections.length).toBe(before);
  });

  it('carries a whole call signed end to end: webhook, upgrade over the wss:// URL, start with the TwiML token', async () => {
    const callSid = newCallSid();
    const streamToken = streamTokenOf((await postVoice(t, callSid)).body);
    const caller = await TwilioCaller.connect(t.streamUrl, {
      callSid,
      streamToken,
      headers: { 'x-twilio-signature': twilio.getExpectedTwilioSignature(AUTH_TOKEN, SIGNED_STREAM_URL, {}) },
    });
    caller.sendConnected();
    caller.sendStart();
    const rt = await mock.nextConnection();
    await rt.waitFor('response.create');
    caller.sendStop();
    await rt.waitForClose();
    await t.logs.waitFor('call ended', { callSid, reason: 'twilio_stop' });
  });
});

describe('stream tokens', () => {
  let mock: MockRealtimeServer;
  let t: TestApp;
  beforeAll(async () => {
    mock = await MockRealtimeServer.start();
    t = await startApp({ OPENAI_API_KEY: TEST_API_KEY, OPENAI_REALTIME_URL: mock.url, STREAM_TOKEN_TTL_SECONDS: '60' });
  });
  afterAll(async () => {
    await t.close();
    await mock.close();
  });

  it('closes a stream whose start has no token, a forged one or an expired one, without a Realtime session', async () => {
    const before = mock.connections.length;
    expect(await refusedStart(t, { streamToken: null })).toEqual({ code: 1011, reason: 'stream_token_missing' });
    expect(await refusedStart(t, { callSid: newCallSid(), streamToken: testStreamToken(newCallSid()) })).toEqual({ code: 1011, reason: 'stream_token_forged' });
    const callSid = newCallSid();
    const expired = testStreamToken(callSid, Math.floor(Date.now() / 1000) - 1);
    expect(await refusedStart(t, { callSid, streamToken: expired })).toEqual({ code: 1011, reason: 'stream_token_expired' });
    expect(t.logs.all('media stream refused: bad stream token').map((l) => l.refusal)).toEqual([
      'stream_token_missing',
      'stream_token_forged',
      'stream_token_expired',
    ]);
    await expectNoRealtimeConnectionSince(t, mock, before);
  });

  it('takes the token of the webhook once, refuses it replayed, and refuses it after its TTL', async () => {
    const callSid = newCallSid();
    const { caller, rt, streamToken: token } = await callThroughWebhook(t, mock, callSid);
    const before = mock.connections.length;
    expect(await refusedStart(t, { callSid, streamToken: token })).toEqual({ code: 1011, reason: 'stream_token_replayed' });
    caller.sendStop();
    await rt.waitForClose();

    const late = newCallSid();
    const lateToken = streamTokenOf((await postVoice(t, late, { signature: null })).body);
    t.clock.skip(61_000);
    expect(await refusedStart(t, { callSid: late, streamToken: lateToken })).toEqual({ code: 1011, reason: 'stream_token_expired' });
    await expectNoRealtimeConnectionSince(t, mock, before);
  });
});

describe('rate limits', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({
      OPENAI_API_KEY: TEST_API_KEY,
      TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      TWILIO_VALIDATE_SIGNATURE: 'true',
      PUBLIC_BASE_URL,
      API_TOKEN,
      // The tests speak from 127.0.0.1 as a proxy would: X-Forwarded-For names the client.
      TRUST_PROXY: 'loopback',
      RATE_LIMIT_TWILIO_UNSIGNED_PER_MINUTE: '10',
      RATE_LIMIT_API_PER_MINUTE: '20',
      RATE_LIMIT_API_AUTH_FAILURES_PER_MINUTE: '3',
    });
  });
  afterAll(() => t.close());

  const from = (ip: string) => ({ 'x-forwarded-for': ip });

  it('never throttles a burst of several hundred validly signed webhooks, even from a client flooding unsigned ones', async () => {
    const client = from('198.51.100.7');
    const unsigned = [];
    for (let i = 0; i < 12; i++) unsigned.push(await postVoice(t, newCallSid(), { signature: null, headers: client }));
    expect(unsigned.slice(0, 10).map((r) => r.status)).toEqual(Array(10).fill(403));
    expect(unsigned.slice(10).map((r) => r.status)).toEqual([429, 429]);
    expect(Number(unsigned[11].retryAfter)).toBeGreaterThan(0);

    const statuses: number[] = [];
    for (let batch = 0; batch < 6; batch++) {
      const burst = await Promise.all(Array.from({ length: 50 }, () => postVoice(t, newCallSid(), { headers: client })));
      statuses.push(...burst.map((r) => r.status));
    }
    expect(statuses).toEqual(Array(300).fill(200));
    // The unsigned flood from that client is still refused.
    expect((await postVoice(t, newCallSid(), { signature: null, headers: client })).status).toBe(429);
  });

  it('counts unsigned requests per client IP', async () => {
    expect((await postVoice(t, newCallSid(), { signature: null, headers: from('198.51.100.8') })).status).toBe(403);
  });

  it('never throttles /health and /ready', async () => {
    const client = from('198.51.100.7'); // the client throttled above
    const statuses = await Promise.all(Array.from({ length: 50 }, (_, i) => fetch(`${t.httpUrl}/${i % 2 ? 'health' : 'ready'}`, { headers: client }).then((r) => r.status)));
    expect(statuses.every((s) => s === 200)).toBe(true);
  });

  it('limits the API per client IP, with Retry-After', async () => {
    const headers = { authorization: `Bearer ${API_TOKEN}`, ...from('203.0.113.5') };
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await fetch(`${t.httpUrl}/api/calls`, { headers })).status);
    expect(statuses).toEqual(Array(20).fill(200));
    const over = await fetch(`${t.httpUrl}/api/calls`, { headers });
    expect(over.status).toBe(429);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    const other = await fetch(`${t.httpUrl}/api/calls`, { headers: { authorization: `Bearer ${API_TOKEN}`, ...from('203.0.113.6') } });
    expect(other.status).toBe(200);
  });

  it('refuses a client after a few failed API authentications, even with the right token', async () => {
    const client = from('203.0.113.9');
    const wrong = { authorization: 'Bearer wrong-token-0123456789abc', ...client };
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await fetch(`${t.httpUrl}/api/calls`, { headers: wrong })).status);
    expect(statuses).toEqual([401, 401, 401]);
    const blocked = await fetch(`${t.httpUrl}/api/calls`, { headers: { authorization: `Bearer ${API_TOKEN}`, ...client } });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await fetch(`${t.httpUrl}/api/calls`, { headers: { authorization: `Bearer ${API_TOKEN}`, ...from('203.0.113.10') } })).status).toBe(200);
  });
});

describe('rate limits without TRUST_PROXY', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ TWILIO_AUTH_TOKEN: AUTH_TOKEN, TWILIO_VALIDATE_SIGNATURE: 'true', PUBLIC_BASE_URL, RATE_LIMIT_TWILIO_UNSIGNED_PER_MINUTE: '3' });
  });
  afterAll(() => t.close());

  it('counts by the connecting address, so a forged X-Forwarded-For does not escape the limit', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await postVoice(t, newCallSid(), { signature: null, headers: { 'x-forwarded-for': `192.0.2.${i}` } })).status);
    expect(statuses).toEqual([403, 403, 403, 429, 429]);
  });
});

describe('frame size cap', () => {
  let mock: MockRealtimeServer;
  let t: TestApp;
  beforeAll(async () => {
    mock = await MockRealtimeServer.start();
    t = await startApp({ OPENAI_API_KEY: TEST_API_KEY, OPENAI_REALTIME_URL: mock.url, WS_MAX_PAYLOAD_BYTES: '2048' });
  });
  afterAll(async () => {
    await t.close();
    await mock.close();
  });

  it('closes a stream that sends a message over WS_MAX_PAYLOAD_BYTES with 1009', async () => {
    const { caller, rt } = await startCall(t, mock);
    caller.sendRaw(JSON.stringify({ event: 'media', streamSid: caller.streamSid, media: { payload: 'A'.repeat(4096) } }));
    expect((await caller.waitForClose()).code).toBe(1009);
    await rt.waitForClose();
  });
});

describe('boot warnings', () => {
  it('says when signatures are turned off', async () => {
    const t = await startApp({ TWILIO_AUTH_TOKEN: AUTH_TOKEN, TWILIO_VALIDATE_SIGNATURE: 'false' });
    try {
      const line = t.logs.find('TWILIO_VALIDATE_SIGNATURE=false: Twilio webhook and media stream signatures are not checked (local development only)');
      expect(line?.level).toBe('warn');
    } finally {
      await t.close();
    }
  });

  it('says when signatures cannot be checked, and when stream tokens have a per-process secret', async () => {
    const t = await startApp({ TWILIO_VALIDATE_SIGNATURE: 'true', STREAM_TOKEN_SECRET: '' });
    try {
      expect(t.logs.find('TWILIO_AUTH_TOKEN is not set: Twilio webhook and media stream signatures cannot be checked')?.level).toBe('warn');
      const secret = t.logs.lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('STREAM_TOKEN_SECRET and TWILIO_AUTH_TOKEN are not set'));
      expect(secret?.level).toBe('warn');
    } finally {
      await t.close();
    }
  });
});
