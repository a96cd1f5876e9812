import { CallLogWriter } from '../src/call-log/call-log-writer';
import { CallLogRepository } from '../src/call-log/call-record';
import { HUBSPOT_CRM_OPTIONS } from '../src/crm/crm.module';
import { CrmService } from '../src/crm/crm.port';
import type { HubspotCrmService } from '../src/crm/hubspot-crm.service';
import { FakeHubspot } from './support/fake-hubspot';
import { FakeTwilioRest } from './support/fake-twilio-rest';
import { MockRealtimeServer } from './support/mock-realtime-server';
import { startApp, TEST_API_KEY, type TestApp } from './support/test-app';
import { startCall } from './support/calls';

const HUBSPOT_TOKEN = 'pat-na1-test-token-0123456789';
const ACCOUNT_SID = 'AC' + 'b'.repeat(32);
const AUTH_TOKEN = 'twilio-auth-token-0123456789';

describe('a plumbing call captured into HubSpot', () => {
  let mock: MockRealtimeServer;
  let hubspot: FakeHubspot;
  let rest: FakeTwilioRest;
  let t: TestApp;

  beforeAll(async () => {
    mock = await MockRealtimeServer.start();
    hubspot = await FakeHubspot.start(HUBSPOT_TOKEN);
    rest = await FakeTwilioRest.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
    t = await startApp({
      OPENAI_API_KEY: TEST_API_KEY,
      OPENAI_REALTIME_URL: mock.url,
      HUBSPOT_ENABLED: 'true',
      HUBSPOT_ACCESS_TOKEN: HUBSPOT_TOKEN,
      HUBSPOT_BASE_URL: hubspot.baseUrl,
      TWILIO_ACCOUNT_SID: ACCOUNT_SID,
      TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      TWILIO_API_BASE_URL: rest.baseUrl,
      PUBLIC_BASE_URL: 'https://operator.example.com',
    }, [{ provide: HUBSPOT_CRM_OPTIONS, useValue: { queue: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 10, breakerThreshold: 50 } } }]);
  });

  afterAll(async () => {
    await t.close();
    await rest.close();
    await hubspot.close();
    await mock.close();
  });


  it('ends with the job on the record, a contact and an associated Call engagement, and the call hung up', async () => {
    const { caller, rt } = await startCall(t, mock, { from: '+14155550100', to: '+15557650000', direction: 'inbound' });
    // Contact looked up by the caller's number, not found, created.
    await hubspot.waitForRequests(1, (r) => r.method === 'POST' && r.path === '/crm/v3/objects/contacts');

    rt.responseCreated('r1');
    rt.send({
      type: 'response.function_call_arguments.done',
      response_id: 'r1',
      item_id: 'fc1',
      output_index: 0,
      call_id: 'job',
      name: 'save_job_request',
      arguments: JSON.stringify({ caller_name: 'Ana Lopez', callback_number: '415 555 0100', service_address: '9 Oak Ave, Daly City', problem: 'Water heater leaking', urgency: 'urgent', preferred_time: 'today' }),
    });
    rt.responseDone('r1');
    await rt.waitFor('conversation.item.create', (e) => e.item?.call_id === 'job');
    const [patch] = await hubspot.waitForRequests(1, (r) => r.method === 'PATCH');
    // The callback number is the caller ID: the contact keeps it as `phone`, nothing else is set.
    expect(patch.body.properties).toMatchObject({ firstname: 'Ana', lastname: 'Lopez', address: '9 Oak Ave, Daly City' });
    expect(patch.body.properties).not.toHaveProperty('phone');
    expect(patch.body.properties).not.toHaveProperty('mobilephone');
    expect(patch.body.properties.message).toContain('Water heater leaking');

    // Goodbye, then end_call once it has played.
    rt.responseCreated('r2');
    rt.sendAudio('r2', 'bye', Buffer.alloc(1600, 0x2a));
    rt.audioDone('r2', 'bye');
    rt.send({ type: 'response.function_call_arguments.done', response_id: 'r2', item_id: 'fc2', output_index: 1, call_id: 'end', name: 'end_call', arguments: '{}' });
    rt.responseDone('r2');
    await rest.waitForRequest((r) => r.callSid === caller.callSid && r.form.Status === 'completed', 5000);
    caller.sendStop();
    await rt.waitForClose();

    const [engagement] = await hubspot.waitForRequests(1, (r) => r.method === 'POST' && r.path === '/crm/v3/objects/calls');
    expect(engagement.body.properties).toMatchObject({
      hs_call_direction: 'INBOUND',
      hs_call_from_number: '+14155550100',
      hs_call_to_number: '+15557650000',
    });
    // A signed link under PUBLIC_BASE_URL that plays without the API token.
    const recordingUrl = new URL(engagement.body.properties.hs_call_recording_url as string);
    expect(recordingUrl.origin).toBe('https://operator.example.com');
    const played = await fetch(`${t.httpUrl}${recordingUrl.pathname}${recordingUrl.search}`);
    expect(played.status).toBe(200);
    expect(played.headers.get('content-type')).toBe('audio/wav');
    expect(engagement.body.properties.hs_call_body).toContain('Water heater leaking');
    const contactId = [...hubspot.contacts.keys()][0];
    expect(JSON.stringify(engagement.body.associations)).toContain(contactId);
    expect(hubspot.requests.every((r) => r.headers.authorization === `Bearer ${HUBSPOT_TOKEN}`)).toBe(true);

    await t.app.get(CallLogWriter).drained();
    const repo = t.app.get(CallLogRepository);
    const record = await repo.get(caller.callSid);
    expect(record).toMatchObject({ status: 'completed', endReason: 'hangup', details: { jobRequest: { callerName: 'Ana Lopez', urgency: 'urgent' } } });
    expect(record?.crm).toMatchObject({ jobRequest: { status: 'synced' } });
  });

  it('finds the same contact on the next call from the caller ID after a job request with another callback number', async () => {
    const from = '+14155550142';
    const first = await startCall(t, mock, { from, to: '+15557650000', direction: 'inbound' });
    const [created] = await hubspot.waitForRequests(1, (r) => r.method === 'POST' && r.path === '/crm/v3/objects/contacts' && r.body?.properties?.phone === from);
    expect(created.status).toBe(201);
    const contactId = [...hubspot.contacts.values()].find((c) => c.properties.phone === from)!.id;

    first.rt.responseCreated('r1');
    first.rt.send({ type: 'response.function_call_arguments.done', response_id: 'r1', item_id: 'fc1', output_index: 0, call_id: 'job', name: 'save_job_request', arguments: JSON.stringify({ caller_name: 'Sam Rivera', callback_number: '650 555 0123', problem: 'Clogged drain' }) });
    first.rt.responseDone('r1');
    const [patch] = await hubspot.waitForRequests(1, (r) => r.method === 'PATCH' && r.path === `/crm/v3/objects/contacts/${contactId}`);
    expect(patch.body.properties).toMatchObject({ mobilephone: '+16505550123', message: expect.stringContaining('Callback number: +16505550123') });
    expect(patch.body.properties).not.toHaveProperty('phone');
    first.caller.sendStop();
    await first.rt.waitForClose();
    await hubspot.waitForRequests(1, (r) => r.method === 'POST' && r.path === '/crm/v3/objects/calls' && r.body?.properties?.hs_call_from_number === from);
    expect(hubspot.contacts.get(contactId)?.properties).toMatchObject({ phone: from, mobilephone: '+16505550123' });

    // The next call from the same line is put on the same contact, not a new one.
    const second = await startCall(t, mock, { from, to: '+15557650000', direction: 'inbound' });
    second.rt.responseCreated('r1');
    second.rt.send({ type: 'response.function_call_arguments.done', response_id: 'r1', item_id: 'fc1', output_index: 0, call_id: 'job', name: 'save_job_request', arguments: JSON.stringify({ problem: 'Drain clogged again' }) });
    second.rt.responseDone('r1');
    await hubspot.waitForRequests(2, (r) => r.method === 'PATCH' && r.path === `/crm/v3/objects/contacts/${contactId}`);
    second.caller.sendStop();
    await second.rt.waitForClose();
    await hubspot.waitForRequests(2, (r) => r.method === 'POST' && r.path === '/crm/v3/objects/calls' && r.body?.properties?.hs_call_from_number === from);
    expect(hubspot.requests.filter((r) => r.method === 'POST' && r.path === '/crm/v3/objects/contacts' && r.body?.properties?.phone === from)).toHaveLength(1);
    await t.app.get<CrmService, HubspotCrmService>(CrmService).idle();
  });

  it('keeps the call going while HubSpot fails, and marks the job request as not delivered', async () => {
    hubspot.failAll(503);
    const { caller, rt } = await startCall(t, mock, { from: '+14155550199', to: '+15557650000', direction: 'inbound' });
    rt.responseCreated('r1');
    rt.send({ type: 'response.function_call_arguments.done', response_id: 'r1', item_id: 'fc1', output_index: 0, call_id: 'job', name: 'save_job_request', arguments: JSON.stringify({ problem: 'Toilet overflowing', urgency: 'emergency' }) });
    rt.responseDone('r1');
    // The model hears back at once; audio goes on both ways.
    await rt.waitFor('conversation.item.create', (e) => e.item?.call_id === 'job');
    rt.speak('r2', 'a2', Buffer.alloc(800, 0x33));
    await caller.waitForPlayed(100);
    caller.sendMedia(Buffer.alloc(160, 0x7f));
    await rt.waitFor('input_audio_buffer.append');
    caller.sendStop();
    await rt.waitForClose();
    await t.logs.waitFor('call ended', { callSid: caller.callSid, reason: 'twilio_stop' });
    await t.app.get(CallLogWriter).drained();
    // Every retry failed: the record says the job request never reached HubSpot.
    await t.app.get<CrmService, HubspotCrmService>(CrmService).idle();
    const record = await t.app.get(CallLogRepository).get(caller.callSid);
    expect(record?.details.jobRequest).toMatchObject({ problem: 'Toilet overflowing', urgency: 'emergency' });
    expect(record?.crm).toMatchObject({ jobRequest: { status: 'failed' } });
    hubspot.recover();
  });
});
