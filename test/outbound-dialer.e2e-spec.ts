import { DIAL_QUEUE, OutboundDialer } from '../src/outbound/outbound-dialer';
import { OutboundRequests, type OutboundRequest } from '../src/outbound/outbound-request';
import { FakeTwilioRest } from './support/fake-twilio-rest';
import { startApp, type TestApp } from './support/test-app';

const ACCOUNT_SID = 'AC' + 'f'.repeat(32);
const AUTH_TOKEN = 'twilio-auth-token-dialer-0123';
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

describe('the outbound dialer', () => {
  let rest: FakeTwilioRest;
  let t: TestApp;
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
      // The request's zone decides the window here; the number's state would narrow it further.
      CALLING_STATE_RULES: 'false',
    });
  });

  afterAll(async () => {
    await t?.close();
    await rest?.close();
  });

  async function requested(to: string): Promise<OutboundRequest> {
    const res = await fetch(`${t.httpUrl}/api/outbound-calls`, { method: 'POST', headers: auth, body: JSON.stringify({ to, purpose: 'your boiler service tomorrow', consent: CONSENT, timezone: zone }) });
    expect(res.status).toBe(201);
    return (await res.json()) as OutboundRequest;
  }

  /** The request as stored (a status callback is answered once it has been applied).*/
  const stored = (id: string) => t.app.get(OutboundRequests).get(id) as Promise<OutboundRequest>;

  async function statusCallback(request: OutboundRequest, callSid: string, status: string): Promise<void> {
    const res = await fetch(`${t.httpUrl}/twilio/status?outboundRequest=${request.id}&attempt=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ AccountSid: ACCOUNT_SID, CallSid: callSid, CallStatus: status, SequenceNumber: '3', CallDuration: '0' }),
    });
    expect(res.status).toBe(204);
  }

  it('dials a request as soon as it is made, within the window, through Twilio with the request and attempt named', async () => {
    const request = await requested('+12025550181');
    const create = await rest.waitForRequest((r) => r.form.To === '+12025550181');
    expect(create.definitionProblems ?? []).toEqual([]);
    expect(create.form).toMatchObject({ From: '+15557650000', MachineDetection: 'DetectMessageEnd', AsyncAmd: 'true' });
    expect(create.form.Url).toContain(`outboundRequest=${request.id}`);
    // Logged once the attempt has its call.
    await t.logs.waitFor('outbound call placed', { outboundRequest: request.id });
    const dialled = await stored(request.id);
    expect(dialled).toMatchObject({ status: 'dialing', attempts: [{ attempt: 1, callSid: expect.stringMatching(/^CA/) }] });

    await statusCallback(request, dialled.attempts[0].callSid!, 'completed');
    expect(await stored(request.id)).toMatchObject({ status: 'completed', statusReason: 'answered' });
  });

  it('retries an unanswered call at the next retry slot inside the window, and does not dial it before then', async () => {
    const request = await requested('+12025550182');
    await t.logs.waitFor('outbound call placed', { outboundRequest: request.id });
    const callSid = (await stored(request.id)).attempts[0].callSid!;
    await statusCallback(request, callSid, 'no-answer');
    const after = await stored(request.id);
    expect(after).toMatchObject({ status: 'queued', statusReason: 'no-answer' });
    const next = Date.parse(after.nextAttemptAt!);
    expect(next).toBeGreaterThan(Date.now());
    // A retry slot (10:00, 14:00 or 18:00) in the callee's zone.
    const local = new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(next));
    expect(['10:00', '14:00', '18:00']).toContain(local);
    expect(rest.createdCalls.filter((c) => c.form.To === '+12025550182')).toHaveLength(1);
  });

  async function amdCallback(request: OutboundRequest, callSid: string, answeredBy: string): Promise<void> {
    const res = await fetch(`${t.httpUrl}/twilio/amd?outboundRequest=${request.id}&attempt=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ AccountSid: ACCOUNT_SID, CallSid: callSid, AnsweredBy: answeredBy, MachineDetectionDuration: '5200' }),
    });
    expect(res.status).toBe(204);
  }

  it('completes a request once the voicemail message is left, and ends one a fax answered', async () => {
    const voicemail = await requested('+12025550185');
    await t.logs.waitFor('outbound call placed', { outboundRequest: voicemail.id });
    const callSid = (await stored(voicemail.id)).attempts[0].callSid!;
    await amdCallback(voicemail, callSid, 'machine_end_beep');
    expect((await rest.waitForRequest((r) => r.callSid === callSid && r.definitionProblems === null)).form.Twiml).toContain('<Say>');
    await statusCallback(voicemail, callSid, 'completed');
    expect(await stored(voicemail.id)).toMatchObject({
      status: 'completed',
      statusReason: 'voicemail message left',
      nextAttemptAt: null,
      attempts: [{ answeredBy: 'machine_end_beep', detail: expect.objectContaining({ outcome: 'voicemail', machineAction: 'message' }) }],
    });

    const fax = await requested('+12025550186');
    await t.logs.waitFor('outbound call placed', { outboundRequest: fax.id });
    const faxSid = (await stored(fax.id)).attempts[0].callSid!;
    await amdCallback(fax, faxSid, 'fax');
    await statusCallback(fax, faxSid, 'completed');
    expect(await stored(fax.id)).toMatchObject({ status: 'exhausted', statusReason: 'a fax machine answered', nextAttemptAt: null });
  });

  it('never dials a number on the do-not-call list', async () => {
    await fetch(`${t.httpUrl}/api/dnc`, { method: 'POST', headers: auth, body: JSON.stringify({ number: '+12025550183' }) });
    const refused = await fetch(`${t.httpUrl}/api/outbound-calls`, { method: 'POST', headers: auth, body: JSON.stringify({ to: '+12025550183', purpose: 'x y z', consent: CONSENT }) });
    expect(refused.status).toBe(422);
    expect(rest.createdCalls.filter((c) => c.form.To === '+12025550183')).toHaveLength(0);
  });

  it('after a worker died mid-dial, retries the request at the next slot rather than calling again at once', async () => {
    // What a killed worker leaves: the request claimed and its attempt started, no call recorded.
    const requests = t.app.get(OutboundRequests);
    const { request } = await requests.create(
      { id: 'req-killed', to: '+12025550184', purpose: 'your boiler service tomorrow', consent: { source: 'job sheet', obtainedAt: '2026-11-20T12:00:00.000Z' }, callbackOf: null, timezone: zone, notBefore: null, metadata: {}, idempotencyKey: null },
      new Date().toISOString(),
      '2999-01-01T00:00:00.000Z',
    );
    expect(await requests.claim(request.id)).toBe(1);

    // The job comes back (its lease expired) to another worker.
    await t.app.get(OutboundDialer).due({ id: 'job-1', name: DIAL_QUEUE, data: { requestId: request.id }, retryCount: 1, signal: new AbortController().signal });
    const after = await stored(request.id);
    expect(after).toMatchObject({ status: 'queued', statusReason: 'failed', attempts: [{ attempt: 1, status: 'failed', callSid: null }] });
    expect(Date.parse(after.nextAttemptAt!)).toBeGreaterThan(Date.now());
    expect(rest.createdCalls.filter((c) => c.form.To === '+12025550184')).toHaveLength(0);
  });
});
