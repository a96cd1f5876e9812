import twilio from 'twilio';
import { AttemptOutcomes, OutboundAttempts, type AttemptOutcome } from '../src/outbound/outbound-attempts';
import { OutboundRequests } from '../src/outbound/outbound-request';
import { TwilioDialer } from '../src/twilio/twilio-dialer';
import { FakeTwilioRest } from './support/fake-twilio-rest';
import { SignedTwilio } from './support/signed-twilio';
import { startApp, type TestApp } from './support/test-app';

const ACCOUNT_SID = 'AC0123456789abcdef0123456789abcdef';
const AUTH_TOKEN = 'twilio-auth-token-0123456789';
/** Behind a TLS-terminating proxy that strips /operator before the request reaches the service. */
const PUBLIC_BASE_URL = 'https://op.example.com/operator';
const TO = '+12025550111';

/** What the service told the dialer worker's port. */
class RecordingOutcomes extends AttemptOutcomes {
  readonly ended: Array<{ requestId: string; attempt: number; outcome: AttemptOutcome }> = [];
  async attemptEnded(requestId: string, attempt: number, outcome: AttemptOutcome): Promise<void> {
    this.ended.push({ requestId, attempt, outcome });
  }
}

describe('outbound call status and AMD callbacks', () => {
  let fake: FakeTwilioRest;
  let t: TestApp;
  const outcomes = new RecordingOutcomes();

  beforeAll(async () => {
    fake = await FakeTwilioRest.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
    t = await startApp(
      {
        TWILIO_ACCOUNT_SID: ACCOUNT_SID,
        TWILIO_AUTH_TOKEN: AUTH_TOKEN,
        TWILIO_API_BASE_URL: fake.baseUrl,
        TWILIO_VALIDATE_SIGNATURE: 'true',
        PUBLIC_BASE_URL,
        OUTBOUND_CALLER_ID: '+15557650000',
        OUTBOUND_DIALS_PER_SECOND: '50',
        // Unsigned requests are what one test sends on purpose; the limit is not what it tests.
        RATE_LIMIT_TWILIO_UNSIGNED_PER_MINUTE: '1000000',
      },
      [{ provide: AttemptOutcomes, useValue: outcomes }],
    );
  });

  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  /** A stored request, attempt 1 started and dialled through the fake Twilio; the callback URLs Twilio was given. */
  async function dialledAttempt(): Promise<{ requestId: string; callSid: string; statusUrl: string; amdUrl: string }> {
    const requestId = `req-${Math.random().toString(36).slice(2)}`;
    await t.app.get(OutboundRequests).create(
      { id: requestId, to: TO, purpose: 'Reminder: boiler service tomorrow', consent: { source: 'web form', obtainedAt: '2026-01-01T00:00:00.000Z' }, callbackOf: null, timezone: null, notBefore: null, metadata: {}, idempotencyKey: null },
      new Date().toISOString(),
      '2999-01-01T00:00:00.000Z',
    );
    const attempts = t.app.get(OutboundAttempts);
    await attempts.started(requestId, 1, TO, new Date().toISOString());
    const { callSid, status } = await t.app.get(TwilioDialer).dial({ to: TO, requestId, attempt: 1 });
    await attempts.dialed(requestId, 1, callSid, status);
    const create = fake.createdCalls.find((r) => r.callSid === callSid)!;
    expect(create.definitionProblems).toEqual([]);
    return { requestId, callSid, statusUrl: create.form.StatusCallback, amdUrl: create.form.AsyncAmdStatusCallback };
  }

  /** POSTs a callback as Twilio does to `url` (a public URL it was given), signed over that URL and the form unless `signed` is false. */
  const callback = async (url: string, params: Record<string, string>, signed = true): Promise<number> =>
    (await new SignedTwilio(t, AUTH_TOKEN, PUBLIC_BASE_URL).post(url, params, signed)).status;

  const progress = (callSid: string, status: string, sequence: number, extra: Record<string, string> = {}) => ({
    AccountSid: ACCOUNT_SID,
    CallSid: callSid,
    CallStatus: status,
    From: '+15557650000',
    To: TO,
    Direction: 'outbound-api',
    ApiVersion: '2010-04-01',
    CallbackSource: 'call-progress-events',
    SequenceNumber: String(sequence),
    Timestamp: 'Wed, 02 Dec 2026 15:00:0' + String(sequence) + ' +0000',
    ...extra,
  });

  const attemptOf = async (requestId: string) => (await t.app.get(OutboundRequests).get(requestId))!.attempts[0];

  it('moves the attempt through the call progress Twilio reports, forward only, and ends it', async () => {
    const { requestId, callSid, statusUrl } = await dialledAttempt();
    expect(await callback(statusUrl, progress(callSid, 'initiated', 0))).toBe(204);
    expect(await callback(statusUrl, progress(callSid, 'ringing', 1))).toBe(204);
    expect(await attemptOf(requestId)).toMatchObject({ callSid, status: 'ringing', endedAt: null });
    expect(await callback(statusUrl, progress(callSid, 'in-progress', 2))).toBe(204);
    expect(await callback(statusUrl, progress(callSid, 'completed', 3, { CallDuration: '42' }))).toBe(204);
    // A late ringing changes nothing.
    expect(await callback(statusUrl, progress(callSid, 'ringing', 1))).toBe(204);

    expect(await attemptOf(requestId)).toMatchObject({
      callSid,
      status: 'completed',
      endedAt: '2026-12-02T15:00:03.000Z',
      detail: expect.objectContaining({ sequence: 3, durationSeconds: 42, outcome: 'completed' }),
    });
    expect(outcomes.ended.filter((e) => e.requestId === requestId)).toEqual([{ requestId, attempt: 1, outcome: 'completed' }]);
  });

  it('leaves the voicemail message on a machine at the end of its greeting: Twilio says it and hangs up; the outcome is voicemail', async () => {
    const { requestId, callSid, statusUrl, amdUrl } = await dialledAttempt();
    await callback(statusUrl, progress(callSid, 'in-progress', 2));
    expect(await callback(amdUrl, { AccountSid: ACCOUNT_SID, CallSid: callSid, AnsweredBy: 'machine_end_beep', MachineDetectionDuration: '4120' })).toBe(204);
    const update = await fake.waitForRequest((r) => r.callSid === callSid && r.method === 'POST' && r.definitionProblems === null);
    expect(update.authorized).toBe(true);
    expect(update.form.Twiml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?><Response><Say>Hello, this is the automated assistant of .+, sorry we missed you\. Please call us back at 5 5 5, 7 6 5, 0 0 0 0\. .*not call again\. Goodbye\.<\/Say><Hangup\/><\/Response>$/);
    expect(await attemptOf(requestId)).toMatchObject({ answeredBy: 'machine_end_beep', status: 'in-progress', detail: expect.objectContaining({ machineAction: 'message' }) });
    // A repeated AMD callback does not say it twice.
    expect(await callback(amdUrl, { AccountSid: ACCOUNT_SID, CallSid: callSid, AnsweredBy: 'machine_end_beep' })).toBe(204);
    await callback(statusUrl, progress(callSid, 'completed', 3));
    expect(fake.requests.filter((r) => r.callSid === callSid && r.definitionProblems === null)).toHaveLength(1);
    expect(outcomes.ended.filter((e) => e.requestId === requestId)).toEqual([{ requestId, attempt: 1, outcome: 'voicemail' }]);
  });

  it('hangs up on a fax, and the outcome is fax', async () => {
    const { requestId, callSid, statusUrl, amdUrl } = await dialledAttempt();
    await callback(statusUrl, progress(callSid, 'in-progress', 2));
    expect(await callback(amdUrl, { AccountSid: ACCOUNT_SID, CallSid: callSid, AnsweredBy: 'fax' })).toBe(204);
    expect((await fake.waitForRequest((r) => r.callSid === callSid && r.definitionProblems === null)).form).toEqual({ Status: 'completed' });
    await callback(statusUrl, progress(callSid, 'completed', 3));
    expect(outcomes.ended.filter((e) => e.requestId === requestId)).toEqual([{ requestId, attempt: 1, outcome: 'fax' }]);
  });

  it('leaves a call a human answered with the agent', async () => {
    const { requestId, callSid, statusUrl, amdUrl } = await dialledAttempt();
    await callback(statusUrl, progress(callSid, 'in-progress', 2));
    expect(await callback(amdUrl, { AccountSid: ACCOUNT_SID, CallSid: callSid, AnsweredBy: 'human' })).toBe(204);
    await callback(statusUrl, progress(callSid, 'completed', 3, { CallDuration: '95' }));
    expect(fake.requests.filter((r) => r.callSid === callSid && r.definitionProblems === null)).toEqual([]);
    expect(await attemptOf(requestId)).toMatchObject({ answeredBy: 'human', detail: expect.not.objectContaining({ machineAction: expect.anything() }) });
    expect(outcomes.ended.filter((e) => e.requestId === requestId)).toEqual([{ requestId, attempt: 1, outcome: 'completed' }]);
  });

  it('records a message Twilio refused (the machine had hung up) and makes the outcome machine, to be retried', async () => {
    const { requestId, callSid, statusUrl, amdUrl } = await dialledAttempt();
    await callback(statusUrl, progress(callSid, 'in-progress', 2));
    fake.failNext(400, 21220, 'Call is not in-progress. Cannot redirect.');
    expect(await callback(amdUrl, { AccountSid: ACCOUNT_SID, CallSid: callSid, AnsweredBy: 'machine_end_silence' })).toBe(204);
    expect(await attemptOf(requestId)).toMatchObject({
      detail: expect.objectContaining({ machineAction: 'message', machineActionError: expect.stringContaining('Call is not in-progress') }),
    });
    await callback(statusUrl, progress(callSid, 'completed', 3));
    expect(outcomes.ended.filter((e) => e.requestId === requestId)).toEqual([{ requestId, attempt: 1, outcome: 'machine' }]);
  });

  it('ends an unanswered attempt as no-answer', async () => {
    const { requestId, callSid, statusUrl } = await dialledAttempt();
    await callback(statusUrl, progress(callSid, 'ringing', 1));
    await callback(statusUrl, progress(callSid, 'no-answer', 2));
    expect(await attemptOf(requestId)).toMatchObject({ status: 'no-answer', endedAt: '2026-12-02T15:00:02.000Z' });
    expect(outcomes.ended.filter((e) => e.requestId === requestId)).toEqual([{ requestId, attempt: 1, outcome: 'no-answer' }]);
  });

  it('refuses an unsigned or wrongly signed callback (403) and leaves the attempt alone', async () => {
    const { requestId, callSid, statusUrl, amdUrl } = await dialledAttempt();
    expect(await callback(statusUrl, progress(callSid, 'completed', 3), false)).toBe(403);
    expect(await callback(amdUrl, { CallSid: callSid, AnsweredBy: 'fax' }, false)).toBe(403);
    // Signed for another attempt's URL: the query is part of what Twilio signs.
    const otherUrl = statusUrl.replace(`outboundRequest=${requestId}`, 'outboundRequest=someone-else');
    const params = progress(callSid, 'completed', 3);
    const res = await fetch(`${t.httpUrl}${statusUrl.slice(PUBLIC_BASE_URL.length)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilio.getExpectedTwilioSignature(AUTH_TOKEN, otherUrl, params) },
      body: new URLSearchParams(params),
    });
    expect(res.status).toBe(403);
    expect(await attemptOf(requestId)).toMatchObject({ status: 'queued', answeredBy: null });
  });

  it.each([
    ['no CallSid', { CallStatus: 'ringing' }],
    ['a malformed CallSid', { CallSid: 'CA123', CallStatus: 'ringing' }],
    ['an unknown CallStatus', { CallSid: 'CA' + 'a'.repeat(32), CallStatus: 'answered-ish' }],
    ['a SequenceNumber that is no number', { CallSid: 'CA' + 'a'.repeat(32), CallStatus: 'ringing', SequenceNumber: 'x' }],
    ['a Timestamp that is no date', { CallSid: 'CA' + 'a'.repeat(32), CallStatus: 'ringing', Timestamp: 'yesterday-ish' }],
  ])('answers a signed status callback with %s 400', async (_name, params) => {
    expect(await callback(`${PUBLIC_BASE_URL}/twilio/status`, params)).toBe(400);
  });

  it('answers a signed AMD callback with an unknown AnsweredBy 400, and one for a call it did not place 204', async () => {
    expect(await callback(`${PUBLIC_BASE_URL}/twilio/amd`, { CallSid: 'CA' + 'b'.repeat(32), AnsweredBy: 'robot' })).toBe(400);
    expect(await callback(`${PUBLIC_BASE_URL}/twilio/amd`, { CallSid: 'CA' + 'b'.repeat(32), AnsweredBy: 'human' })).toBe(204);
    expect(t.logs.find('AMD callback for a call no outbound attempt has: ignored')).toBeDefined();
  });
});
