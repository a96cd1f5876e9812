import { DAY_MS, instantAt, localDateKey, parseLocalTime } from '../calling-rules/local-time';

/**
 * Who is on call when: the rota as stored and served, and the pure decision of whom to page at an
 * instant. Weekly windows are read in the rota's time zone (its wall clock, DST included); one-off
 * overrides are instants.
 */

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface OnCallPerson {
  /** Chosen by whoever keeps the rota (`alice`): what windows and overrides name, and what logs show. */
  readonly id: string;
  readonly name: string;
  /** E.164: where pages go, and the number whose replies acknowledge them. */
  readonly mobile: string;
}

/**
 * A weekly window: with `days`, from `start` to `end` ("HH:MM") on each of those days, ending the next
 * day when `end` is not after `start` ("17:00" to "08:00"; equal: 24 hours). Without `days`, `start`
 * and `end` name their weekday ("fri 17:00" to "mon 08:00"; equal: the whole week).
 */
export interface RotaWindow {
  readonly days: readonly Weekday[] | null;
  readonly start: string;
  readonly end: string;
  /** Person ids, in escalation order. */
  readonly people: readonly string[];
}

/** One-off: from `start` to `end` (ISO 8601 instants), these people are on call instead of the windows'. */
export interface RotaOverride {
  readonly id: string;
  readonly start: string;
  readonly end: string;
  readonly people: readonly string[];
  readonly note: string | null;
}

export interface Rota {
  /** IANA zone the windows are read in. */
  readonly timezone: string;
  readonly people: readonly OnCallPerson[];
  readonly windows: readonly RotaWindow[];
  readonly overrides: readonly RotaOverride[];
}

export const EMPTY_ROTA = (timezone: string): Rota => ({ timezone, people: [], windows: [], overrides: [] });

const MINUTE_MS = 60_000;
const WEEK_MINUTES = 7 * 24 * 60;
const DAY_MINUTES = 24 * 60;

/** "fri 17:00" → [5, 1020]; throws on anything else. */
export function parseWeekTime(text: string): [number, number] {
  const m = /^\s*([a-z]{3})\s+(\S+)\s*$/i.exec(text);
  const day = m ? WEEKDAYS.indexOf(m[1].toLowerCase() as Weekday) : -1;
  if (!m || day < 0) throw new Error(`"${text}" is not a weekday and time such as "fri 17:00"`);
  return [day, parseLocalTime(m[2])];
}

/** A window's stretch in one week: it starts on `day` at `minute` (local) and lasts `minutes` of wall time. */
export interface WeeklyInterval {
  readonly day: number;
  readonly minute: number;
  readonly minutes: number;
}

/** The stretches of a window in a week; throws when its times do not read. */
export function intervalsOf(window: Pick<RotaWindow, 'days' | 'start' | 'end'>): WeeklyInterval[] {
  if (window.days) {
    const start = parseLocalTime(window.start);
    const end = parseLocalTime(window.end);
    const minutes = end > start ? end - start : end - start + DAY_MINUTES;
    return [...new Set(window.days)].map((d) => ({ day: WEEKDAYS.indexOf(d), minute: start, minutes }));
  }
  const [startDay, startMinute] = parseWeekTime(window.start);
  const [endDay, endMinute] = parseWeekTime(window.end);
  const minutes = (endDay * DAY_MINUTES + endMinute - (startDay * DAY_MINUTES + startMinute) + WEEK_MINUTES) % WEEK_MINUTES || WEEK_MINUTES;
  return [{ day: startDay, minute: startMinute, minutes }];
}

/** Who is on call at an instant, in escalation order, and what put them there. */
export interface OnCallNow {
  readonly people: readonly OnCallPerson[];
  /** `override`: one or more overrides replaced the windows; `windows`: the weekly windows; `nobody`: neither names anyone. */
  readonly from: 'override' | 'windows' | 'nobody';
}

/**
 * The rota's decision. At an instant:
 * - if overrides are in force (start <= t < end), their people, the latest-starting override
 *   first (a one-night swap inside a week's holiday cover wins), in each its own order;
 * - otherwise the people of every window in force, in the rota's window order (a 24/7 window
 *   listed last puts the owner at the end of every list);
 * each person once, at their first place. A window's edges are wall-clock times in the rota's
 * zone, turned into instants as Temporal's "compatible" disambiguation does: a start or end in the
 * hour skipped when clocks go forward falls at the end of that gap; one in the hour repeated when
 * they go back, at its first showing. So a hand-over at 01:30 on the night clocks go back happens
 * once, and nobody's window opens twice.
 */
export class OnCallRota {
  private readonly people: ReadonlyMap<string, OnCallPerson>;
  private readonly windows: ReadonlyArray<{ readonly intervals: readonly WeeklyInterval[]; readonly people: readonly string[] }>;
  private readonly overrides: ReadonlyArray<{ readonly start: number; readonly end: number; readonly people: readonly string[]; readonly order: number }>;

  constructor(readonly rota: Rota) {
    this.people = new Map(rota.people.map((p) => [p.id, p]));
    this.windows = rota.windows.map((w) => ({ intervals: intervalsOf(w), people: w.people }));
    this.overrides = rota.overrides.map((o, order) => ({ start: Date.parse(o.start), end: Date.parse(o.end), people: o.people, order }));
  }

  at(instant: number): OnCallNow {
    const overrides = this.overrides
      .filter((o) => o.start <= instant && instant < o.end)
      .sort((a, b) => b.start - a.start || a.order - b.order);
    if (overrides.length > 0) return { people: this.resolve(overrides.flatMap((o) => o.people)), from: 'override' };
    const ids = this.windows.filter((w) => w.intervals.some((i) => this.covers(i, instant))).flatMap((w) => w.people);
    const people = this.resolve(ids);
    return { people, from: people.length > 0 ? 'windows' : 'nobody' };
  }

  /** Whether the interval's occurrence that started on or before the instant's local date (this week's or last week's) covers it. */
  private covers(interval: WeeklyInterval, instant: number): boolean {
    const zone = this.rota.timezone;
    const today = localDateKey(zone, instant);
    const back = (new Date(today).getUTCDay() - interval.day + 7) % 7;
    for (const weeks of [0, 1]) {
      const startWall = today - (back + 7 * weeks) * DAY_MS + interval.minute * MINUTE_MS;
      const start = instantAt(zone, startWall);
      if (start > instant) continue;
      if (instant < instantAt(zone, startWall + interval.minutes * MINUTE_MS)) return true;
    }
    return false;
  }

  private resolve(ids: readonly string[]): OnCallPerson[] {
    const seen = new Set<string>();
    const out: OnCallPerson[] = [];
    for (const id of ids) {
      const person = this.people.get(id);
      if (!person || seen.has(id)) continue;
      seen.add(id);
      out.push(person);
    }
    return out;
  }
}
