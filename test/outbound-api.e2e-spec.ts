import { CallLogWriter } from '../src/call-log/call-log-writer';
import { CallLogRepository } from '../src/call-log/call-record';
import { callRecord } from './support/call-records';
import { startApp, type TestApp } from './support/test-app';

const API_TOKEN = 'test-api-token-0123456789';
const auth = { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' };
const CONSENT = { source: 'web form', obtainedAt: '2026-11-30T10:00:00Z' };
const INBOUND = 'CA' + '1'.repeat(32);

describe('the outbound calls API and the do-not-call list', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp({ API_TOKEN });
    await t.app.get(CallLogRepository).save(callRecord({ callSid: INBOUND, direction: 'inbound', from: '+12025550143', to: '+15557650000' }));
    await t.app.get(CallLogWriter).drained();
  });

  afterAll(() => t.close());

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${t.httpUrl}${path}`, { method: 'POST', headers: { ...auth, ...headers }, body: JSON.stringify(body) });
  const get = (path: string) => fetch(`${t.httpUrl}${path}`, { headers: auth });

  it('takes a request with consent: 201, queued, and shows it with its (no) attempts', async () => {
    const res = await post('/api/outbound-calls', { to: '+12025550101', purpose: 'Confirm tomorrow 9am water heater install', consent: CONSENT, timezone: 'America/New_York', metadata: { job: 17 } });
    expect(res.status).toBe(201);
    const created = (await res.json()) as Record<string, unknown>;
    expect(created).toMatchObject({
      to: '+12025550101',
      status: 'queued',
      consent: { source: 'web form', obtainedAt: '2026-11-30T10:00:00.000Z' },
      timezone: 'America/New_York',
      metadata: { job: 17 },
      attempts: [],
    });
    const shown = await get(`/api/outbound-calls/${String(created.id)}`);
    expect(await shown.json()).toEqual(created);
    const listed = (await (await get('/api/outbound-calls?status=queued&to=%2B12025550101')).json()) as { items: Array<{ id: string }>; total: number };
    expect(listed.items.map((i) => i.id)).toEqual([created.id]);
  });

  it('takes a callback of an inbound call from the same number without other consent, and refuses one from another number (422)', async () => {
    const ok = await post('/api/outbound-calls', { to: '+12025550143', purpose: 'Call back about the burst pipe', callbackOf: INBOUND });
    expect(ok.status).toBe(201);
    const wrong = await post('/api/outbound-calls', { to: '+12025550144', purpose: 'Call back about the burst pipe', callbackOf: INBOUND });
    expect(wrong.status).toBe(422);
    expect(await wrong.json()).toMatchObject({ reason: 'callback_not_from_this_number' });
  });

  it('refuses without consent, with consent from the future, or an invalid number (422, with the reason)', async () => {
    const reasons = async (body: unknown) => ((await (await post('/api/outbound-calls', body)).json()) as { reason?: string }).reason;
    expect(await reasons({ to: '+12025550102', purpose: 'Quote follow-up' })).toBe('no_consent');
    expect(await reasons({ to: '+12025550102', purpose: 'Quote follow-up', consent: { source: 'form', obtainedAt: '2999-01-01T00:00:00Z' } })).toBe('consent_in_future');
    expect(await reasons({ to: '+10005550102', purpose: 'Quote follow-up', consent: CONSENT })).toBe('invalid_number');
  });

  it('never makes a second request for a repeated Idempotency-Key, or the same number and purpose', async () => {
    const body = { to: '+12025550103', purpose: 'Reminder: annual boiler service', consent: CONSENT };
    const first = await post('/api/outbound-calls', body, { 'idempotency-key': 'crm-job-991' });
    const again = await post('/api/outbound-calls', { ...body, purpose: 'something else' }, { 'idempotency-key': 'crm-job-991' });
    expect([first.status, again.status]).toEqual([201, 200]);
    const id = ((await first.json()) as { id: string }).id;
    expect(((await again.json()) as { id: string }).id).toBe(id);
    const sameAgain = await post('/api/outbound-calls', body);
    expect(sameAgain.status).toBe(200);
    expect(((await sameAgain.json()) as { id: string }).id).toBe(id);
    expect((await post('/api/outbound-calls', body, { 'idempotency-key': 'bad key with spaces' })).status).toBe(400);
  });

  it('keeps the do-not-call list, and refuses requests to numbers on it', async () => {
    const added = await post('/api/dnc', { number: '+12025550104', reason: 'asked not to be called' });
    expect(added.status).toBe(200);
    expect(await added.json()).toMatchObject({ number: '+12025550104', source: 'api', reason: 'asked not to be called' });
    const list = (await (await get('/api/dnc')).json()) as { items: Array<{ number: string }> };
    expect(list.items.map((e) => e.number)).toContain('+12025550104');

    const refused = await post('/api/outbound-calls', { to: '+12025550104', purpose: 'Quote follow-up', consent: CONSENT });
    expect(refused.status).toBe(422);
    expect(await refused.json()).toMatchObject({ reason: 'do_not_call' });

    expect((await fetch(`${t.httpUrl}/api/dnc/%2B12025550104`, { method: 'DELETE', headers: auth })).status).toBe(204);
    expect((await fetch(`${t.httpUrl}/api/dnc/%2B12025550104`, { method: 'DELETE', headers: auth })).status).toBe(404);
    expect((await post('/api/outbound-calls', { to: '+12025550104', purpose: 'Quote follow-up', consent: CONSENT })).status).toBe(201);
  });

  it('cancels a request not finished, once', async () => {
    const created = (await (await post('/api/outbound-calls', { to: '+12025550105', purpose: 'Quote follow-up', consent: CONSENT })).json()) as { id: string };
    const cancel = () => fetch(`${t.httpUrl}/api/outbound-calls/${created.id}`, { method: 'DELETE', headers: auth });
    const first = await cancel();
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ status: 'cancelled' });
    expect((await cancel()).status).toBe(409);
    expect((await fetch(`${t.httpUrl}/api/outbound-calls/nope`, { method: 'DELETE', headers: auth })).status).toBe(404);
  });

  it('validates bodies and queries (400), and needs the token (401)', async () => {
    expect((await post('/api/outbound-calls', { to: '2025550106', purpose: 'x y z', consent: CONSENT })).status).toBe(400);
    expect((await post('/api/outbound-calls', { to: '+12025550106', purpose: 'Quote', consent: CONSENT, timezone: 'Mars/Olympus' })).status).toBe(400);
    expect((await post('/api/outbound-calls', { to: '+12025550106', purpose: 'Quote', consent: { source: 'x' } })).status).toBe(400);
    expect((await post('/api/outbound-calls', { to: '+12025550106', purpose: 'Quote', consent: CONSENT, extra: true })).status).toBe(400);
    expect((await get('/api/outbound-calls?status=maybe')).status).toBe(400);
    expect((await post('/api/dnc', { number: '12345' })).status).toBe(400);
    expect((await fetch(`${t.httpUrl}/api/outbound-calls`)).status).toBe(401);
    expect((await fetch(`${t.httpUrl}/api/dnc`)).status).toBe(401);
  });
});
