import { ManualClock } from '../common/clock';
import { ManualScheduler } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import { AppLogger } from '../logging/app-logger';
import { FakeTwilioRest } from '../../test/support/fake-twilio-rest';
import { LogCapture } from '../../test/support/log-capture';
import { TwilioDialError, TwilioDialer, TwilioLookupError } from './twilio-dialer';

const ACCOUNT_SID = 'AC0123456789abcdef0123456789abcdef';
const AUTH_TOKEN = 'fake-auth-token-0123456789';
const CALLER_ID = '+15557650000';
const PUBLIC_BASE_URL = 'https://op.example.com/operator';
const REQUEST_ID = '6f1c2b1e-7d0a-4c55-9a57-2b1f3f7f0c11';

describe('TwilioDialer', () => {
  let fake: FakeTwilioRest;
  let logs: LogCapture;
  let clock: ManualClock;
  let scheduler: ManualScheduler;

  const dialer = (env: Record<string, string> = {}) => {
    const config = new AppConfig(
      validateEnvironment({
        TWILIO_API_BASE_URL: env.TWILIO_API_BASE_URL ?? fake.baseUrl,
        TWILIO_ACCOUNT_SID: ACCOUNT_SID,
        TWILIO_AUTH_TOKEN: AUTH_TOKEN,
        PUBLIC_BASE_URL,
        OUTBOUND_CALLER_ID: CALLER_ID,
        ...env,
      }),
    );
    return new TwilioDialer(config, clock, scheduler, new AppLogger(config, logs));
  };

  beforeEach(async () => {
    fake = await FakeTwilioRest.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
    logs = new LogCapture();
    clock = new ManualClock();
    scheduler = new ManualScheduler(clock);
  });

  afterEach(async () => {
    await fake.close();
  });

  it('creates the call with the webhooks, asynchronous AMD, the ring timeout and the time limit, as Twilio defines the request', async () => {
    const result = await dialer({ OUTBOUND_RING_SECONDS: '25', OUTBOUND_MAX_CALL_MINUTES: '30' }).dial({ to: '+15551230000', requestId: REQUEST_ID, attempt: 2 });

    expect(fake.createdCalls).toHaveLength(1);
    const [request] = fake.createdCalls;
    expect(result).toEqual({ callSid: request.callSid, status: 'queued' });
    expect(result.callSid).toMatch(/^CA[0-9a-f]{32}$/);
    expect(request.path).toBe(`/2010-04-01/Accounts/${ACCOUNT_SID}/Calls.json`);
    expect(request.authorized).toBe(true);
    const query = `outboundRequest=${REQUEST_ID}&attempt=2`;
    expect(request.formPairs).toEqual(
      expect.arrayContaining([
        ['To', '+15551230000'],
        ['From', CALLER_ID],
        ['Url', `${PUBLIC_BASE_URL}/twilio/voice?${query}`],
        ['Method', 'POST'],
        ['StatusCallback', `${PUBLIC_BASE_URL}/twilio/status?${query}`],
        ['StatusCallbackMethod', 'POST'],
        ['StatusCallbackEvent', 'initiated'],
        ['StatusCallbackEvent', 'ringing'],
        ['StatusCallbackEvent', 'answered'],
        ['StatusCallbackEvent', 'completed'],
        ['MachineDetection', 'DetectMessageEnd'],
        ['AsyncAmd', 'true'],
        ['AsyncAmdStatusCallback', `${PUBLIC_BASE_URL}/twilio/amd?${query}`],
        ['AsyncAmdStatusCallbackMethod', 'POST'],
        ['Timeout', '25'],
        ['TimeLimit', '1800'],
      ]),
    );
    expect(request.formPairs).toHaveLength(16);
    // Every parameter is one Twilio's OpenAPI definition of CreateCall has, with a value it allows.
    expect(request.definitionProblems).toEqual([]);
    expect(logs.find('dialled', { requestId: REQUEST_ID, attempt: 2, callSid: result.callSid, status: 'queued' })).toBeDefined();
  });

  it('dials from the caller ID given, else OUTBOUND_CALLER_ID, and encodes the request id into the URLs', async () => {
    await dialer().dial({ to: '+15551230000', from: '+15550009999', requestId: 'a b&c', attempt: 1 });
    const [request] = fake.createdCalls;
    expect(request.form.From).toBe('+15550009999');
    expect(new URL(request.form.Url).searchParams.get('outboundRequest')).toBe('a b&c');
    expect(request.definitionProblems).toEqual([]);
  });

  it('spaces dials at OUTBOUND_DIALS_PER_SECOND, in the order asked', async () => {
    const d = dialer({ OUTBOUND_DIALS_PER_SECOND: '2' });
    const dials = ['+15550000001', '+15550000002', '+15550000003'].map((to, i) => d.dial({ to, requestId: `r${i}`, attempt: 1 }));
    await fake.waitForRequest();
    expect(fake.createdCalls.map((r) => r.form.To)).toEqual(['+15550000001']);
    // Due tasks run inside advance(): at 499 ms the second dial is still waiting its turn.
    const waiting = scheduler.pending;
    expect(waiting).toBeGreaterThan(0);
    scheduler.advance(499);
    expect(scheduler.pending).toBe(waiting);
    expect(fake.createdCalls).toHaveLength(1);
    scheduler.advance(1);
    await fake.waitForRequest((r) => r.form.To === '+15550000002');
    scheduler.advance(500);
    await Promise.all(dials);
    expect(fake.createdCalls.map((r) => r.form.To)).toEqual(['+15550000001', '+15550000002', '+15550000003']);
  });

  it("surfaces Twilio's refusal as a TwilioDialError with its status and code, logging no credentials", async () => {
    fake.failNext(400, 21215, 'Geographic permission settings do not allow this call');
    const dial = dialer().dial({ to: '+15551230000', requestId: REQUEST_ID, attempt: 1 });
    await expect(dial).rejects.toThrow(TwilioDialError);
    await expect(dial).rejects.toMatchObject({
      reason: 'rejected',
      status: 400,
      code: 21215,
      message: expect.stringContaining('HTTP 400 (code 21215): Geographic permission settings do not allow this call'),
    });
    expect(logs.find('dial failed', { requestId: REQUEST_ID, status: 400, code: 21215 })).toBeDefined();
    const logged = logs.raw.join('\n');
    expect(logged).not.toContain(AUTH_TOKEN);
    expect(logged).not.toContain(Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64'));
  });

  it('reports a wrong auth token as 401, and an unreachable API as unreachable', async () => {
    await expect(dialer({ TWILIO_AUTH_TOKEN: 'wrong-auth-token-0123456789' }).dial({ to: '+15551230000', requestId: REQUEST_ID, attempt: 1 })).rejects.toMatchObject({
      reason: 'rejected',
      status: 401,
      code: 20003,
    });
    const base = fake.baseUrl;
    await fake.close();
    const unreachable = dialer({ TWILIO_API_BASE_URL: base }).dial({ to: '+15551230000', requestId: REQUEST_ID, attempt: 1 });
    await expect(unreachable).rejects.toMatchObject({ reason: 'unreachable', status: undefined });
    fake = await FakeTwilioRest.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
  });

  it.each([
    ['OUTBOUND_CALLER_ID', { OUTBOUND_CALLER_ID: '' }, /OUTBOUND_CALLER_ID/],
    ['PUBLIC_BASE_URL', { PUBLIC_BASE_URL: '' }, /PUBLIC_BASE_URL/],
    ['the Twilio credentials', { TWILIO_AUTH_TOKEN: '' }, /TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN/],
  ])('refuses to dial without %s, sending nothing', async (_name, env, message) => {
    const d = dialer(env);
    expect(d.unavailableReason).toMatch(message);
    await expect(d.dial({ to: '+15551230000', requestId: REQUEST_ID, attempt: 1 })).rejects.toMatchObject({ reason: 'not_configured', message: expect.stringMatching(message) });
    expect(fake.requests).toHaveLength(0);
  });

  it("reads a call back from Twilio: its status, and once it has ended when, how long, and what answered", async () => {
    const d = dialer();
    const { callSid } = await d.dial({ to: '+15551230000', requestId: REQUEST_ID, attempt: 1 });
    expect(await d.fetchCall(callSid)).toEqual({ callSid, status: 'queued', endedAt: null, durationSeconds: null, answeredBy: null });
    fake.setCallStatus(callSid, 'in-progress');
    expect(await d.fetchCall(callSid)).toMatchObject({ status: 'in-progress', endedAt: null });
    fake.setCallStatus(callSid, 'completed', { durationSeconds: 93, answeredBy: 'human' });
    const ended = await d.fetchCall(callSid);
    expect(ended).toMatchObject({ callSid, status: 'completed', durationSeconds: 93, answeredBy: 'human' });
    // RFC 2822 dates carry whole seconds; the fake ended the call just now.
    expect(Math.abs(Date.parse(ended!.endedAt!) - Date.now())).toBeLessThan(5_000);
    const [fetch] = fake.fetchedCalls;
    expect(fetch).toMatchObject({ method: 'GET', path: `/2010-04-01/Accounts/${ACCOUNT_SID}/Calls/${callSid}.json`, authorized: true });
  });

  it('answers null for a call Twilio does not have (404), and TwilioLookupError for an error or no answer', async () => {
    const d = dialer();
    expect(await d.fetchCall('CA' + 'e'.repeat(32))).toBeNull();
    const callSid = fake.addCall();
    fake.failNext(503, 20503, 'Service unavailable');
    const failed = d.fetchCall(callSid);
    await expect(failed).rejects.toThrow(TwilioLookupError);
    await expect(failed).rejects.toMatchObject({ reason: 'rejected', status: 503, code: 20503 });
    const base = fake.baseUrl;
    await fake.close();
    await expect(dialer({ TWILIO_API_BASE_URL: base }).fetchCall(callSid)).rejects.toMatchObject({ reason: 'unreachable', status: undefined });
    fake = await FakeTwilioRest.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
    await expect(dialer({ TWILIO_AUTH_TOKEN: '' }).fetchCall(callSid)).rejects.toMatchObject({ reason: 'not_configured' });
  });

  it('can dial with everything configured', () => {
    expect(dialer().unavailableReason).toBeNull();
  });
});
