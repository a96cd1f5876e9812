import { formatLocalTime, instantAt, isValidTimeZone, localDateKey, localTime, offsetMs, offsetTransitions, parseLocalTime } from './local-time';

const utc = (iso: string): number => Date.parse(iso);

describe('local time', () => {
  it('reads the clock in a zone, weekday and time of day included', () => {
    // Tuesday 10 March 2026, 07:59:59.250 in New York (EDT since the 8th).
    expect(localTime('America/New_York', utc('2026-03-10T11:59:59.250Z'))).toEqual({ year: 2026, month: 3, day: 10, weekday: 2, msOfDay: (7 * 3600 + 59 * 60 + 59) * 1000 + 250 });
    expect(localTime('Australia/Sydney', utc('2026-03-10T11:59:59Z'))).toMatchObject({ day: 10, weekday: 2, msOfDay: (22 * 3600 + 59 * 60 + 59) * 1000 });
    expect(localTime('Pacific/Kiritimati', utc('2026-03-10T11:00:00Z'))).toMatchObject({ day: 11, weekday: 3, msOfDay: 3600_000 });
  });

  it('gives offsets across DST in both hemispheres', () => {
    expect(offsetMs('America/New_York', utc('2026-03-08T06:59:59Z'))).toBe(-5 * 3600_000);
    expect(offsetMs('America/New_York', utc('2026-03-08T07:00:00Z'))).toBe(-4 * 3600_000);
    expect(offsetMs('Australia/Sydney', utc('2026-04-04T15:59:59Z'))).toBe(11 * 3600_000);
    expect(offsetMs('Australia/Sydney', utc('2026-04-04T16:00:00Z'))).toBe(10 * 3600_000);
    expect(offsetMs('Asia/Kolkata', utc('2026-06-01T00:00:00Z'))).toBe(5.5 * 3600_000);
  });

  it('finds the instant a wall time is shown, compatible with Temporal in gaps and overlaps', () => {
    const ny = 'America/New_York';
    expect(instantAt(ny, Date.UTC(2026, 2, 10, 8))).toBe(utc('2026-03-10T12:00:00Z'));
    expect(instantAt(ny, Date.UTC(2026, 2, 7, 8))).toBe(utc('2026-03-07T13:00:00Z'));
    // 02:30 never shows on 8 March 2026: taken as 03:30 EDT.
    expect(instantAt(ny, Date.UTC(2026, 2, 8, 2, 30))).toBe(utc('2026-03-08T07:30:00Z'));
    // 01:30 shows twice on 1 November 2026: the first (EDT) is taken.
    expect(instantAt(ny, Date.UTC(2026, 10, 1, 1, 30))).toBe(utc('2026-11-01T05:30:00Z'));
    // Sydney: 02:30 twice on 5 April, never on 4 October 2026.
    expect(instantAt('Australia/Sydney', Date.UTC(2026, 3, 5, 2, 30))).toBe(utc('2026-04-04T15:30:00Z'));
    expect(instantAt('Australia/Sydney', Date.UTC(2026, 9, 4, 2, 30))).toBe(utc('2026-10-03T16:30:00Z'));
  });

  it('finds offset changes to the millisecond', () => {
    expect(offsetTransitions('America/New_York', utc('2026-01-01T00:00:00Z'), utc('2027-01-01T00:00:00Z'))).toEqual([
      utc('2026-03-08T07:00:00Z'),
      utc('2026-11-01T06:00:00Z'),
    ]);
    expect(offsetTransitions('Asia/Tokyo', utc('2026-01-01T00:00:00Z'), utc('2027-01-01T00:00:00Z'))).toEqual([]);
  });

  it('keys local dates by their midnight', () => {
    expect(localDateKey('America/New_York', utc('2026-03-11T03:59:59Z'))).toBe(Date.UTC(2026, 2, 10));
    expect(localDateKey('America/New_York', utc('2026-03-11T04:00:00Z'))).toBe(Date.UTC(2026, 2, 11));
  });

  it('parses and formats HH:MM, and validates zones', () => {
    expect(parseLocalTime('08:00')).toBe(480);
    expect(parseLocalTime(' 23:59 ')).toBe(1439);
    expect(() => parseLocalTime('24:00')).toThrow(/HH:MM/);
    expect(() => parseLocalTime('8:00')).toThrow(/HH:MM/);
    expect(formatLocalTime(1260)).toBe('21:00');
    expect(isValidTimeZone('America/Indiana/Indianapolis')).toBe(true);
    expect(isValidTimeZone('Mars/Base')).toBe(false);
  });
});
