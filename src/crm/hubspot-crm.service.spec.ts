import pino from 'pino';
import { ImmediateScheduler } from '../../test/support/immediate-scheduler';
import type { CallLogRepository } from '../call-log/call-record';
import { ManualClock } from '../common/clock';
import { CallMetrics } from '../metrics/call-metrics';
import { FakeHubspot, type RecordedRequest } from '../../test/support/fake-hubspot';
import type { CallSummaryForCrm } from './crm.port';
import { HubspotCrmService, parseRetryAfter, splitName, type HubspotCrmOptions } from './hubspot-crm.service';

const CALLER = '+15551234567';
const LINE = '+15557654321';

/** Only mergeCrm matters; `missing` counts how many more times a call is "not written yet". */
class FakeCallLog {
  readonly merges: Array<{ callSid: string; patch: Record<string, any> }> = [];
  readonly missing = new Map<string, number>();
  async mergeCrm(callSid: string, patch: Record<string, unknown>): Promise<boolean> {
    const left = this.missing.get(callSid) ?? 0;
    if (left > 0) {
      this.missing.set(callSid, left - 1);
      return false;
    }
    this.merges.push({ callSid, patch });
    return true;
  }
}

const path = (r: RecordedRequest) => `${r.method} ${r.path}`;

describe('HubspotCrmService against a fake HubSpot', () => {
  let fake: FakeHubspot;
  let repo: FakeCallLog;
  let service: HubspotCrmService;
  // The breaker reads this clock, so a test can skip its cool-down without sleeping.
  let clock: ManualClock;
  let scheduler: ImmediateScheduler;

  function build(options: Partial<HubspotCrmOptions> = {}): HubspotCrmService {
    service = new HubspotCrmService(
      { accessToken: fake.token, baseUrl: fake.baseUrl },
      pino({ level: 'silent' }),
      repo as unknown as CallLogRepository,
      clock,
      scheduler,
      new CallMetrics(),
      {
        requestTimeoutMs: 2000,
        markDelayMs: 5,
        random: () => 0.5,
        ...options,
        queue: { baseDelayMs: 10, maxDelayMs: 50, breakerThreshold: 100, breakerCoolDownMs: 60_000, ...options.queue },
      },
    );
    return service;
  }

  beforeEach(async () => {
    fake = await FakeHubspot.start();
    repo = new FakeCallLog();
    clock = new ManualClock();
    scheduler = new ImmediateScheduler();
    build();
  });

  afterEach(async () => {
    service.onModuleDestroy();
    await fake.close();
  });

  function summary(overrides: Partial<CallSummaryForCrm> = {}): CallSummaryForCrm {
    return {
      callSid: 'CA1',
      from: CALLER,
      to: LINE,
      direction: 'inbound',
      startedAt: Date.UTC(2026, 0, 2, 3, 4, 5),
      endedAt: Date.UTC(2026, 0, 2, 3, 6, 5),
      durationMs: 120_000,
      status: 'completed',
      endReason: 'caller-hangup',
      transcript: [
        { speaker: 'agent', text: 'How can I help?', startMs: 0 },
        { speaker: 'caller', text: 'My sink <leaks>', startMs: 1500 },
      ],
      jobRequest: { callerName: 'Ann Lee', problem: 'leaking sink', urgency: 'urgent' },
      summary: 'Leaking sink, visit booked.',
      recordingUrl: 'https://example.test/recordings/CA1.wav',
      ...overrides,
    };
  }

  it('finds the caller by phone and does not create a contact', async () => {
    fake.addContact({ phone: CALLER });
    service.callStarted({ callSid: 'CA1', from: CALLER, to: LINE });
    await service.idle();
    expect(fake.requests.map(path)).toEqual(['POST /crm/v3/objects/contacts/search']);
    const [search] = fake.requests;
    expect(search.headers.authorization).toBe(`Bearer ${fake.token}`);
    expect(search.body.filterGroups).toEqual([{ filters: [{ propertyName: 'phone', operator: 'EQ', value: CALLER }] }]);
  });

  it('creates the contact when the search finds none', async () => {
    service.callStarted({ callSid: 'CA1', from: CALLER, to: LINE });
    await service.idle();
    expect(fake.requests.map(path)).toEqual(['POST /crm/v3/objects/contacts/search', 'POST /crm/v3/objects/contacts']);
    expect(fake.requests[1].body).toEqual({ properties: { phone: CALLER } });
    expect(fake.contacts.size).toBe(1);
  });

  it('updates the contact with the job request and marks it synced', async () => {
    const contactId = fake.addContact({ phone: CALLER });
    service.callStarted({ callSid: 'CA1', from: CALLER, to: LINE });
    service.jobRequested(
      { callSid: 'CA1', from: CALLER },
      {
        callerName: 'Mary Ann Smith',
        callbackNumber: '+15550001111',
        serviceAddress: '1 Main St, Springfield',
        problem: 'burst pipe',
        urgency: 'emergency',
        preferredTime: 'asap',
      },
    );
    await service.idle();
    // The contact id is remembered: one search for both jobs.
    expect(fake.requests.map(path)).toEqual(['POST /crm/v3/objects/contacts/search', `PATCH /crm/v3/objects/contacts/${contactId}`]);
    // The caller ID stays in `phone` (the next call is found by it); the callback number has its own property.
    expect(fake.requests[1].body).toEqual({
      properties: {
        firstname: 'Mary Ann',
        lastname: 'Smith',
        mobilephone: '+15550001111',
        address: '1 Main St, Springfield',
        message: 'Callback number: +15550001111\nProblem: burst pipe\nUrgency: emergency\nPreferred time: asap',
      },
    });
    expect(fake.contacts.get(contactId)?.properties).toMatchObject({ phone: CALLER, mobilephone: '+15550001111' });
    expect(repo.merges).toEqual([
      { callSid: 'CA1', patch: { jobRequest: { status: 'synced', contactId, at: expect.any(String) } } },
    ]);
  });

  it('sets no second number when the callback number is the caller ID', async () => {
    const contactId = fake.addContact({ phone: CALLER });
    service.jobRequested({ callSid: 'CA1', from: CALLER }, { callerName: 'Ann Lee', callbackNumber: CALLER });
    await service.idle();
    expect(fake.requests[1]).toMatchObject({
      method: 'PATCH',
      path: `/crm/v3/objects/contacts/${contactId}`,
      body: { properties: { firstname: 'Ann', lastname: 'Lee', message: `Callback number: ${CALLER}` } },
    });
    expect(Object.keys(fake.requests[1].body.properties)).toEqual(['firstname', 'lastname', 'message']);
  });

  it('takes back the callback number it wrote when the caller corrects it to the caller ID', async () => {
    const contactId = fake.addContact({ phone: CALLER });
    service.jobRequested({ callSid: 'CA1', from: CALLER }, { callbackNumber: '+15550001111' });
    service.jobRequested({ callSid: 'CA1', from: CALLER }, { callbackNumber: CALLER });
    await service.idle();
    const patches = fake.requests.filter((r) => r.method === 'PATCH').map((r) => r.body.properties);
    expect(patches).toEqual([
      { mobilephone: '+15550001111', message: 'Callback number: +15550001111' },
      { mobilephone: '', message: `Callback number: ${CALLER}` },
    ]);
    expect(fake.contacts.get(contactId)?.properties.phone).toBe(CALLER);
  });

  it('marks an unverified callback number as such in the note and the call body', async () => {
    fake.addContact({ phone: CALLER });
    const job = { callbackNumber: '4155550', callbackNumberUnverified: true as const, problem: 'drip' };
    service.jobRequested({ callSid: 'CA1', from: CALLER }, job);
    service.callEnded(summary({ jobRequest: job }));
    await service.idle();
    const patch = fake.requests.find((r) => r.method === 'PATCH');
    expect(patch?.body.properties).toEqual({ mobilephone: '4155550', message: 'Callback number (unverified): 4155550\nProblem: drip' });
    const engagement = fake.requests.find((r) => r.path === '/crm/v3/objects/calls');
    expect(engagement?.body.properties.hs_call_body).toContain('Callback number (unverified): 4155550');
  });

  it('logs the ended call as an engagement associated with the contact', async () => {
    const contactId = fake.addContact({ phone: CALLER });
    service.callStarted({ callSid: 'CA1', from: CALLER, to: LINE });
    service.callEnded(summary());
    await service.idle();
    expect(fake.requests.map(path)).toEqual(['POST /crm/v3/objects/contacts/search', 'POST /crm/v3/objects/calls']);
    const body = fake.requests[1].body;
    expect(body.associations).toEqual([
      { to: { id: contactId }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 194 }] },
    ]);
    expect(body.properties).toEqual({
      hs_timestamp: '2026-01-02T03:04:05.000Z',
      hs_call_title: 'Inbound call (caller-hangup)',
      hs_call_body: expect.any(String),
      hs_call_duration: '120000',
      hs_call_direction: 'INBOUND',
      hs_call_status: 'COMPLETED',
      hs_call_from_number: CALLER,
      hs_call_to_number: LINE,
      hs_call_recording_url: 'https://example.test/recordings/CA1.wav',
    });
    expect(body.properties.hs_call_body).toContain('Leaking sink, visit booked.');
    expect(body.properties.hs_call_body).toContain('Problem: leaking sink');
    expect(body.properties.hs_call_body).toContain('Caller: My sink &lt;leaks&gt;');
    const [engagementId] = [...fake.calls.keys()];
    expect(repo.merges).toEqual([
      { callSid: 'CA1', patch: { callLogged: { status: 'synced', engagementId, at: expect.any(String) } } },
    ]);
  });

  it('bounds the call body', async () => {
    build({ maxBodyChars: 500 });
    fake.addContact({ phone: CALLER });
    const transcript = Array.from({ length: 100 }, (_, i) => ({ speaker: 'caller' as const, text: `turn ${i} `.repeat(5), startMs: i }));
    service.callEnded(summary({ transcript }));
    await service.idle();
    const bodyText: string = fake.requests[1].body.properties.hs_call_body;
    expect(bodyText.length).toBeLessThanOrEqual(500);
    expect(bodyText).toContain('[transcript cut]');
  });

  it('honours Retry-After on 429, waiting on the injected scheduler', async () => {
    fake.failNext(1, 429, { retryAfter: 7 });
    service.callStarted({ callSid: 'CA1', from: CALLER, to: LINE });
    const [first, second] = await fake.waitForRequests(2, (r) => r.path === '/crm/v3/objects/contacts/search');
    expect(first.status).toBe(429);
    expect(second.status).toBe(200);
    expect(scheduler.delays).toEqual([7000]);
    await service.idle();
  });

  it('stamps the crm state with the injected clock, and waits for the call record on the scheduler', async () => {
    clock.advance(90_000);
    repo.missing.set('CA1', 2);
    service.jobRequested({ callSid: 'CA1', from: CALLER }, { problem: 'drip' });
    await service.idle();
    // ManualClock's epoch starts at 2026-01-01T00:00:00Z.
    expect(repo.merges).toEqual([
      { callSid: 'CA1', patch: { jobRequest: { status: 'synced', contactId: expect.any(String), at: '2026-01-01T00:01:30.000Z' } } },
    ]);
    expect(scheduler.delays).toEqual([5, 5]);
  });

  it('does not retry a 4xx other than 429', async () => {
    fake.failNext(1, 400);
    service.jobRequested({ callSid: 'CA1', from: CALLER }, { problem: 'drip' });
    await service.idle();
    expect(fake.requests).toHaveLength(1);
    expect(repo.merges[0].patch.jobRequest).toMatchObject({ status: 'failed', error: expect.stringContaining('400') });
  });

  it('opens the breaker in a 5xx storm, stops calling HubSpot, and closes after the cool-down', async () => {
    build({ queue: { maxAttempts: 1, breakerThreshold: 3, breakerCoolDownMs: 60_000 } });
    fake.failAll(503);
    // One call's jobs run one after another, so the breaker sees each failure before the next attempt.
    for (let i = 0; i < 6; i++) service.jobRequested({ callSid: 'CA1', from: CALLER }, { problem: `drip ${i}` });
    await service.idle();
    expect(fake.requests).toHaveLength(3);
    expect(repo.merges.map((m) => m.patch.jobRequest.error)).toEqual([
      ...Array(3).fill(expect.stringContaining('503')),
      ...Array(3).fill('circuit breaker open'),
    ]);

    service.jobRequested({ callSid: 'CA9', from: CALLER }, { problem: 'drip' });
    await service.idle();
    expect(fake.requests).toHaveLength(3);
    expect(repo.merges.at(-1)?.patch.jobRequest).toMatchObject({ status: 'failed', error: 'circuit breaker open' });

    fake.recover();
    clock.advance(60_000);
    // The half-open trial: search misses, contact is created, the breaker closes.
    service.callStarted({ callSid: 'CA10', from: CALLER, to: LINE });
    await service.idle();
    expect(fake.requests.slice(3).map((r) => `${path(r)} ${r.status}`)).toEqual([
      'POST /crm/v3/objects/contacts/search 200',
      'POST /crm/v3/objects/contacts 201',
    ]);
    service.callStarted({ callSid: 'CA11', from: CALLER, to: LINE });
    await service.idle();
    expect(fake.requests).toHaveLength(6);
    expect(fake.requests[5].status).toBe(200);
  });

  it('marks a job request that never reaches HubSpot as failed, waiting for the call record', async () => {
    build({ queue: { maxAttempts: 3 } });
    fake.failAll(500);
    repo.missing.set('CA1', 2);
    service.jobRequested({ callSid: 'CA1', from: CALLER }, { problem: 'drip' });
    await service.idle();
    expect(fake.requests).toHaveLength(3);
    expect(repo.merges).toEqual([
      {
        callSid: 'CA1',
        patch: { jobRequest: { status: 'failed', error: expect.stringContaining('500'), at: expect.any(String) } },
      },
    ]);
  });

  it('returns at once even when HubSpot never answers, and times the request out', async () => {
    build({ requestTimeoutMs: 200, queue: { maxAttempts: 1 } });
    fake.hang();
    const started = performance.now();
    service.callStarted({ callSid: 'CA1', from: CALLER, to: LINE });
    service.jobRequested({ callSid: 'CA1', from: CALLER }, { problem: 'drip' });
    service.callEnded(summary());
    expect(performance.now() - started).toBeLessThan(50);
    await fake.waitForRequests(1);
    await service.idle();
    expect(repo.merges.map((m) => m.patch)).toEqual([
      { jobRequest: { status: 'failed', error: expect.stringContaining('timed out after 200 ms'), at: expect.any(String) } },
      { callLogged: { status: 'failed', error: expect.stringContaining('timed out'), at: expect.any(String) } },
    ]);
  });
});

describe('helpers', () => {
  it('splits names on the last space', () => {
    expect(splitName('Mary Ann Smith')).toEqual({ firstname: 'Mary Ann', lastname: 'Smith' });
    expect(splitName('Cher')).toEqual({ firstname: 'Cher' });
  });
  it('reads Retry-After as seconds or a date', () => {
    expect(parseRetryAfter('3', 0)).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(parseRetryAfter(null, 0)).toBeUndefined();
  });
});
