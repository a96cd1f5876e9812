import { CallRegistry } from '../src/call/call-registry';
import { MockRealtimeServer } from './support/mock-realtime-server';
import { startApp, TEST_API_KEY, type TestApp } from './support/test-app';
import { TwilioCaller } from './support/twilio-caller';

const CALL_SID = 'CA0123456789abcdef0123456789abcdef';
const webhookBody = new URLSearchParams({ CallSid: CALL_SID, From: '+15551230000', To: '+15557650000', Direction: 'inbound', CallStatus: 'ringing' });

async function postVoice(t: TestApp, headers: Record<string, string> = {}): Promise<{ status: number; type: string | null; body: string }> {
  const res = await fetch(`${t.httpUrl}/twilio/voice`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: webhookBody,
  });
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
}

describe('without an OpenAI key', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ OPERATOR_COMPANY_NAME: 'Acme Plumbing' });
  });
  afterAll(() => t.close());

  it('is alive, with version and uptime', async () => {
    const res = await fetch(`${t.httpUrl}/health`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: string; info: { app: { version: string; uptimeSeconds: number } } };
    expect(body.status).toBe('ok');
    expect(body.info.app.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(typeof body.info.app.uptimeSeconds).toBe('number');
  });

  it('is not ready, and says why', async () => {
    const res = await fetch(`${t.httpUrl}/ready`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: { realtime: { status: 'down', message: 'OPENAI_API_KEY is not set' } } });
  });

  it('answers the voice webhook with the fallback instead of a dead line', async () => {
    const res = await postVoice(t);
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^text\/xml/);
    expect(res.body).not.toContain('<Connect>');
    expect(res.body).toContain("<Say>Sorry, Acme Plumbing can't take your call right now.");
    expect(res.body).toContain('<Hangup/>');
    await t.logs.waitFor('call not taken by the agent: answering with the fallback', { callSid: CALL_SID, refusal: 'missing_api_key' });
  });

  it('refuses the media stream with 1013 and a reason, logged', async () => {
    const caller = await TwilioCaller.connect(t.streamUrl);
    expect(await caller.waitForClose()).toEqual({ code: 1013, reason: 'missing_api_key' });
    await t.logs.waitFor('media stream refused', { refusal: 'missing_api_key' });
  });
});

describe('with an OpenAI key', () => {
  let t: TestApp;
  let mock: MockRealtimeServer;
  beforeAll(async () => {
    mock = await MockRealtimeServer.start();
    t = await startApp({
      OPENAI_API_KEY: TEST_API_KEY,
      OPENAI_REALTIME_URL: mock.url,
      MAX_CONCURRENT_CALLS: '1',
      FALLBACK_PHONE_NUMBER: '+15550001111',
    });
  });
  afterAll(async () => {
    await t.close();
    await mock.close();
  });

  it('connects the call to the media stream at the forwarded host, with the call parameters', async () => {
    const res = await postVoice(t, { 'x-forwarded-host': 'operator.example.com' });
    expect(res.body).toMatch(
      new RegExp(
        '^<\\?xml version="1.0" encoding="UTF-8"\\?><Response><Connect><Stream url="wss://operator.example.com/twilio/stream">' +
          `<Parameter name="callSid" value="${CALL_SID}"/><Parameter name="from" value="\\+15551230000"/>` +
          '<Parameter name="to" value="\\+15557650000"/><Parameter name="direction" value="inbound"/>' +
          '<Parameter name="streamToken" value="\\d+\\.[\\w-]+\\.[\\w-]+"/>' +
          '</Stream></Connect><Dial>\\+15550001111</Dial></Response>$',
      ),
    );
  });

  it('answers GET too, reading the query', async () => {
    const res = await fetch(`${t.httpUrl}/twilio/voice?${webhookBody.toString()}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain(`<Parameter name="callSid" value="${CALL_SID}"/>`);
  });

  it('is ready with the active call count, and turns calls over capacity to the fallback', async () => {
    const ready = await fetch(`${t.httpUrl}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ info: { calls: { status: 'up', activeCalls: 0 } } });

    const caller = await TwilioCaller.connect(t.streamUrl, { customParameters: { from: '+15551230000' } });
    caller.sendConnected();
    caller.sendStart();
    const rt = await mock.nextConnection();
    await rt.waitFor('response.create');
    expect(await (await fetch(`${t.httpUrl}/ready`)).json()).toMatchObject({ info: { calls: { activeCalls: 1 } } });

    const full = await postVoice(t);
    expect(full.body).toBe('<?xml version="1.0" encoding="UTF-8"?><Response><Dial>+15550001111</Dial></Response>');
    const second = await TwilioCaller.connect(t.streamUrl);
    expect(await second.waitForClose()).toEqual({ code: 1013, reason: 'at_capacity' });

    caller.sendStop();
    await rt.waitForClose();
    await t.logs.waitFor('call ended', { callSid: caller.callSid });
    expect(t.app.get(CallRegistry).activeCalls).toBe(0);
  });

  it('turns not ready and sends new calls to the fallback while draining', async () => {
    t.app.get(CallRegistry).startDraining();
    const res = await fetch(`${t.httpUrl}/ready`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: { calls: { status: 'down', message: 'draining' } } });
    expect((await postVoice(t)).body).toContain('<Dial>+15550001111</Dial>');
    expect((await postVoice(t)).body).not.toContain('<Connect>');
    expect((await fetch(`${t.httpUrl}/health`)).status).toBe(200);
  });
});
