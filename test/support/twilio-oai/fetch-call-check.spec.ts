import { FakeTwilioRest } from '../fake-twilio-rest';
import { callResourceProblems, FETCH_CALL } from './fetch-call-check';

const ACCOUNT_SID = 'AC' + 'c'.repeat(32);
const AUTH_TOKEN = 'fetch-call-check-token-0123';

describe("Twilio's Call fetch definition (vendored)", () => {
  it('is the FetchCall operation of the 2010-04-01 API, from the same pinned commit as CreateCall', () => {
    expect(FETCH_CALL).toMatchObject({
      path: '/2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json',
      method: 'GET',
      operationId: 'FetchCall',
      responseStatus: ['200'],
      source: { file: 'spec/json/twilio_api_v2010.json', commit: 'd50069b44ea8cd23141385bdb6db48f16ff75bb5' },
    });
    expect(FETCH_CALL.callStatus.enum).toEqual(['queued', 'ringing', 'in-progress', 'completed', 'busy', 'failed', 'no-answer', 'canceled']);
  });

  it.each<[string, (call: Record<string, unknown>) => void, RegExp]>([
    ['a missing property', (c) => delete c.queue_time, /must have required property 'queue_time'/],
    ['a property Twilio does not have', (c) => (c.call_status = 'completed'), /call_status is not a property of a Call/],
    ['a status not listed', (c) => (c.status = 'answered'), /status must be one of queued, ringing/],
    ['a date twilio-node cannot parse', (c) => (c.end_time = '2026-12-02T15:00:00Z'), /end_time must match format "date-time-rfc-2822"/],
    ['a duration that is a number', (c) => (c.duration = 42), /duration must be string/],
  ])('finds %s', async (_name, breakIt, problem) => {
    const resource = { ...(await fetchedFromFake()), status: 'completed' } as Record<string, unknown>;
    expect(callResourceProblems(resource)).toEqual([]);
    breakIt(resource);
    expect(callResourceProblems(resource).join('\n')).toMatch(problem);
  });
});

describe('the fake Twilio REST server, fetching a call', () => {
  let fake: FakeTwilioRest;

  beforeAll(async () => {
    fake = await FakeTwilioRest.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
  });

  afterAll(async () => {
    await fake.close();
  });

  const get = (callSid: string, authToken = AUTH_TOKEN) =>
    fetch(`${fake.baseUrl}/2010-04-01/Accounts/${ACCOUNT_SID}/Calls/${callSid}.json`, {
      headers: { authorization: `Basic ${Buffer.from(`${ACCOUNT_SID}:${authToken}`).toString('base64')}` },
    });

  it('answers a call it knows with the status the test set, shaped as Twilio defines a Call', async () => {
    const callSid = fake.addCall('+15551230000');
    const seen: Array<Record<string, unknown>> = [];
    for (const status of [undefined, 'ringing', 'in-progress', 'completed']) {
      if (status) fake.setCallStatus(callSid, status, { durationSeconds: 61 });
      const res = await get(callSid);
      expect(res.status).toBe(200);
      const body = (await res.json()) as Record<string, unknown>;
      expect(callResourceProblems(body)).toEqual([]);
      seen.push(body);
    }
    expect(seen.map((b) => b.status)).toEqual(['queued', 'ringing', 'in-progress', 'completed']);
    expect(seen[0]).toMatchObject({ sid: callSid, account_sid: ACCOUNT_SID, to: '+15551230000', direction: 'outbound-api', end_time: null, duration: null });
    expect(seen[3]).toMatchObject({ duration: '61', end_time: expect.stringMatching(/ \+0000$/) });
    expect(fake.fetchedCalls).toHaveLength(4);
  });

  it('answers an unanswered call without a duration or end time', async () => {
    const callSid = fake.addCall();
    fake.setCallStatus(callSid, 'no-answer');
    const body = (await (await get(callSid)).json()) as Record<string, unknown>;
    expect(callResourceProblems(body)).toEqual([]);
    expect(body).toMatchObject({ status: 'no-answer', duration: null, end_time: null, start_time: null });
  });

  it('answers a call it does not know 404 (code 20404), a wrong token 401, a scripted failure as scripted', async () => {
    expect((await get('CA' + 'd'.repeat(32))).status).toBe(404);
    const callSid = fake.addCall();
    expect((await get(callSid, 'wrong-token-0123456789')).status).toBe(401);
    fake.failNext(503, 20503, 'Service unavailable');
    const failed = await get(callSid);
    expect(failed.status).toBe(503);
    expect(await failed.json()).toMatchObject({ code: 20503 });
    expect((await get(callSid)).status).toBe(200);
  });
});

/** A Call resource as the fake answers it, to break in the checker's tests. */
async function fetchedFromFake(): Promise<Record<string, unknown>> {
  const fake = await FakeTwilioRest.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
  try {
    const callSid = fake.addCall();
    fake.setCallStatus(callSid, 'completed');
    const res = await fetch(`${fake.baseUrl}/2010-04-01/Accounts/${ACCOUNT_SID}/Calls/${callSid}.json`, {
      headers: { authorization: `Basic ${Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64')}` },
    });
    return (await res.json()) as Record<string, unknown>;
  } finally {
    await fake.close();
  }
}
