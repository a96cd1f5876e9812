import type { CalleeLocation } from './callee-location';
import { everyDay, intersectWeeks, rulesFor, type Hours, type Week } from './jurisdiction-rules';
import { DAY_MS, MINUTE, instantAt, isValidTimeZone, localDateKey, localTime, offsetTransitions } from './local-time';

export interface CallingWindowConfig {
  /** Zone for a callee whose number tells none (and who gave none). */
  readonly defaultTimeZone: string;
  /** The window every day, in minutes after local midnight, both ends included (federal: 08:00-21:00). */
  readonly startMinute: number;
  readonly endMinute: number;
  /** A dial is allowed only if the call would still start inside the window this long after it. */
  readonly dialLeadMs: number;
  /** Narrow the window further by the callee's state (or country) rules: JURISDICTION_RULES. */
  readonly applyJurisdictionRules: boolean;
}

/** Who is called, as the request and the number tell. */
export interface Callee {
  readonly location: CalleeLocation;
  /** A time zone given with the request; it wins over the number's zones. */
  readonly timeZone?: string | null;
}

/**
 * Where and when a callee may be called, worked out once per request: the zones their clock may
 * show (a dial must be inside the window in all of them) and the hours of each day of the week.
 */
export interface CallingPlan {
  readonly timeZones: readonly string[];
  readonly week: Week;
  /** The codes of the jurisdiction rules applied ("US-TX"), for logs. */
  readonly jurisdictions: readonly string[];
}

export type WindowRefusal =
  /** The local day has no calling hours (a Sunday in Alabama). */
  | 'closed-day'
  /** Earlier than the day's first allowed minute. */
  | 'before-window'
  /** Too late: the call would not start by the day's last allowed minute (dial lead included). */
  | 'after-window';

export interface WindowDecision {
  readonly allowed: boolean;
  /** Why not, in the first zone that refuses. */
  readonly reason?: WindowRefusal;
  /** The zone that refused. */
  readonly timeZone?: string;
  /** When refused: the next instant a dial is allowed; absent when none is within SEARCH_DAYS (zones too far apart). */
  readonly nextAllowedAt?: number;
}

/** How far ahead nextAllowedAt looks. Every rule is weekly, so a week and a day would do; DST shifts get a week more. */
export const SEARCH_DAYS = 15;

/**
 * The calling window: whether a dial may start at an instant, and when it next may. Pure; the time
 * is passed in. The window in each zone is the configured one narrowed by the callee's rules; the
 * callee's clock is read with Intl, so DST changes are taken as they come.
 */
export class CallingWindow {
  private readonly base: Week;

  constructor(readonly config: CallingWindowConfig) {
    if (!isValidTimeZone(config.defaultTimeZone)) throw new Error(`unknown time zone ${config.defaultTimeZone}`);
    if (config.startMinute > config.endMinute) throw new Error('the calling window starts after it ends');
    this.base = everyDay({ start: config.startMinute, end: config.endMinute });
  }

  /**
   * The zones and hours for a callee: the request's zone if it gave a valid one, else the number's
   * zones, else the default zone. Zones Intl does not know are dropped.
   */
  plan(callee: Callee): CallingPlan {
    const explicit = callee.timeZone && isValidTimeZone(callee.timeZone) ? [callee.timeZone] : [];
    const fromNumber = callee.location.timeZones.filter(isValidTimeZone);
    const timeZones = explicit.length > 0 ? explicit : fromNumber.length > 0 ? [...new Set(fromNumber)] : [this.config.defaultTimeZone];
    const rules = this.config.applyJurisdictionRules ? rulesFor(callee.location.country, callee.location.regions) : [];
    return { timeZones, week: intersectWeeks(this.base, ...rules.map((r) => r.week)), jurisdictions: rules.map((r) => r.code) };
  }

  /** May a dial start at `now`? When not, why, and when it next may. */
  check(now: number, plan: CallingPlan): WindowDecision {
    for (const zone of plan.timeZones) {
      const reason = this.refusal(now, zone, plan.week);
      if (reason) {
        const next = this.nextAllowedAt(now, plan);
        return next === null ? { allowed: false, reason, timeZone: zone } : { allowed: false, reason, timeZone: zone, nextAllowedAt: next };
      }
    }
    return { allowed: true };
  }

  isAllowed(instant: number, plan: CallingPlan): boolean {
    return plan.timeZones.every((zone) => this.refusal(instant, zone, plan.week) === null);
  }

  /** The day's hours in `zone` at `instant` (null: no calls that day). */
  hoursAt(instant: number, zone: string, plan: CallingPlan): Hours | null {
    return plan.week[localTime(zone, instant).weekday];
  }

  /**
   * The first instant at or after `from` at which a dial is allowed; null when there is none within
   * SEARCH_DAYS. Exact to the millisecond: the allowed instants of a zone start only at a day's
   * opening (its first allowed minute, moved past a DST gap if it falls in one), at an offset change
   * (when the clock jumps into the window), or one dial lead before an offset change (when the clock
   * at the call's start jumps back into the window); the first allowed instant is one of these, or
   * `from` itself, in one of the zones.
   */
  nextAllowedAt(from: number, plan: CallingPlan): number | null {
    const lead = this.config.dialLeadMs;
    const until = from + SEARCH_DAYS * DAY_MS;
    const candidates = new Set<number>([from]);
    for (const zone of plan.timeZones) {
      const firstDay = localDateKey(zone, from) - DAY_MS;
      for (let day = firstDay; day <= firstDay + (SEARCH_DAYS + 1) * DAY_MS; day += DAY_MS) {
        const h = plan.week[new Date(day).getUTCDay()];
        if (h) candidates.add(instantAt(zone, day + h.start * MINUTE));
      }
      for (const t of offsetTransitions(zone, from, until + lead)) {
        candidates.add(t);
        candidates.add(t - lead);
      }
    }
    const sorted = [...candidates].filter((c) => c >= from && c <= until).sort((a, b) => a - b);
    return sorted.find((c) => this.isAllowed(c, plan)) ?? null;
  }

  private refusal(instant: number, zone: string, week: Week): WindowRefusal | null {
    const atDial = localTime(zone, instant);
    const h = week[atDial.weekday];
    if (!h) return 'closed-day';
    const start = h.start * MINUTE, end = h.end * MINUTE;
    if (atDial.msOfDay < start) return 'before-window';
    if (atDial.msOfDay > end) return 'after-window';
    const atStart = localTime(zone, instant + this.config.dialLeadMs);
    const sameDay = atStart.year === atDial.year && atStart.month === atDial.month && atStart.day === atDial.day;
    if (!sameDay || atStart.msOfDay > end) return 'after-window';
    // Only when the clock went back between the dial and the call's start.
    if (atStart.msOfDay < start) return 'before-window';
    return null;
  }
}
