import fc from 'fast-check';
import { CallingWindow } from '../calling-rules/calling-window';
import { UNKNOWN_LOCATION } from '../calling-rules/callee-location';
import { DialGate, MAX_ATTEMPTS_PER_DAY, type DialFacts } from './dial-gate';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const window = new CallingWindow({ defaultTimeZone: 'America/New_York', startMinute: 8 * 60, endMinute: 21 * 60, dialLeadMs: 2 * 60_000, applyJurisdictionRules: true });
const gate = new DialGate(window, 5 * DAY);
const plan = window.plan({ location: UNKNOWN_LOCATION, timeZone: 'America/New_York' });
/** 2026-12-02 (a Wednesday) at hh:mm New York time (UTC-5 in December). */
const ny = (hh: number, mm = 0, day = 2) => Date.UTC(2026, 11, day, hh + 5, mm);

const facts = (over: Partial<DialFacts> = {}): DialFacts => ({
  now: ny(10),
  status: 'queued',
  createdAt: ny(9),
  notBefore: null,
  onDoNotCallList: false,
  recentAttempts: [],
  plan,
  ...over,
});

describe('DialGate', () => {
  it('dials a queued request inside the window', () => {
    expect(gate.decide(facts())).toEqual({ action: 'dial' });
  });

  it('drops a request that is no longer queued', () => {
    for (const status of ['dialing', 'completed', 'exhausted', 'cancelled', 'refused'] as const) expect(gate.decide(facts({ status }))).toEqual({ action: 'drop' });
  });

  it('refuses, for good, a number on the do-not-call list', () => {
    expect(gate.decide(facts({ onDoNotCallList: true }))).toEqual({ action: 'finish', status: 'refused', reason: 'do_not_call' });
  });

  it('defers to the window: before 08:00, and from the last minute a call can no longer start by 21:00', () => {
    expect(gate.decide(facts({ now: ny(7, 59) }))).toEqual({ action: 'defer', at: ny(8), reason: 'calling_window' });
    expect(gate.decide(facts({ now: ny(20, 58) }))).toEqual({ action: 'dial' });
    // A retry due at 20:59 would ring at 21:01: the next morning.
    expect(gate.decide(facts({ now: ny(20, 59) }))).toEqual({ action: 'defer', at: ny(8, 0, 3), reason: 'calling_window' });
  });

  it('defers to notBefore, and then to the window', () => {
    expect(gate.decide(facts({ notBefore: ny(15) }))).toEqual({ action: 'defer', at: ny(15), reason: 'not_before' });
    expect(gate.decide(facts({ notBefore: ny(22) }))).toEqual({ action: 'defer', at: ny(8, 0, 3), reason: 'calling_window' });
  });

  it(`allows ${MAX_ATTEMPTS_PER_DAY} attempts per number in any 24 hours`, () => {
    const two = [ny(8, 30), ny(9, 30)];
    expect(gate.decide(facts({ recentAttempts: two }))).toEqual({ action: 'dial' });
    const three = [ny(9, 30), ny(8, 30), ny(9, 45)];
    // The oldest of the three turns 24 h old at 08:30 tomorrow.
    expect(gate.decide(facts({ recentAttempts: three }))).toEqual({ action: 'defer', at: ny(8, 30, 3), reason: 'daily_attempt_cap' });
  });

  it('exhausts a request when nothing is allowed before the retry horizon', () => {
    const late = facts({ createdAt: ny(10) - 5 * DAY + HOUR, now: ny(20, 59) });
    expect(gate.decide(late)).toMatchObject({ action: 'finish', status: 'exhausted' });
  });

  it('never dials outside the window and always defers to a time every rule allows (random times, zones, attempts)', () => {
    const zones = Intl.supportedValuesOf('timeZone');
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(2026, 0, 1), max: Date.UTC(2030, 11, 31) }),
        fc.constantFrom(...zones),
        fc.array(fc.integer({ min: 0, max: DAY - 1 }), { maxLength: 5 }),
        fc.option(fc.integer({ min: 0, max: 3 * DAY }), { nil: null }),
        (now, zone, agoMs, notBeforeIn) => {
          const p = window.plan({ location: UNKNOWN_LOCATION, timeZone: zone });
          const f = facts({ now, createdAt: now, plan: p, recentAttempts: agoMs.map((ago) => now - ago), notBefore: notBeforeIn === null ? null : now + notBeforeIn });
          const d = gate.decide(f);
          if (d.action === 'dial') {
            expect(window.isAllowed(now, p)).toBe(true);
            expect(f.recentAttempts.length).toBeLessThan(MAX_ATTEMPTS_PER_DAY);
          }
          if (d.action === 'defer') {
            expect(d.at).toBeGreaterThan(now);
            expect(window.isAllowed(d.at, p)).toBe(true);
            expect(f.recentAttempts.filter((t) => t > d.at - DAY).length).toBeLessThan(MAX_ATTEMPTS_PER_DAY);
            expect(d.at).toBeGreaterThanOrEqual(f.notBefore ?? 0);
            // Asked again at that time (with nothing new), it dials.
            expect(gate.decide({ ...f, now: d.at })).toEqual({ action: 'dial' });
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
