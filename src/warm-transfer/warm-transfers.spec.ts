import { ManualClock } from '../common/clock';
import { ManualScheduler } from '../common/scheduler';
import type { AppConfig } from '../config/app-config';
import { silentAppLogger } from '../database/sql-test-backends';
import type { OnCallRotas } from '../on-call/on-call-rotas';
import type { PagingStore } from '../on-call/paging-store';
import type { OnCallPerson } from '../on-call/rota';
import { testToolContext } from '../../test/support/tool-context';
import type { ToolCallContext } from '../tools/tool';
import type { DialLeg } from './warm-transfer-legs';
import { DEADLINE_CHECK_MS, WarmTransfers } from './warm-transfers';

const BASE = 'https://calls.example.com';
const TIMEOUT_MS = 30_000;
const alice: OnCallPerson = { id: 'alice', name: 'Alice Jones', mobile: '+15551230001' };

class FakeLegs {
  available = true;
  dials: DialLeg[] = [];
  ended: Array<{ sid: string; answered: boolean }> = [];
  redirects: Array<{ sid: string; twiml: string }> = [];
  failDial = false;
  failRedirect = false;
  async dial(leg: DialLeg): Promise<string> {
    if (this.failDial) throw new Error('Twilio: cannot dial the on-call person: HTTP 400');
    this.dials.push(leg);
    return 'CA' + 'c'.repeat(32);
  }
  async end(sid: string, answered: boolean): Promise<void> {
    this.ended.push({ sid, answered });
  }
  async redirect(sid: string, twiml: string): Promise<void> {
    if (this.failRedirect) throw new Error('Twilio: cannot bridge the caller: HTTP 404');
    this.redirects.push({ sid, twiml });
  }
}

function setup(people: OnCallPerson[] = [alice], escalation: unknown = null) {
  const clock = new ManualClock(0, Date.UTC(2026, 0, 15, 7));
  const scheduler = new ManualScheduler(clock);
  const legs = new FakeLegs();
  const acks: unknown[][] = [];
  const paging = { acknowledge: async (...args: unknown[]) => (acks.push(args), true), get: async () => escalation } as unknown as PagingStore;
  const rotas = { onCallNow: async () => ({ people, from: 'windows', stale: false }) } as unknown as OnCallRotas;
  const config = { calls: { publicBaseUrl: BASE }, onCall: { warmTransferTimeoutMs: TIMEOUT_MS } } as unknown as AppConfig;
  const transfers = new WarmTransfers(legs, rotas, paging, clock, scheduler, config, silentAppLogger);
  const details: Record<string, any> = {};
  const said: string[] = [];
  const outcomes: Array<string | null> = [];
  const holds: boolean[] = [];
  let endCall!: () => void;
  const ended = new Promise<void>((resolve) => (endCall = resolve));
  const ctx: ToolCallContext = testToolContext({
    setDetail: (key, value) => (details[key] = value),
    call: {
      agentFinishedSpeaking: async () => undefined,
      markOutcome: (o) => outcomes.push(o),
      instruct: (text) => (said.push(text), true),
      hold: (on) => holds.push(on),
      whenEnded: () => ended,
    },
  });
  return { clock, scheduler, legs, acks, transfers, ctx, details, said, outcomes, holds, endCall };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));
const idOf = (leg: DialLeg) => new URL(leg.url).searchParams.get('transfer')!;

describe('WarmTransfers', () => {
  it('dials the first person on call from the called number, with the whisper and status URLs', async () => {
    const s = setup();
    const result = await s.transfers.start(s.ctx, 'Burst pipe at 12 Elm Street.');
    expect(result).toMatchObject({ connecting: true, onCall: 'Alice Jones' });
    const [leg] = s.legs.dials;
    const id = idOf(leg);
    expect(leg).toEqual({
      to: alice.mobile,
      from: s.ctx.to,
      url: `${BASE}/twilio/warm-transfer/whisper?call=${s.ctx.callSid}&transfer=${id}`,
      statusCallback: `${BASE}/twilio/warm-transfer/status?call=${s.ctx.callSid}&transfer=${id}`,
      timeoutSeconds: 30,
    });
    expect(s.details.warmTransfer).toMatchObject({ to: 'Alice Jones', personId: 'alice', status: 'dialing', startedAt: '2026-01-15T07:00:00.000Z' });
    expect(s.transfers.pending).toBe(1);
    // The caller is on hold: the agent does not prompt their silence.
    expect(s.holds).toEqual([true]);
  });

  it('whispers, bridges on 1 and acknowledges the page', async () => {
    const s = setup();
    await s.transfers.start(s.ctx, 'Burst pipe.');
    const id = idOf(s.legs.dials[0]);
    s.clock.advance(5_000);
    expect(s.transfers.legEvent(id, 'whisper', '')).toContain('a caller is waiting to be connected to you. Burst pipe. Press 1');
    expect(s.transfers.legEvent(id, 'digits', '1')).toContain(`<Conference endConferenceOnExit="true" beep="false">transfer-${id}</Conference>`);
    expect(s.outcomes).toEqual(['transferred']);
    await flush();
    expect(s.legs.redirects).toEqual([{ sid: s.ctx.callSid, twiml: expect.stringContaining(`transfer-${id}`) }]);
    expect(s.acks).toEqual([[s.ctx.callSid, 'transfer', '2026-01-15T07:00:05.000Z', 'alice']]);
    expect(s.details.warmTransfer).toMatchObject({ status: 'bridged', answeredAt: '2026-01-15T07:00:05.000Z', bridgedAt: '2026-01-15T07:00:05.000Z' });
    expect(s.transfers.pending).toBe(0);
    expect(s.scheduler.pending).toBe(0);
    // A later timeout or key changes nothing.
    s.scheduler.advance(TIMEOUT_MS * 2);
    expect(s.said).toEqual([]);
    // Over: not held here any more (the phone line tells the leg goodbye).
    expect(s.transfers.legEvent(id, 'digits', '1')).toBeNull();
  });

  it('on 2 hands the caller back to the agent for a callback time', async () => {
    const s = setup();
    await s.transfers.start(s.ctx, 'Burst pipe.');
    const id = idOf(s.legs.dials[0]);
    s.transfers.legEvent(id, 'whisper', '');
    expect(s.transfers.legEvent(id, 'digits', '2')).toContain('<Say>Okay. The caller will be offered a call back. Goodbye.</Say><Hangup/>');
    expect(s.said).toEqual([expect.stringContaining('ask when would be a good time for Alice Jones to call them back')]);
    expect(s.holds).toEqual([true, false]);
    expect(s.details.warmTransfer).toMatchObject({ status: 'declined' });
    expect(s.legs.ended).toEqual([]);
    expect(s.outcomes).toEqual([]);
  });

  it('times out on the injected clock: the ringing leg is cancelled, the agent takes a callback time', async () => {
    const s = setup();
    await s.transfers.start(s.ctx, 'Burst pipe.');
    s.scheduler.advance(TIMEOUT_MS - DEADLINE_CHECK_MS);
    expect(s.said).toEqual([]);
    s.scheduler.advance(DEADLINE_CHECK_MS);
    expect(s.legs.ended).toEqual([{ sid: 'CA' + 'c'.repeat(32), answered: false }]);
    expect(s.said).toHaveLength(1);
    expect(s.details.warmTransfer).toMatchObject({ status: 'timed-out', endedAt: '2026-01-15T07:00:30.000Z' });
    expect(s.scheduler.pending).toBe(0);
  });

  it('gives the whisper its own time: answered at 25 s, it times out 30 s later and hangs the answered leg up', async () => {
    const s = setup();
    await s.transfers.start(s.ctx, 'Burst pipe.');
    s.scheduler.advance(25_000);
    s.transfers.legEvent(idOf(s.legs.dials[0]), 'whisper', '');
    s.scheduler.advance(29_000);
    expect(s.said).toEqual([]);
    s.scheduler.advance(1_000);
    expect(s.legs.ended).toEqual([{ sid: 'CA' + 'c'.repeat(32), answered: true }]);
    expect(s.said).toHaveLength(1);
  });

  it('busy from the status callback is no answer', async () => {
    const s = setup();
    await s.transfers.start(s.ctx, 'Burst pipe.');
    s.transfers.legEvent(idOf(s.legs.dials[0]), 'status', 'busy');
    expect(s.details.warmTransfer).toMatchObject({ status: 'no-answer' });
    expect(s.said).toHaveLength(1);
    expect(s.legs.ended).toEqual([]);
  });

  it('a caller who hangs up cancels the leg; a late whisper request finds no transfer', async () => {
    const s = setup();
    await s.transfers.start(s.ctx, 'Burst pipe.');
    s.endCall();
    await flush();
    expect(s.legs.ended).toEqual([{ sid: 'CA' + 'c'.repeat(32), answered: false }]);
    expect(s.said).toEqual([]);
    expect(s.transfers.legEvent(idOf(s.legs.dials[0]), 'whisper', '')).toBeNull();
  });

  it('a failed bridge takes the outcome back, ends the leg and hands the caller back to the agent', async () => {
    const s = setup();
    s.legs.failRedirect = true;
    await s.transfers.start(s.ctx, 'Burst pipe.');
    const id = idOf(s.legs.dials[0]);
    s.transfers.legEvent(id, 'whisper', '');
    s.transfers.legEvent(id, 'digits', '1');
    await flush();
    expect(s.outcomes).toEqual(['transferred', null]);
    expect(s.legs.ended).toHaveLength(1);
    expect(s.said).toHaveLength(1);
    expect(s.acks).toEqual([]);
    expect(s.details.warmTransfer).toMatchObject({ status: 'failed' });
  });

  it('tells the agent when nobody is on call, or the dial is refused; one transfer per call at a time', async () => {
    const nobody = setup([]);
    expect(await nobody.transfers.start(nobody.ctx, 'x')).toMatchObject({ connecting: false, instruction: expect.stringContaining('Nobody is on call') });
    expect(nobody.legs.dials).toEqual([]);

    const refused = setup();
    refused.legs.failDial = true;
    expect(await refused.transfers.start(refused.ctx, 'x')).toMatchObject({ connecting: false, instruction: expect.stringContaining('Alice Jones could not be reached') });
    expect(refused.details.warmTransfer).toMatchObject({ status: 'failed', error: expect.stringContaining('HTTP 400') });
    expect(refused.scheduler.pending).toBe(0);

    const twice = setup();
    await twice.transfers.start(twice.ctx, 'x');
    expect(await twice.transfers.start(twice.ctx, 'x')).toMatchObject({ connecting: false });
    expect(twice.legs.dials).toHaveLength(1);
  });

  it('dials the person already paged for this call\'s emergency, the latest page not declined', async () => {
    const page = (step: number, personId: string, answer: string | null) => ({ step, personId, personName: personId.toUpperCase(), to: `+1555123000${step}`, status: 'sent', answer });
    const s = setup([alice], { pages: [page(0, 'bob', 'declined'), page(1, 'carol', null)] });
    expect(await s.transfers.start(s.ctx, 'x')).toMatchObject({ connecting: true, onCall: 'CAROL' });
    expect(s.legs.dials[0].to).toBe('+15551230001');
    expect(s.details.warmTransfer).toMatchObject({ personId: 'carol' });

    const allDeclined = setup([alice], { pages: [page(0, 'bob', 'declined')] });
    expect(await allDeclined.transfers.start(allDeclined.ctx, 'x')).toMatchObject({ onCall: 'Alice Jones' });
  });

  it('tries the next person on a second transfer of the call, down the escalation list then the rota, until everyone was tried', async () => {
    const bob: OnCallPerson = { id: 'bob', name: 'Bob Smith', mobile: '+15551230002' };
    const carol: OnCallPerson = { id: 'carol', name: 'Carol Diaz', mobile: '+15551230003' };
    const page = { step: 0, personId: 'bob', personName: 'Bob Smith', to: bob.mobile, status: 'sent', answer: null };
    const s = setup([alice, carol], { people: [bob, alice], pages: [page] });
    const tryOnce = async (): Promise<unknown> => {
      const result = await s.transfers.start(s.ctx, 'Burst pipe.');
      const leg = s.legs.dials.at(-1);
      if (leg) s.transfers.legEvent(idOf(leg), 'status', 'no-answer');
      return result;
    };
    expect(await tryOnce()).toMatchObject({ connecting: true, onCall: 'Bob Smith' });
    expect(await tryOnce()).toMatchObject({ connecting: true, onCall: 'Alice Jones' });
    expect(await tryOnce()).toMatchObject({ connecting: true, onCall: 'Carol Diaz' });
    expect(s.legs.dials.map((d) => d.to)).toEqual([bob.mobile, alice.mobile, carol.mobile]);
    expect(await s.transfers.start(s.ctx, 'Burst pipe.')).toMatchObject({ connecting: false, instruction: expect.stringContaining('Everyone on call has been tried') });
    expect(s.legs.dials).toHaveLength(3);
    // Once the call is over, what it tried is forgotten.
    s.endCall();
    await flush();
    expect(await s.transfers.start(s.ctx, 'Burst pipe.')).toMatchObject({ connecting: true, onCall: 'Bob Smith' });
  });
});
