import { AppConfig } from '../src/config/app-config';
import { OutboundReconciler } from '../src/outbound/outbound-reconciler';
import { OutboundRequests, type OutboundRequest } from '../src/outbound/outbound-request';
import { FakeTwilioRest } from './support/fake-twilio-rest';
import { startApp, type TestApp } from './support/test-app';

const ACCOUNT_SID = 'AC' + 'e'.repeat(32);
const AUTH_TOKEN = 'twilio-auth-token-reconcile-0123';
const API_TOKEN = 'test-api-token-0123456789';
const auth = { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' };
const CONSENT = { source: 'job sheet', obtainedAt: '2026-11-20T12:00:00Z' };

/** A time zone where it is now mid-day (11:00-16:59), so that the calling window is open whenever the test runs. */
function middayZone(): string {
  const hour = (zone: string) => Number(new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', hourCycle: 'h23' }).format(new Date()));
  const zone = Intl.supportedValuesOf('timeZone').find((z) => hour(z) >= 11 && hour(z) < 17);
  if (!zone) throw new Error('no zone at mid-day');
  return zone;
}

describe('outbound calls whose final status callback never arrives', () => {
  let rest: FakeTwilioRest;
  let t: TestApp;
  let overdueAfterMs: number;
  const zone = middayZone();

  beforeAll(async () => {
    rest = await FakeTwilioRest.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
    t = await startApp({
      API_TOKEN,
      TWILIO_ACCOUNT_SID: ACCOUNT_SID,
      TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      TWILIO_API_BASE_URL: rest.baseUrl,
      PUBLIC_BASE_URL: 'https://calls.example.com',
      OUTBOUND_CALLER_ID: '+15557650000',
      OUTBOUND_DIALS_PER_SECOND: '50',
      OUTBOUND_RING_SECONDS: '20',
      OUTBOUND_MAX_CALL_MINUTES: '5',
      CALLING_STATE_RULES: 'false',
    });
    overdueAfterMs = t.app.get(AppConfig).outbound.overdueAfterMs;
  });

  afterAll(async () => {
    await t?.close();
    await rest?.close();
  });

  const stored = (id: string) => t.app.get(OutboundRequests).get(id) as Promise<OutboundRequest>;

  /** A request made through the API and dialled by the service; its id and its call's SID. */
  async function dialled(to: string): Promise<{ id: string; callSid: string }> {
    const res = await fetch(`${t.httpUrl}/api/outbound-calls`, { method: 'POST', headers: auth, body: JSON.stringify({ to, purpose: 'your boiler service tomorrow', consent: CONSENT, timezone: zone }) });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as OutboundRequest;
    await t.logs.waitFor('outbound call placed', { outboundRequest: id });
    const request = await stored(id);
    expect(request).toMatchObject({ status: 'dialing', attempts: [{ attempt: 1, status: 'queued', callSid: expect.stringMatching(/^CA/) }] });
    // Twilio was told to end the call by the longest a call may last.
    expect(rest.createdCalls.find((c) => c.form.To === to)?.form.TimeLimit).toBe('300');
    return { id, callSid: request.attempts[0].callSid! };
  }

  it('bounds the wait by ringing, the longest call and a margin', () => {
    expect(overdueAfterMs).toBe((20 + 5 + 300) * 1000 + 10 * 60_000);
  });

  it('asks Twilio once the attempts are overdue: retries the unanswered, completes the answered, leaves the one still in progress', async () => {
    // Dialled before any time is skipped: a request made later would be due at the skipped time.
    const unanswered = await dialled('+12025550191');
    const answered = await dialled('+12025550192');
    const talking = await dialled('+12025550193');
    // The calls go on at Twilio; their status callbacks never reach the service.
    rest.setCallStatus(unanswered.callSid, 'no-answer');
    rest.setCallStatus(answered.callSid, 'completed', { durationSeconds: 184 });
    rest.setCallStatus(talking.callSid, 'in-progress');
    const reconciler = t.app.get(OutboundReconciler);

    // Not overdue yet: Twilio is not asked, the requests wait.
    t.clock.skip(overdueAfterMs - 60_000);
    expect(await reconciler.reconcile()).toEqual([]);
    expect(rest.fetchedCalls).toHaveLength(0);
    expect(await stored(unanswered.id)).toMatchObject({ status: 'dialing' });

    t.clock.skip(60_000 + 1_000);
    expect(await reconciler.reconcile()).toEqual([
      { requestId: unanswered.id, attempt: 1, result: 'ended' },
      { requestId: answered.id, attempt: 1, result: 'ended' },
      { requestId: talking.id, attempt: 1, result: 'live' },
    ]);
    expect(rest.fetchedCalls.map((r) => r.callSid)).toEqual([unanswered.callSid, answered.callSid, talking.callSid]);

    const retried = await stored(unanswered.id);
    expect(retried).toMatchObject({ status: 'queued', statusReason: 'no-answer', attempts: [{ attempt: 1, status: 'no-answer', endedAt: expect.any(String) }] });
    expect(Date.parse(retried.nextAttemptAt!)).toBeGreaterThan(t.clock.epochMs());
    // Not dialled again now: the retry waits for its slot.
    expect(rest.createdCalls.filter((c) => c.form.To === '+12025550191')).toHaveLength(1);

    expect(await stored(answered.id)).toMatchObject({
      status: 'completed',
      statusReason: 'answered',
      attempts: [{ status: 'completed', detail: expect.objectContaining({ durationSeconds: 184, outcome: 'completed' }) }],
    });
    expect(await stored(talking.id)).toMatchObject({ status: 'dialing', attempts: [{ status: 'queued', endedAt: null }] });
    expect(t.logs.find('outbound call status', { callSid: unanswered.callSid, status: 'no-answer', source: 'lookup', applied: true })).toBeDefined();

    // The final callback, if it comes after all, changes nothing.
    const res = await fetch(`${t.httpUrl}/twilio/status?outboundRequest=${answered.id}&attempt=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ AccountSid: ACCOUNT_SID, CallSid: answered.callSid, CallStatus: 'completed', SequenceNumber: '3', CallDuration: '184' }),
    });
    expect(res.status).toBe(204);
    expect(t.logs.find('outbound call status', { callSid: answered.callSid, source: 'callback', applied: false })).toBeDefined();
    expect(t.logs.all('outbound attempt ended').filter((l) => l.callSid === answered.callSid)).toHaveLength(1);
    expect(await stored(answered.id)).toMatchObject({ status: 'completed', statusReason: 'answered' });

    // The call still in progress ends later, its callback lost too: the next pass after a period finds it.
    rest.setCallStatus(talking.callSid, 'completed');
    t.clock.skip(60_000);
    expect(await reconciler.reconcile()).toEqual([{ requestId: talking.id, attempt: 1, result: 'ended' }]);
    expect(await stored(talking.id)).toMatchObject({ status: 'completed', statusReason: 'answered' });
  });
});
