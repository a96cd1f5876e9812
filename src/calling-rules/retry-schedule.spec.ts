import type { CalleeLocation } from './callee-location';
import { CallingWindow, type CallingWindowConfig } from './calling-window';
import { RETRYABLE_OUTCOMES, RetrySchedule, type RetryConfig } from './retry-schedule';

const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const t = (iso: string): number => Date.parse(iso);
const WINDOW: CallingWindowConfig = { defaultTimeZone: 'America/New_York', startMinute: 480, endMinute: 1260, dialLeadMs: 2 * MIN, applyJurisdictionRules: true };
const RETRY: RetryConfig = { slotMinutes: [600, 840, 1080], horizonMs: 5 * DAY };
const at = (timeZones: string[], regions: string[] = []): CalleeLocation => ({ timeZones, country: 'US', regions });

function schedule(location: CalleeLocation, window: Partial<CallingWindowConfig> = {}, retry: Partial<RetryConfig> = {}) {
  const w = new CallingWindow({ ...WINDOW, ...window });
  return { retries: new RetrySchedule(w, { ...RETRY, ...retry }), plan: w.plan({ location }) };
}

describe('RetrySchedule', () => {
  const ny = schedule(at(['America/New_York']));
  // Request created Tuesday 10 March 2026, 09:00 EDT.
  const created = t('2026-03-10T09:00:00-04:00');

  it('retries only unanswered attempts', () => {
    expect([...RETRYABLE_OUTCOMES].sort()).toEqual(['busy', 'failed', 'no-answer']);
  });

  it.each([
    ['2026-03-10T09:00:00-04:00', '2026-03-10T10:00:00-04:00'],
    ['2026-03-10T10:00:00-04:00', '2026-03-10T14:00:00-04:00'], // strictly after
    ['2026-03-10T13:59:59-04:00', '2026-03-10T14:00:00-04:00'],
    ['2026-03-10T18:00:00-04:00', '2026-03-11T10:00:00-04:00'],
    ['2026-03-10T23:00:00-04:00', '2026-03-11T10:00:00-04:00'],
  ])('after an attempt at %s: %s', (attempt, expected) => {
    expect(ny.retries.next(t(attempt), created, ny.plan)).toEqual({ kind: 'retry', at: t(expected) });
  });

  it('gives five days of slots, then exhausts the request', () => {
    const all = ny.retries.all(created, created, ny.plan);
    expect(all).toHaveLength(15); // Tuesday to Saturday, 10:00, 14:00 and 18:00; Sunday 10:00 is past the 5 days
    expect(all[0]).toBe(t('2026-03-10T10:00:00-04:00'));
    expect(all.at(-1)).toBe(t('2026-03-14T18:00:00-04:00'));
    expect(ny.retries.next(all[14], created, ny.plan)).toEqual({ kind: 'exhausted' });
    expect(ny.retries.next(created + 5 * DAY, created, ny.plan)).toEqual({ kind: 'exhausted' });
    expect(ny.retries.next(created + 6 * DAY, created, ny.plan)).toEqual({ kind: 'exhausted' });
  });

  it('takes a slot that falls exactly on the horizon', () => {
    const c = t('2026-03-10T10:00:00-04:00');
    expect(ny.retries.all(c, c, ny.plan).at(-1)).toBe(t('2026-03-15T10:00:00-04:00'));
  });

  it('follows OUTBOUND_RETRY_DAYS', () => {
    const short = schedule(at(['America/New_York']), {}, { horizonMs: DAY });
    expect(short.retries.all(created, created, short.plan)).toEqual([
      t('2026-03-10T10:00:00-04:00'),
      t('2026-03-10T14:00:00-04:00'),
      t('2026-03-10T18:00:00-04:00'),
    ]);
  });

  it('skips slots outside the window: a 20:59 slot (the call would start after 21:00) and a 07:00 one', () => {
    const s = schedule(at(['America/New_York']), {}, { slotMinutes: [7 * 60, 20 * 60 + 58, 20 * 60 + 59] });
    expect(s.retries.all(created, created, s.plan).slice(0, 2)).toEqual([t('2026-03-10T20:58:00-04:00'), t('2026-03-11T20:58:00-04:00')]);
  });

  it('skips slots outside state rules: Florida after 20:00, Texas on Sunday morning, Alabama all Sunday', () => {
    const fl = schedule(at(['America/New_York'], ['US-FL']), {}, { slotMinutes: [600, 1230] });
    expect(fl.retries.all(created, created, fl.plan).every((r) => new Date(r).getUTCHours() === 14)).toBe(true);
    // A request created on Wednesday: its horizon ends Monday 09:00 EDT (08:00 CDT).
    const wednesday = created + DAY;
    const saturdayEvening = t('2026-03-14T18:00:00-05:00');
    const tx = schedule(at(['America/Chicago'], ['US-TX']));
    expect(tx.retries.next(saturdayEvening, wednesday, tx.plan)).toEqual({ kind: 'retry', at: t('2026-03-15T14:00:00-05:00') });
    const al = schedule(at(['America/Chicago'], ['US-AL']));
    expect(al.retries.next(saturdayEvening, wednesday, al.plan)).toEqual({ kind: 'exhausted' }); // Monday 10:00 is past the horizon
    expect(al.retries.next(saturdayEvening, wednesday + DAY, al.plan)).toEqual({ kind: 'retry', at: t('2026-03-16T10:00:00-05:00') });
  });

  it('keeps local slots across the spring-forward and fall-back days', () => {
    const mar = t('2026-03-07T09:00:00-05:00');
    expect(ny.retries.all(mar, mar, ny.plan).slice(0, 6)).toEqual([
      t('2026-03-07T10:00:00-05:00'), t('2026-03-07T14:00:00-05:00'), t('2026-03-07T18:00:00-05:00'),
      t('2026-03-08T10:00:00-04:00'), t('2026-03-08T14:00:00-04:00'), t('2026-03-08T18:00:00-04:00'),
    ]);
    const oct = t('2026-10-31T19:00:00-04:00');
    expect(ny.retries.next(oct, oct, ny.plan)).toEqual({ kind: 'retry', at: t('2026-11-01T10:00:00-05:00') });
  });

  it('moves a slot that a spring-forward day skips past the gap, and takes a repeated one once', () => {
    const night = schedule(at(['America/New_York']), { startMinute: 0, endMinute: 1439 }, { slotMinutes: [150] }); // 02:30
    const mar = t('2026-03-07T12:00:00-05:00');
    expect(night.retries.all(mar, mar, night.plan).slice(0, 2)).toEqual([t('2026-03-08T03:30:00-04:00'), t('2026-03-09T02:30:00-04:00')]);
    const late = schedule(at(['America/New_York']), { startMinute: 0, endMinute: 1439 }, { slotMinutes: [90] }); // 01:30
    const oct = t('2026-10-31T12:00:00-04:00');
    expect(late.retries.all(oct, oct, late.plan).slice(0, 2)).toEqual([t('2026-11-01T01:30:00-04:00'), t('2026-11-02T01:30:00-05:00')]);
  });

  it('uses the local slots of every zone of a split area code that are allowed in all of them', () => {
    // Boise is an hour ahead of Los Angeles: 10:00 Boise (09:00 LA) and 10:00 LA (11:00 Boise) both qualify.
    const idaho = schedule(at(['America/Boise', 'America/Los_Angeles']));
    const c = t('2026-03-10T09:00:00-06:00');
    expect(idaho.retries.all(c, c, idaho.plan).slice(0, 4)).toEqual([
      t('2026-03-10T10:00:00-06:00'), t('2026-03-10T10:00:00-07:00'), t('2026-03-10T14:00:00-06:00'), t('2026-03-10T14:00:00-07:00'),
    ]);
    // 08:00 Boise is 07:00 in Los Angeles: never a slot.
    const early = schedule(at(['America/Boise', 'America/Los_Angeles']), {}, { slotMinutes: [480] });
    expect(early.retries.next(c, c, early.plan)).toEqual({ kind: 'retry', at: t('2026-03-11T08:00:00-07:00') });
  });

  it('needs a slot', () => {
    expect(() => new RetrySchedule(new CallingWindow(WINDOW), { slotMinutes: [], horizonMs: DAY })).toThrow(/no retry slots/);
  });
});
