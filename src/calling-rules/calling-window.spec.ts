import type { CalleeLocation } from './callee-location';
import { CallingWindow, type CallingWindowConfig } from './calling-window';

const MIN = 60_000;
const t = (iso: string): number => Date.parse(iso);

const FEDERAL: CallingWindowConfig = { defaultTimeZone: 'America/New_York', startMinute: 8 * 60, endMinute: 21 * 60, dialLeadMs: 2 * MIN, applyJurisdictionRules: true };
const at = (timeZones: string[], country: string | null = 'US', regions: string[] = []): CalleeLocation => ({ timeZones, country, regions });
const NEW_YORK = at(['America/New_York'], 'US', ['US-NY']);

function check(now: string, location: CalleeLocation, config: Partial<CallingWindowConfig> = {}, timeZone?: string) {
  const window = new CallingWindow({ ...FEDERAL, ...config });
  return window.check(t(now), window.plan({ location, timeZone }));
}

describe('CallingWindow: the edges (New York, federal 08:00-21:00, 2 minute dial lead)', () => {
  // Tuesday 10 March 2026, EDT (-04:00).
  it.each([
    ['2026-03-10T07:59:59.999-04:00', false, 'before-window'],
    ['2026-03-10T08:00:00-04:00', true, undefined],
    ['2026-03-10T12:00:00-04:00', true, undefined],
    ['2026-03-10T20:57:59-04:00', true, undefined],
    ['2026-03-10T20:58:00-04:00', true, undefined], // the call starts at 21:00:00 at the latest
    ['2026-03-10T20:58:00.001-04:00', false, 'after-window'],
    ['2026-03-10T20:58:01-04:00', false, 'after-window'],
    ['2026-03-10T20:59:00-04:00', false, 'after-window'], // a retry due at 20:59 waits for the morning
    ['2026-03-10T21:00:00-04:00', false, 'after-window'],
    ['2026-03-10T23:59:59-04:00', false, 'after-window'],
    ['2026-03-11T00:00:00-04:00', false, 'before-window'],
  ])('%s: allowed %s (%s)', (now, allowed, reason) => {
    const decision = check(now, NEW_YORK);
    expect([decision.allowed, decision.reason]).toEqual([allowed, reason]);
  });

  it('gives the next opening when refused: the same morning, or the next one', () => {
    expect(check('2026-03-10T07:59:59-04:00', NEW_YORK).nextAllowedAt).toBe(t('2026-03-10T08:00:00-04:00'));
    expect(check('2026-03-10T03:00:00-04:00', NEW_YORK).nextAllowedAt).toBe(t('2026-03-10T08:00:00-04:00'));
    expect(check('2026-03-10T20:59:00-04:00', NEW_YORK).nextAllowedAt).toBe(t('2026-03-11T08:00:00-04:00'));
    expect(check('2026-03-10T23:30:00-04:00', NEW_YORK).nextAllowedAt).toBe(t('2026-03-11T08:00:00-04:00'));
    expect(check('2026-03-10T12:00:00-04:00', NEW_YORK).nextAllowedAt).toBeUndefined();
  });

  it('without a lead, allows up to the last instant of the window and no further', () => {
    expect(check('2026-03-10T21:00:00-04:00', NEW_YORK, { dialLeadMs: 0 }).allowed).toBe(true);
    expect(check('2026-03-10T21:00:00.001-04:00', NEW_YORK, { dialLeadMs: 0 }).allowed).toBe(false);
  });

  it('follows a configured window', () => {
    const config = { startMinute: 9 * 60 + 30, endMinute: 17 * 60 };
    expect(check('2026-03-10T09:29:59-04:00', NEW_YORK, config).allowed).toBe(false);
    expect(check('2026-03-10T09:30:00-04:00', NEW_YORK, config).allowed).toBe(true);
    expect(check('2026-03-10T16:58:00-04:00', NEW_YORK, config).allowed).toBe(true);
    expect(check('2026-03-10T16:58:01-04:00', NEW_YORK, config)).toMatchObject({ allowed: false, nextAllowedAt: t('2026-03-11T09:30:00-04:00') });
  });

  it('refuses a window that starts after it ends', () => {
    expect(() => new CallingWindow({ ...FEDERAL, startMinute: 600, endMinute: 500 })).toThrow(/starts after it ends/);
    expect(() => new CallingWindow({ ...FEDERAL, defaultTimeZone: 'Nowhere/Land' })).toThrow(/unknown time zone/);
  });
});

describe('CallingWindow: state rules', () => {
  const florida = at(['America/New_York'], 'US', ['US-FL']);
  const texas = at(['America/Chicago'], 'US', ['US-TX']);

  it.each([
    ['Florida', florida, '2026-03-10T19:58:00-04:00', '2026-03-10T19:58:01-04:00'],
    ['Oklahoma', at(['America/Chicago'], 'US', ['US-OK']), '2026-03-10T19:58:00-05:00', '2026-03-10T19:58:01-05:00'],
    ['Maryland', at(['America/New_York'], 'US', ['US-MD']), '2026-03-10T19:58:00-04:00', '2026-03-10T19:58:01-04:00'],
    ['Washington', at(['America/Los_Angeles'], 'US', ['US-WA']), '2026-03-10T19:58:00-07:00', '2026-03-10T19:58:01-07:00'],
  ])('%s ends at 20:00: %s allowed, %s not', (_state, location, lastAllowed, firstRefused) => {
    expect(check(lastAllowed, location).allowed).toBe(true);
    expect(check(firstRefused, location)).toMatchObject({ allowed: false, reason: 'after-window' });
  });

  it('no state rules when CALLING_STATE_RULES is off', () => {
    expect(check('2026-03-10T20:30:00-04:00', florida, { applyJurisdictionRules: false }).allowed).toBe(true);
    expect(check('2026-03-10T20:30:00-04:00', florida).allowed).toBe(false);
  });

  it('Texas: 09:00 on weekdays, noon on Sundays', () => {
    expect(check('2026-03-10T08:59:59-05:00', texas)).toMatchObject({ allowed: false, reason: 'before-window', nextAllowedAt: t('2026-03-10T09:00:00-05:00') });
    expect(check('2026-03-10T09:00:00-05:00', texas).allowed).toBe(true);
    // Sunday 15 March 2026.
    expect(check('2026-03-15T11:59:00-05:00', texas)).toMatchObject({ allowed: false, reason: 'before-window', nextAllowedAt: t('2026-03-15T12:00:00-05:00') });
    expect(check('2026-03-15T12:00:00-05:00', texas).allowed).toBe(true);
    expect(check('2026-03-15T20:58:00-05:00', texas).allowed).toBe(true);
    // Saturday evening: next is Sunday noon, not Sunday 09:00.
    expect(check('2026-03-14T21:30:00-05:00', texas).nextAllowedAt).toBe(t('2026-03-15T12:00:00-05:00'));
  });

  it.each([['US-AL'], ['US-LA'], ['US-MS'], ['US-UT']])('%s: no calls on Sunday, Monday 08:00 next', (region) => {
    const location = at(['America/Chicago'], 'US', [region]);
    expect(check('2026-03-15T12:00:00-05:00', location)).toMatchObject({ allowed: false, reason: 'closed-day', nextAllowedAt: t('2026-03-16T08:00:00-05:00') });
    expect(check('2026-03-14T12:00:00-05:00', location).allowed).toBe(true);
  });

  it('Rhode Island: Saturday 10:00-17:00, weekdays 09:00-18:00', () => {
    const ri = at(['America/New_York'], 'US', ['US-RI']);
    expect(check('2026-03-14T09:59:00-04:00', ri).nextAllowedAt).toBe(t('2026-03-14T10:00:00-04:00'));
    expect(check('2026-03-14T16:58:00-04:00', ri).allowed).toBe(true);
    expect(check('2026-03-14T16:58:01-04:00', ri).nextAllowedAt).toBe(t('2026-03-16T09:00:00-04:00'));
  });

  it('Canada: weekends 10:00-18:00; weekdays until the configured 21:00, not the CRTC 21:30', () => {
    const toronto = at(['America/Toronto'], 'CA', ['CA-ON']);
    expect(check('2026-03-14T09:59:59-04:00', toronto).nextAllowedAt).toBe(t('2026-03-14T10:00:00-04:00'));
    expect(check('2026-03-14T17:58:01-04:00', toronto).allowed).toBe(false);
    expect(check('2026-03-10T08:30:00-04:00', toronto).nextAllowedAt).toBe(t('2026-03-10T09:00:00-04:00'));
    expect(check('2026-03-10T20:58:01-04:00', toronto).allowed).toBe(false);
  });

  it('a prefix shared by two states takes both rules', () => {
    const both = at(['America/Chicago'], 'US', ['US-TX', 'US-OK']);
    expect(check('2026-03-10T08:30:00-05:00', both).allowed).toBe(false); // Texas: 09:00
    expect(check('2026-03-10T20:30:00-05:00', both).allowed).toBe(false); // Oklahoma: 20:00
    expect(check('2026-03-10T19:00:00-05:00', both).allowed).toBe(true);
  });
});

describe('CallingWindow: which clock', () => {
  it('takes the intersection of the windows of an area code spanning two zones', () => {
    // 907: Adak is an hour behind Anchorage. Tuesday 10 March 2026: Anchorage AKDT -08:00, Adak HDT -09:00.
    const alaska = at(['America/Adak', 'America/Anchorage'], 'US', ['US-AK']);
    expect(check('2026-03-10T08:30:00-08:00', alaska)).toMatchObject({ allowed: false, reason: 'before-window', timeZone: 'America/Adak', nextAllowedAt: t('2026-03-10T08:00:00-09:00') });
    expect(check('2026-03-10T08:00:00-09:00', alaska).allowed).toBe(true);
    expect(check('2026-03-10T20:58:00-08:00', alaska).allowed).toBe(true);
    expect(check('2026-03-10T20:58:01-08:00', alaska)).toMatchObject({ allowed: false, reason: 'after-window', timeZone: 'America/Anchorage', nextAllowedAt: t('2026-03-11T08:00:00-09:00') });
  });

  it('never allows a dial when the zones have no window in common', () => {
    // Two 8-hour windows 9 hours apart: Tokyo 09:00-17:00 is 00:00-08:00 UTC, London 09:00-17:00 UTC.
    const apart = at(['Asia/Tokyo', 'Europe/London'], null, []);
    expect(check('2026-01-13T12:00:00Z', at(['Europe/London']), { startMinute: 540, endMinute: 1020 }).allowed).toBe(true);
    for (let h = 0; h < 24; h++) {
      const decision = check(new Date(t('2026-01-13T00:00:00Z') + h * 3600_000).toISOString(), apart, { startMinute: 540, endMinute: 1020 });
      expect(decision.allowed).toBe(false);
      expect(decision.nextAllowedAt).toBeUndefined();
    }
  });

  it("takes the request's time zone over the number's", () => {
    expect(check('2026-03-10T07:30:00-07:00', NEW_YORK, {}, 'America/Los_Angeles')).toMatchObject({ allowed: false, nextAllowedAt: t('2026-03-10T08:00:00-07:00') });
    expect(check('2026-03-10T20:30:00-07:00', NEW_YORK, {}, 'America/Los_Angeles').allowed).toBe(true);
  });

  it("keeps the number's state rules with the request's time zone", () => {
    expect(check('2026-03-10T20:30:00-07:00', at(['America/New_York'], 'US', ['US-FL']), {}, 'America/Los_Angeles').allowed).toBe(false);
  });

  it("ignores a request time zone Intl does not know and uses the number's", () => {
    expect(check('2026-03-10T20:30:00-07:00', NEW_YORK, {}, 'Not/AZone').allowed).toBe(false);
  });

  it('uses DEFAULT_TIMEZONE for a number that tells no zone', () => {
    const unknown = at([], null, []);
    expect(check('2026-03-10T07:30:00-05:00', unknown, { defaultTimeZone: 'America/Chicago' })).toMatchObject({ allowed: false, nextAllowedAt: t('2026-03-10T08:00:00-05:00') });
    expect(check('2026-03-10T20:30:00-05:00', unknown, { defaultTimeZone: 'America/Chicago' }).allowed).toBe(true);
    expect(check('2026-03-10T20:30:00-05:00', unknown).allowed).toBe(false); // New York: 21:30
  });
});

describe('CallingWindow: DST', () => {
  it('opens at 08:00 EDT on the spring-forward Sunday (8 March 2026), an hour earlier in UTC than the day before', () => {
    expect(check('2026-03-07T21:30:00-05:00', NEW_YORK).nextAllowedAt).toBe(t('2026-03-08T08:00:00-04:00'));
    expect(check('2026-03-08T07:59:59-04:00', NEW_YORK).allowed).toBe(false);
    expect(check('2026-03-08T08:00:00-04:00', NEW_YORK).allowed).toBe(true);
    expect(check('2026-03-08T20:58:01-04:00', NEW_YORK).allowed).toBe(false);
  });

  it('opens at 08:00 EST on the fall-back Sunday (1 November 2026)', () => {
    expect(check('2026-10-31T21:30:00-04:00', NEW_YORK).nextAllowedAt).toBe(t('2026-11-01T08:00:00-05:00'));
    expect(check('2026-11-01T07:59:59-05:00', NEW_YORK).allowed).toBe(false);
    expect(check('2026-11-01T08:00:00-05:00', NEW_YORK).allowed).toBe(true);
  });

  it('opens at the end of the gap when the window starts inside it', () => {
    const config = { startMinute: 2 * 60 + 30 };
    // 02:30 is skipped on 8 March 2026: the clock reads 03:00 EDT right after 01:59:59 EST.
    expect(check('2026-03-08T01:00:00-05:00', NEW_YORK, config).nextAllowedAt).toBe(t('2026-03-08T03:00:00-04:00'));
    expect(check('2026-03-08T01:59:59-05:00', NEW_YORK, config).allowed).toBe(false);
    expect(check('2026-03-08T03:00:00-04:00', NEW_YORK, config).allowed).toBe(true);
  });

  it('refuses a dial whose call would start after a window end that the clock runs through at fall-back', () => {
    // Window until 01:30, lead 2 minutes, 1 November 2026: at 01:29 EDT the call starts at 01:31 EDT.
    const config = { startMinute: 0, endMinute: 90 };
    expect(check('2026-11-01T01:28:00-04:00', NEW_YORK, config).allowed).toBe(true);
    expect(check('2026-11-01T01:29:00-04:00', NEW_YORK, config).allowed).toBe(false);
    // After the clock goes back to 01:00 EST, 01:00-01:28 is inside the window again.
    expect(check('2026-11-01T01:29:00-04:00', NEW_YORK, config).nextAllowedAt).toBe(t('2026-11-01T01:00:00-05:00'));
  });

  it('allows a dial again once the call would start after the clock has gone back into the window', () => {
    // Window until 01:30, lead 40 minutes: from 00:51 EDT the call would start after 01:30 EDT, until a dial
    // at 01:20 EDT whose call starts at 02:00 EDT, which is 01:00 EST.
    const config = { startMinute: 0, endMinute: 90, dialLeadMs: 40 * MIN };
    expect(check('2026-11-01T00:50:00-04:00', NEW_YORK, config).allowed).toBe(true);
    expect(check('2026-11-01T00:55:00-04:00', NEW_YORK, config)).toMatchObject({ allowed: false, nextAllowedAt: t('2026-11-01T01:20:00-04:00') });
  });

  const sydney = at(['Australia/Sydney'], 'AU', []);

  it('southern hemisphere: Sydney falls back on 5 April 2026 and springs forward on 4 October 2026', () => {
    expect(check('2026-04-04T21:30:00+11:00', sydney).nextAllowedAt).toBe(t('2026-04-05T08:00:00+10:00'));
    expect(check('2026-04-05T07:59:59+10:00', sydney).allowed).toBe(false);
    expect(check('2026-04-05T08:00:00+10:00', sydney).allowed).toBe(true);
    expect(check('2026-10-03T21:30:00+10:00', sydney).nextAllowedAt).toBe(t('2026-10-04T08:00:00+11:00'));
    expect(check('2026-10-04T07:59:59+11:00', sydney).allowed).toBe(false);
    expect(check('2026-10-04T08:00:00+11:00', sydney).allowed).toBe(true);
  });
});
