import { CallLogWriter } from '../src/call-log/call-log-writer';
import { CallLogRepository } from '../src/call-log/call-record';
import { DoNotCallList } from '../src/outbound/do-not-call';
import { STREAM_TOKEN_PARAMETER } from '../src/security/stream-tokens';
import { MockRealtimeServer } from './support/mock-realtime-server';
import { startApp, TEST_API_KEY, type TestApp } from './support/test-app';
import { TwilioCaller } from './support/twilio-caller';

const API_TOKEN = 'test-api-token-0123456789';
const auth = { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' };
const BUSINESS = '+15557650000';
const CALLEE = '+12025550177';

describe('an outbound call, answered', () => {
  let mock: MockRealtimeServer;
  let t: TestApp;

  beforeAll(async () => {
    mock = await MockRealtimeServer.start();
    t = await startApp({ OPENAI_API_KEY: TEST_API_KEY, OPENAI_REALTIME_URL: mock.url, API_TOKEN, OPERATOR_COMPANY_NAME: 'Acme Plumbing', OPERATOR_TRANSFER_NUMBER: '+15550001111' });
  });

  afterAll(async () => {
    await t.close();
    await mock.close();
  });

  /** Twilio fetching the outbound call's TwiML, as the dialer asked it to. */
  async function answered(callSid: string, query: string, to = CALLEE): Promise<string> {
    const res = await fetch(`${t.httpUrl}/twilio/voice?${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ CallSid: callSid, From: BUSINESS, To: to, Direction: 'outbound-api', CallStatus: 'in-progress' }),
    });
    return res.text();
  }

  const parameter = (twiml: string, name: string) => new RegExp(`<Parameter name="${name}" value="([^"]*)"`).exec(twiml)?.[1];

  it('says who is calling and why first, offers the do-not-call tool, and records the request it came from', async () => {
    const created = await fetch(`${t.httpUrl}/api/outbound-calls`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ to: CALLEE, purpose: 'your water heater service tomorrow at 9am', consent: { source: 'job sheet', obtainedAt: '2026-11-20T12:00:00Z' } }),
    });
    const request = (await created.json()) as { id: string };
    const callSid = 'CA' + 'd'.repeat(32);
    const twiml = await answered(callSid, `outboundRequest=${request.id}`);
    expect(parameter(twiml, 'outboundRequest')).toBe(request.id);
    expect(parameter(twiml, 'purpose')).toBe('your water heater service tomorrow at 9am');
    // The fallback of an outbound call never dials the business's own line.
    expect(twiml).not.toContain('<Dial>');

    const caller = await TwilioCaller.connect(t.streamUrl, {
      callSid,
      streamToken: parameter(twiml, STREAM_TOKEN_PARAMETER),
      customParameters: { from: BUSINESS, to: CALLEE, direction: 'outbound-api', outboundRequest: request.id, purpose: 'your water heater service tomorrow at 9am' },
    });
    caller.sendConnected();
    caller.sendStart();
    const rt = await mock.nextConnection();
    const update = await rt.waitFor('session.update');
    expect(update.session.instructions).toContain('You are calling about: your water heater service tomorrow at 9am');
    expect((update.session.tools as Array<{ name: string }>).map((x) => x.name)).toContain('add_to_do_not_call');
    const greeting = await rt.waitFor('response.create');
    expect(greeting.response.instructions).toContain('Hello, this is the automated assistant of Acme Plumbing, calling about your water heater service tomorrow at 9am.');

    // "Please don't call me again."
    rt.responseCreated('resp_1');
    rt.send({ type: 'response.function_call_arguments.done', response_id: 'resp_1', item_id: 'fc', output_index: 0, call_id: 'c_dnc', name: 'add_to_do_not_call', arguments: '{"reason":"asked not to be called"}' });
    rt.responseDone('resp_1');
    const output = await rt.waitFor('conversation.item.create', (e) => e.item?.call_id === 'c_dnc');
    expect(JSON.parse(output.item.output as string)).toEqual({ added: true, number: CALLEE });
    expect(await t.app.get(DoNotCallList).has(CALLEE)).toBe(true);

    caller.sendStop();
    await rt.waitForClose();
    await t.logs.waitFor('call ended', { callSid });
    await t.app.get(CallLogWriter).drained();
    const record = await t.app.get(CallLogRepository).get(callSid);
    expect(record).toMatchObject({ direction: 'outbound', from: BUSINESS, to: CALLEE, details: { outboundRequest: request.id, doNotCall: { number: CALLEE } } });
  });

  it('hangs up an outbound call with no matching request, saying nothing', async () => {
    const twiml = await answered('CA' + 'e'.repeat(32), 'outboundRequest=unknown-request');
    expect(twiml).toBe('<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>');
    expect(await answered('CA' + 'e'.repeat(32), '')).toBe('<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>');
  });
});
