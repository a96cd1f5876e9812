/**
 * Wall-clock time in an IANA time zone, from Intl alone (no tz library): what a callee's clock
 * reads at an instant, and the instant at which it reads a given time. Pure; instants are epoch ms.
 */

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

/** What a clock in a zone reads. `weekday` 0 is Sunday; `msOfDay` counts from local midnight. */
export interface LocalTime {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly weekday: number;
  readonly msOfDay: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** True when Intl knows the zone (an IANA name or one of its aliases). */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/**
 * The local wall time at `instant` as epoch ms "as if it were UTC": the number Date.UTC gives for
 * the date and time the clock shows. Differences of these are wall-clock durations.
 */
export function wallMs(timeZone: string, instant: number): number {
  const ms = ((instant % 1000) + 1000) % 1000;
  const parts = formatter(timeZone).formatToParts(instant - ms);
  let year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  for (const p of parts) {
    switch (p.type) {
      case 'year': year = Number(p.value); break;
      case 'month': month = Number(p.value); break;
      case 'day': day = Number(p.value); break;
      case 'hour': hour = Number(p.value); break;
      case 'minute': minute = Number(p.value); break;
      case 'second': second = Number(p.value); break;
    }
  }
  return Date.UTC(year, month - 1, day, hour, minute, second, ms);
}

/** The zone's offset from UTC at `instant`, in ms (New York in winter: -5 h). */
export function offsetMs(timeZone: string, instant: number): number {
  return wallMs(timeZone, instant) - instant;
}

export function localTime(timeZone: string, instant: number): LocalTime {
  const wall = wallMs(timeZone, instant);
  const d = new Date(wall);
  const midnight = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    weekday: d.getUTCDay(),
    msOfDay: wall - midnight,
  };
}

/** A local calendar date as the Date.UTC value of its midnight: a key that sorts and adds by DAY_MS. */
export function localDateKey(timeZone: string, instant: number): number {
  const wall = wallMs(timeZone, instant);
  return wall - (((wall % DAY_MS) + DAY_MS) % DAY_MS);
}

/**
 * The instant at which the zone's clock reads `wall` (a localDateKey plus ms of day). Resolved as
 * Temporal's "compatible" disambiguation does: a wall time shown twice (the hour repeated when
 * clocks go back) gives the earlier instant; one never shown (the hour skipped when clocks go
 * forward) is moved forward by the length of the gap (02:30 on a New York spring-forward day is
 * 03:30 EDT).
 */
export function instantAt(timeZone: string, wall: number): number {
  const before = offsetMs(timeZone, wall - DAY_MS);
  const after = offsetMs(timeZone, wall + DAY_MS);
  const matches = [wall - before, wall - after].filter((u) => wallMs(timeZone, u) === wall);
  if (matches.length > 0) return Math.min(...matches);
  // A gap: read with the offset in force before it, the wall time lands as far past the gap.
  return wall - before;
}

/**
 * Instants in [from, to] at which the zone's offset changes (DST starts and ends), ascending.
 * Found by sampling every 6 hours and bisecting to the millisecond: zones change offset at most
 * a few times a year, never twice within 6 hours.
 */
export function offsetTransitions(timeZone: string, from: number, to: number): number[] {
  const step = 6 * HOUR_MS;
  const found: number[] = [];
  let prev = from;
  let prevOffset = offsetMs(timeZone, from);
  while (prev < to) {
    const next = Math.min(prev + step, to);
    const nextOffset = offsetMs(timeZone, next);
    if (nextOffset !== prevOffset) {
      // The offset at lo is prevOffset, at hi it is not: the change is at hi once they meet.
      let lo = prev, hi = next;
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2);
        if (offsetMs(timeZone, mid) === prevOffset) lo = mid;
        else hi = mid;
      }
      found.push(hi);
    }
    prev = next;
    prevOffset = nextOffset;
  }
  return found;
}

/** "HH:MM" (00:00-23:59) as minutes after midnight; throws on anything else. */
export function parseLocalTime(text: string): number {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not a time of day HH:MM`);
  return Number(m[1]) * 60 + Number(m[2]);
}

export function formatLocalTime(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

export const MINUTE = MINUTE_MS;
