import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import { AppLogger } from '../logging/app-logger';
import { FakeTwilioRest } from '../../test/support/fake-twilio-rest';
import { LogCapture } from '../../test/support/log-capture';
import { TwilioCallControlError, TwilioRestCallControl } from './twilio-call-control';

const ACCOUNT_SID = 'AC0123456789abcdef0123456789abcdef';
const AUTH_TOKEN = 'fake-auth-token-0123456789';
const CALL_SID = 'CAfedcba9876543210fedcba9876543210';
const CALL_PATH = `/2010-04-01/Accounts/${ACCOUNT_SID}/Calls/${CALL_SID}.json`;

describe('TwilioRestCallControl', () => {
  let fake: FakeTwilioRest;
  let logs: LogCapture;

  const control = (env: Record<string, string> = { TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_AUTH_TOKEN: AUTH_TOKEN }) => {
    const config = new AppConfig(
      validateEnvironment({ OPERATOR_COMPANY_NAME: 'Acme Plumbing', TWILIO_API_BASE_URL: fake.baseUrl, ...env }),
    );
    return new TwilioRestCallControl(config, new AppLogger(config, logs));
  };

  beforeEach(async () => {
    fake = await FakeTwilioRest.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
    logs = new LogCapture();
  });

  afterEach(async () => {
    await fake.close();
  });

  it('transfers by replacing the call TwiML with a <Dial>, authenticated as the account', async () => {
    const calls = control();
    expect(calls.available).toBe(true);

    await calls.transfer(CALL_SID, '+15550001111');

    expect(fake.requests).toHaveLength(1);
    const [request] = fake.requests;
    expect(request.method).toBe('POST');
    expect(request.path).toBe(CALL_PATH);
    expect(request.authorized).toBe(true);
    expect(request.headers.authorization).toBe(`Basic ${Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64')}`);
    expect(request.form).toEqual({
      Twiml: '<?xml version="1.0" encoding="UTF-8"?><Response><Dial>+15550001111</Dial></Response>',
    });
    expect(logs.find('twilio call updated', { callSid: CALL_SID, action: 'transfer' })).toBeDefined();
  });

  it('hangs up by setting the call status to completed', async () => {
    await control().hangUp(CALL_SID);

    const request = await fake.waitForRequest((r) => r.callSid === CALL_SID);
    expect(request.path).toBe(CALL_PATH);
    expect(request.authorized).toBe(true);
    expect(request.form).toEqual({ Status: 'completed' });
  });

  it('leaves a message by replacing the call TwiML with <Say> and <Hangup>, the text XML-escaped', async () => {
    await control().sayAndHangUp(CALL_SID, 'Hello from Smith & Sons <plumbing>. Goodbye.');

    const request = await fake.waitForRequest((r) => r.callSid === CALL_SID);
    expect(request.path).toBe(CALL_PATH);
    expect(request.form).toEqual({
      Twiml: '<?xml version="1.0" encoding="UTF-8"?><Response><Say>Hello from Smith &amp; Sons &lt;plumbing&gt;. Goodbye.</Say><Hangup/></Response>',
    });
    expect(logs.find('twilio call updated', { callSid: CALL_SID, action: 'say and hang up' })).toBeDefined();
  });

  it("rejects with Twilio's status, code and message when the API refuses", async () => {
    fake.failNext(400, 21220, 'Call is not in-progress. Cannot redirect.');

    const attempt = control().transfer(CALL_SID, '+15550001111');

    await expect(attempt).rejects.toThrow(TwilioCallControlError);
    await expect(attempt).rejects.toMatchObject({
      status: 400,
      code: 21220,
      message: expect.stringContaining('HTTP 400 (code 21220): Call is not in-progress. Cannot redirect.'),
    });
    expect(logs.find('twilio call update failed', { callSid: CALL_SID, status: 400, code: 21220 })).toBeDefined();
    expect(logs.raw.join('\n')).not.toContain(AUTH_TOKEN);
  });

  it('reports a wrong auth token as the 401 it gets, without logging the token', async () => {
    const wrongToken = 'wrong-auth-token-0123456789';
    await expect(
      control({ TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_AUTH_TOKEN: wrongToken }).hangUp(CALL_SID),
    ).rejects.toThrow(/HTTP 401 \(code 20003\): Authenticate/);
    expect(fake.requests[0].authorized).toBe(false);
    expect(logs.raw.join('\n')).not.toContain(wrongToken);
  });

  it('is unavailable without credentials and then rejects without sending anything', async () => {
    const calls = control({});
    expect(calls.available).toBe(false);
    expect(control({ TWILIO_ACCOUNT_SID: ACCOUNT_SID }).available).toBe(false);

    await expect(calls.transfer(CALL_SID, '+15550001111')).rejects.toThrow(/credentials .* are not configured/);
    await expect(calls.hangUp(CALL_SID)).rejects.toThrow(/not configured/);
    expect(fake.requests).toHaveLength(0);
  });
});
