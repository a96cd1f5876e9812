import { SystemClock } from '../common/clock';
import { createTwilioClient } from '../twilio/twilio-client';
import type { AppConfig } from '../config/app-config';
import { TwilioRestStandIn, type CallUpdate } from './twilio-rest-stand-in';

const ACCOUNT = 'AC0123456789abcdef0123456789abcdef';
const CALL = 'CAfedcba9876543210fedcba9876543210';

describe('the stand-in for Twilio REST API', () => {
  let standIn: TwilioRestStandIn;
  beforeAll(async () => {
    standIn = await TwilioRestStandIn.start(ACCOUNT, 'secret-token', new SystemClock());
  });
  afterAll(() => standIn.close());

  // The service's own client, pointed at the stand-in as TWILIO_API_BASE_URL points it.
  const client = (token = 'secret-token') => createTwilioClient({ twilio: { accountSid: ACCOUNT, authToken: token, apiBaseUrl: standIn.baseUrl } } as unknown as AppConfig)!;

  it('takes texts and live-call updates as Twilio answers them, and hands each update on', async () => {
    const updates: CallUpdate[] = [];
    standIn.onCallUpdate = (u) => updates.push(u);
    const message = await client().messages.create({ to: '+15551230001', from: '+15557650000', body: 'Emergency at 12 Elm St' });
    expect(message.sid).toMatch(/^SM[0-9a-f]{32}$/);
    expect(standIn.messages).toEqual([{ sid: message.sid, to: '+15551230001', from: '+15557650000', body: 'Emergency at 12 Elm St' }]);

    await client().calls(CALL).update({ status: 'completed' });
    await client().calls(CALL).update({ twiml: '<Response><Dial>+15557650001</Dial></Response>' });
    expect(updates).toEqual([
      { callSid: CALL, status: 'completed', twiml: null },
      { callSid: CALL, status: null, twiml: '<Response><Dial>+15557650001</Dial></Response>' },
    ]);
    expect(standIn.callUpdates).toEqual(updates);
  });

  it('refuses the wrong credentials as Twilio does', async () => {
    await expect(client('wrong-token').calls(CALL).update({ status: 'completed' })).rejects.toMatchObject({ status: 401, code: 20003 });
  });
});
