import fc from 'fast-check';
import { intervalsOf, OnCallRota, WEEKDAYS, type OnCallPerson, type RotaOverride, type RotaWindow } from './rota';

const utc = (iso: string): number => Date.parse(iso);
const MIN = 60_000;

const alice: OnCallPerson = { id: 'alice', name: 'Alice Jones', mobile: '+15551230001' };
const bob: OnCallPerson = { id: 'bob', name: 'Bob Smith', mobile: '+15551230002' };
const carol: OnCallPerson = { id: 'carol', name: 'Carol Diaz', mobile: '+15551230003' };
const owner: OnCallPerson = { id: 'owner', name: 'Pat Owner', mobile: '+15551230009' };

const EVERY_DAY = [...WEEKDAYS];

function rota(timezone: string, windows: RotaWindow[], overrides: RotaOverride[] = []): OnCallRota {
  return new OnCallRota({ timezone, people: [alice, bob, carol, owner], windows, overrides });
}

const days = (days: RotaWindow['days'], start: string, end: string, people: string[]): RotaWindow => ({ days, start, end, people });
const week = (start: string, end: string, people: string[]): RotaWindow => ({ days: null, start, end, people });
const ids = (r: OnCallRota, iso: string) => r.at(utc(iso)).people.map((p) => p.id);

describe('OnCallRota: weekly windows', () => {
  // New York in January is EST (UTC-5). 14 January 2026 is a Wednesday.
  const ny = rota('America/New_York', [
    days(['mon', 'tue', 'wed', 'thu'], '17:00', '08:00', ['alice']),
    week('fri 17:00', 'mon 08:00', ['bob']),
    days(EVERY_DAY, '00:00', '00:00', ['owner']),
  ]);

  it('opens a window at its start and closes it at its end (start inclusive, end exclusive)', () => {
    expect(ids(ny, '2026-01-14T21:59:59.999Z')).toEqual(['owner']); // Wed 16:59:59.999
    expect(ids(ny, '2026-01-14T22:00:00Z')).toEqual(['alice', 'owner']); // Wed 17:00
    expect(ids(ny, '2026-01-15T12:59:59.999Z')).toEqual(['alice', 'owner']); // Thu 07:59:59.999
    expect(ids(ny, '2026-01-15T13:00:00Z')).toEqual(['owner']); // Thu 08:00
  });

  it('runs a window across midnight into the next day, Thursday night into Friday morning included', () => {
    expect(ids(ny, '2026-01-15T05:00:00Z')).toEqual(['alice', 'owner']); // Thu 00:00, from Wednesday's window
    expect(ids(ny, '2026-01-16T12:59:00Z')).toEqual(['alice', 'owner']); // Fri 07:59, from Thursday's
    expect(ids(ny, '2026-01-16T13:00:00Z')).toEqual(['owner']); // Fri 08:00
  });

  it('runs a weekday-and-time window across the week end (Saturday to Sunday to Monday)', () => {
    expect(ids(ny, '2026-01-16T21:59:00Z')).toEqual(['owner']); // Fri 16:59
    expect(ids(ny, '2026-01-16T22:00:00Z')).toEqual(['bob', 'owner']); // Fri 17:00
    expect(ids(ny, '2026-01-18T04:59:59Z')).toEqual(['bob', 'owner']); // Sat 23:59:59
    expect(ids(ny, '2026-01-18T05:00:00Z')).toEqual(['bob', 'owner']); // Sun 00:00
    expect(ids(ny, '2026-01-19T12:59:59Z')).toEqual(['bob', 'owner']); // Mon 07:59:59
    expect(ids(ny, '2026-01-19T13:00:00Z')).toEqual(['owner']); // Mon 08:00
    expect(ids(ny, '2026-01-19T22:00:00Z')).toEqual(['alice', 'owner']); // Mon 17:00
  });

  it('wraps a window that starts on Saturday and ends on Sunday (day 6 to day 0)', () => {
    const r = rota('America/New_York', [week('sat 22:00', 'sun 06:00', ['carol'])]);
    expect(ids(r, '2026-01-18T02:59:00Z')).toEqual([]); // Sat 21:59
    expect(ids(r, '2026-01-18T03:00:00Z')).toEqual(['carol']); // Sat 22:00
    expect(ids(r, '2026-01-18T10:59:00Z')).toEqual(['carol']); // Sun 05:59
    expect(ids(r, '2026-01-18T11:00:00Z')).toEqual([]); // Sun 06:00
  });

  it('lists the people of every window in force, in window order, each once', () => {
    const r = rota('America/New_York', [
      days(EVERY_DAY, '18:00', '06:00', ['alice', 'bob']),
      days(EVERY_DAY, '22:00', '02:00', ['bob', 'carol']),
      days(EVERY_DAY, '00:00', '00:00', ['owner', 'alice']),
    ]);
    expect(ids(r, '2026-01-14T20:00:00Z')).toEqual(['owner', 'alice']); // 15:00
    expect(ids(r, '2026-01-15T00:00:00Z')).toEqual(['alice', 'bob', 'owner']); // 19:00
    expect(ids(r, '2026-01-15T04:00:00Z')).toEqual(['alice', 'bob', 'carol', 'owner']); // 23:00
    expect(r.at(utc('2026-01-15T04:00:00Z')).from).toBe('windows');
  });

  it('says nobody when no window is in force', () => {
    const r = rota('America/New_York', [days(['mon'], '09:00', '10:00', ['alice'])]);
    expect(r.at(utc('2026-01-14T15:00:00Z'))).toEqual({ people: [], from: 'nobody' });
    expect(new OnCallRota({ timezone: 'UTC', people: [], windows: [], overrides: [] }).at(0)).toEqual({ people: [], from: 'nobody' });
  });

  it('reads equal start and end as 24 hours with days, and as the whole week without', () => {
    expect(intervalsOf(days(['mon'], '08:00', '08:00', []))).toEqual([{ day: 1, minute: 480, minutes: 1440 }]);
    expect(intervalsOf(week('wed 12:00', 'wed 12:00', []))).toEqual([{ day: 3, minute: 720, minutes: 10080 }]);
    expect(intervalsOf(week('sat 22:00', 'sun 06:00', []))).toEqual([{ day: 6, minute: 1320, minutes: 480 }]);
    const always = rota('Asia/Tokyo', [week('wed 12:00', 'wed 12:00', ['alice'])]);
    for (const iso of ['2026-01-14T03:00:00Z', '2026-01-14T02:59:59Z', '2026-01-17T00:00:00Z', '2026-07-01T12:34:56Z']) expect(ids(always, iso)).toEqual(['alice']);
  });
});

describe('OnCallRota: daylight saving time', () => {
  it('America/New_York, clocks forward (8 March 2026, 02:00 EST → 03:00 EDT): a night window is an hour shorter', () => {
    const r = rota('America/New_York', [days(['sat'], '22:00', '06:00', ['alice']), days(['sun'], '06:00', '22:00', ['bob'])]);
    expect(ids(r, '2026-03-08T02:59:59Z')).toEqual([]); // Sat 21:59:59 EST
    expect(ids(r, '2026-03-08T03:00:00Z')).toEqual(['alice']); // Sat 22:00 EST
    expect(ids(r, '2026-03-08T06:59:59Z')).toEqual(['alice']); // 01:59:59 EST
    expect(ids(r, '2026-03-08T07:00:00Z')).toEqual(['alice']); // 03:00 EDT
    expect(ids(r, '2026-03-08T09:59:59Z')).toEqual(['alice']); // 05:59:59 EDT
    expect(ids(r, '2026-03-08T10:00:00Z')).toEqual(['bob']); // 06:00 EDT: seven hours after 22:00 EST
  });

  it('America/New_York, clocks forward: an edge in the skipped hour falls as far past the gap (02:30 is 03:30 EDT)', () => {
    const r = rota('America/New_York', [days(['sun'], '02:30', '05:00', ['alice'])]);
    expect(ids(r, '2026-03-08T06:59:59Z')).toEqual([]); // 01:59:59 EST
    expect(ids(r, '2026-03-08T07:29:59Z')).toEqual([]); // 03:29:59 EDT
    expect(ids(r, '2026-03-08T07:30:00Z')).toEqual(['alice']); // 03:30 EDT
    expect(ids(r, '2026-03-08T08:59:59Z')).toEqual(['alice']);
    expect(ids(r, '2026-03-08T09:00:00Z')).toEqual([]); // 05:00 EDT
  });

  it('America/New_York, clocks back (1 November 2026, 02:00 EDT → 01:00 EST): a hand-over at 01:30 happens once', () => {
    const r = rota('America/New_York', [days(['sat'], '20:00', '01:30', ['alice']), days(['sun'], '01:30', '08:00', ['bob'])]);
    expect(ids(r, '2026-11-01T05:29:59Z')).toEqual(['alice']); // 01:29:59 EDT
    expect(ids(r, '2026-11-01T05:30:00Z')).toEqual(['bob']); // 01:30 EDT, the first 01:30
    expect(ids(r, '2026-11-01T06:00:00Z')).toEqual(['bob']); // 01:00 EST, the repeated hour
    expect(ids(r, '2026-11-01T06:29:59Z')).toEqual(['bob']); // 01:29:59 EST: Alice's window does not open again
    expect(ids(r, '2026-11-01T06:30:00Z')).toEqual(['bob']); // the second 01:30
    expect(ids(r, '2026-11-01T12:59:59Z')).toEqual(['bob']); // 07:59:59 EST
    expect(ids(r, '2026-11-01T13:00:00Z')).toEqual([]); // 08:00 EST: the night was an hour longer
  });

  it('Europe/London, clocks forward (29 March 2026, 01:00 GMT → 02:00 BST)', () => {
    const r = rota('Europe/London', [days(['sat'], '18:00', '01:30', ['alice']), days(['sun'], '01:30', '09:00', ['bob'])]);
    expect(ids(r, '2026-03-29T00:59:59Z')).toEqual(['alice']); // 00:59:59 GMT
    // 01:30 never shows: the hand-over is at 02:30 BST, as far past the gap.
    expect(ids(r, '2026-03-29T01:00:00Z')).toEqual(['alice']); // 02:00 BST
    expect(ids(r, '2026-03-29T01:29:59Z')).toEqual(['alice']);
    expect(ids(r, '2026-03-29T01:30:00Z')).toEqual(['bob']); // 02:30 BST
    expect(ids(r, '2026-03-29T07:59:59Z')).toEqual(['bob']); // 08:59:59 BST
    expect(ids(r, '2026-03-29T08:00:00Z')).toEqual([]); // 09:00 BST
  });

  it('Europe/London, clocks back (25 October 2026, 02:00 BST → 01:00 GMT)', () => {
    const r = rota('Europe/London', [days(['sat'], '18:00', '01:30', ['alice']), days(['sun'], '01:30', '09:00', ['bob'])]);
    expect(ids(r, '2026-10-25T00:29:59Z')).toEqual(['alice']); // 01:29:59 BST
    expect(ids(r, '2026-10-25T00:30:00Z')).toEqual(['bob']); // 01:30 BST
    expect(ids(r, '2026-10-25T01:15:00Z')).toEqual(['bob']); // 01:15 GMT, repeated
    expect(ids(r, '2026-10-25T08:59:59Z')).toEqual(['bob']); // 08:59:59 GMT
    expect(ids(r, '2026-10-25T09:00:00Z')).toEqual([]);
  });

  it('a weekend window keeps its wall-clock edges across a DST change inside it', () => {
    const r = rota('Europe/London', [week('fri 17:00', 'mon 08:00', ['bob'])]);
    expect(ids(r, '2026-03-27T16:59:59Z')).toEqual([]); // Fri 16:59:59 GMT
    expect(ids(r, '2026-03-27T17:00:00Z')).toEqual(['bob']); // Fri 17:00 GMT
    expect(ids(r, '2026-03-30T06:59:59Z')).toEqual(['bob']); // Mon 07:59:59 BST
    expect(ids(r, '2026-03-30T07:00:00Z')).toEqual([]); // Mon 08:00 BST
  });
});

describe('OnCallRota: overrides', () => {
  const base = [days(EVERY_DAY, '17:00', '08:00', ['alice']), days(EVERY_DAY, '00:00', '00:00', ['owner'])];
  const override = (id: string, start: string, end: string, people: string[]): RotaOverride => ({ id, start, end, people, note: null });

  it('replaces the windows while in force, from its start (inclusive) to its end (exclusive)', () => {
    const r = rota('America/New_York', base, [override('sick', '2026-01-15T01:00:00.000Z', '2026-01-15T07:00:00.000Z', ['bob'])]);
    expect(ids(r, '2026-01-15T00:59:59Z')).toEqual(['alice', 'owner']);
    expect(ids(r, '2026-01-15T01:00:00Z')).toEqual(['bob']);
    expect(r.at(utc('2026-01-15T03:00:00Z')).from).toBe('override');
    expect(ids(r, '2026-01-15T06:59:59Z')).toEqual(['bob']);
    expect(ids(r, '2026-01-15T07:00:00Z')).toEqual(['alice', 'owner']);
  });

  it('puts the latest-starting override first when several are in force', () => {
    const r = rota('America/New_York', base, [
      override('night', '2026-01-15T01:00:00.000Z', '2026-01-15T07:00:00.000Z', ['bob', 'carol']),
      override('holiday', '2026-01-12T00:00:00.000Z', '2026-01-19T00:00:00.000Z', ['carol', 'owner']),
    ]);
    expect(ids(r, '2026-01-14T12:00:00Z')).toEqual(['carol', 'owner']);
    expect(ids(r, '2026-01-15T02:00:00Z')).toEqual(['bob', 'carol', 'owner']);
    expect(ids(r, '2026-01-19T00:00:00Z')).toEqual(['alice', 'owner']); // both over: Sunday 19:00, the windows again
  });

  it('skips people the rota does not know', () => {
    const r = new OnCallRota({ timezone: 'UTC', people: [alice], windows: [days(EVERY_DAY, '00:00', '00:00', ['ghost', 'alice'])], overrides: [] });
    expect(ids(r, '2026-01-15T02:00:00Z')).toEqual(['alice']);
  });
});

/**
 * Properties over every zone Intl knows and instants in 2026-2030. A window's people are on call
 * exactly when an oracle reading the zone's clock through Intl says so, away from DST changes;
 * and around them, windows that abut (one ends where the next starts) hand over exactly once:
 * at every instant exactly one of them is in force.
 */
describe('OnCallRota: properties', () => {
  const ZONES = Intl.supportedValuesOf('timeZone');
  const FROM = Date.UTC(2026, 0, 1);
  const TO = Date.UTC(2031, 0, 1);
  const instantArb = fc.oneof(
    fc.integer({ min: FROM, max: TO - 1 }),
    // Near edges: a whole minute give or take a little.
    fc.tuple(fc.integer({ min: FROM / MIN, max: TO / MIN - 1 }), fc.integer({ min: -1500, max: 1500 })).map(([m, d]) => m * MIN + d),
  );
  const minuteArb = fc.integer({ min: 0, max: 1439 });
  const hhmm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;

  const clocks = new Map<string, Intl.DateTimeFormat>();
  /** The oracle: weekday 0-6 from Sunday and minute of the day on the zone's clock, and its UTC offset in minutes. */
  function clock(zone: string, instant: number): { weekday: number; minute: number } {
    let f = clocks.get(zone);
    if (!f) {
      f = new Intl.DateTimeFormat('en-GB', { timeZone: zone, hourCycle: 'h23', weekday: 'short', hour: '2-digit', minute: '2-digit' });
      clocks.set(zone, f);
    }
    const p = Object.fromEntries(f.formatToParts(instant).map((x) => [x.type, x.value]));
    return { weekday: ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(p.weekday), minute: Number(p.hour) * 60 + Number(p.minute) };
  }
  const offsets = new Map<string, Intl.DateTimeFormat>();
  const offset = (zone: string, instant: number): string | undefined => {
    let f = offsets.get(zone);
    if (!f) {
      f = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' });
      offsets.set(zone, f);
    }
    return f.formatToParts(instant).find((x) => x.type === 'timeZoneName')?.value;
  };
  /** No offset change within 8 days either side: wall-clock and instant readings of a window agree. */
  const steady = (zone: string, t: number) => [-8, -4, -2, -1, 1, 2, 4, 8].every((d) => offset(zone, t + d * 86_400_000) === offset(zone, t));

  it('away from DST changes, a days window is in force exactly when the local clock is inside it', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ZONES), instantArb, fc.subarray([...WEEKDAYS], { minLength: 1 }), minuteArb, minuteArb, (zone, t, dayList, a, b) => {
        fc.pre(steady(zone, t));
        const r = rota(zone, [days(dayList, hhmm(a), hhmm(b), ['alice'])]);
        const { weekday, minute } = clock(zone, t);
        const length = b > a ? b - a : b - a + 1440;
        const inside = dayList.some((d) => {
          const since = ((weekday - WEEKDAYS.indexOf(d) + 7) % 7) * 1440 + minute - a;
          return since >= 0 && since < length;
        });
        expect(r.at(t).people.length === 1).toBe(inside);
      }),
      { numRuns: 1000 },
    );
  });

  it('two windows that abut every day partition time, DST changes included', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ZONES), instantArb, minuteArb, minuteArb, (zone, t, a, b) => {
        fc.pre(a !== b);
        const r = rota(zone, [days(EVERY_DAY, hhmm(a), hhmm(b), ['alice']), days(EVERY_DAY, hhmm(b), hhmm(a), ['bob'])]);
        expect(r.at(t).people).toHaveLength(1);
      }),
      { numRuns: 800 },
    );
  });

  it('weekday-and-time windows that abut around the week partition it, DST changes included', () => {
    const weekMinute = fc.integer({ min: 0, max: 7 * 1440 - 1 });
    const weekTime = (m: number) => `${WEEKDAYS[Math.floor(m / 1440)]} ${hhmm(m % 1440)}`;
    fc.assert(
      fc.property(fc.constantFrom(...ZONES), instantArb, fc.uniqueArray(weekMinute, { minLength: 2, maxLength: 4 }), (zone, t, minutes) => {
        // In order around the week: each window runs from one cut to the next.
        const cuts = [...minutes].sort((a, b) => a - b).map(weekTime);
        const windows = cuts.map((c, i) => week(c, cuts[(i + 1) % cuts.length], [[alice, bob, carol, owner][i].id]));
        expect(rota(zone, windows).at(t).people).toHaveLength(1);
      }),
      { numRuns: 1000 },
    );
  });

  it('always has someone with a window of 24 hours every day', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ZONES), instantArb, minuteArb, (zone, t, a) => {
        expect(rota(zone, [days(EVERY_DAY, hhmm(a), hhmm(a), ['alice'])]).at(t).people).toHaveLength(1);
      }),
      { numRuns: 500 },
    );
  });
});
