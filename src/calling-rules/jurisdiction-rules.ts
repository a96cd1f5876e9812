import { parseLocalTime } from './local-time';

/** A day's calling hours in the callee's local time: minutes after midnight, both ends included. */
export interface Hours {
  readonly start: number;
  readonly end: number;
}

/** Hours for each day of the week, Sunday first (Date#getDay order); null: no calls that day. */
export type Week = readonly [Hours | null, Hours | null, Hours | null, Hours | null, Hours | null, Hours | null, Hours | null];

export interface JurisdictionRule {
  /** ISO 3166-2 subdivision ("US-FL") or ISO 3166-1 country ("CA") the rule applies in. */
  readonly code: string;
  readonly name: string;
  readonly week: Week;
  /** Where the hours come from. */
  readonly source: string;
}

const hours = (start: string, end: string): Hours => ({ start: parseLocalTime(start), end: parseLocalTime(end) });
const daily = (h: Hours): Week => [h, h, h, h, h, h, h];
/** Monday to Saturday one way, Sunday another (null: no calls on Sunday). */
const sundayApart = (monSat: Hours, sunday: Hours | null): Week => [sunday, monSat, monSat, monSat, monSat, monSat, monSat];

// Compilations the table was checked against (both name the statutes and say they are not legal advice):
const DC = 'Drop Cowboy, State Calling Restrictions Guide (updated Nov 2025)';
const CP = 'ClickPoint, Telemarketing Calling Restrictions & Hours by State (reviewed Jul 2025)';

/**
 * Calling hours stricter than the federal 08:00-21:00 (47 CFR 64.1200(c)(1), the TCPA rule),
 * by state, and Canada's national rule. NOT LEGAL ADVICE: a conservative reading of public
 * compilations and the statutes they cite, meant to keep automated callbacks well inside the law;
 * have counsel check it before relying on it, and keep it up to date (states change these often).
 *
 * The rules are applied to every outbound call, solicitation or not (a callback the customer asked
 * for is often exempt; we do not rely on that). Where sources differ the narrower hours are taken.
 * Only day-of-week rules are encoded; NOT encoded: state legal holidays, on which AL, LA, MS, PA, RI
 * and UT forbid such calls (their dates move every year and some are county-level), and call-count
 * caps (FL, MD, OK: 3 calls in 24 h on the same subject), which belong to the queue.
 *
 * | code  | Mon-Fri     | Sat         | Sun         | source                                                        |
 * |-------|-------------|-------------|-------------|---------------------------------------------------------------|
 * | US-AL | 08:00-20:00 | 08:00-20:00 | none        | Alabama Telephone Solicitation Act; DC, CP                    |
 * | US-CT | 09:00-20:00 | 09:00-20:00 | 09:00-20:00 | Conn. Gen. Stat. § 42-288a (2023); DC                         |
 * | US-FL | 08:00-20:00 | 08:00-20:00 | 08:00-20:00 | Fla. Stat. § 501.616(6)(a) (Telephone Solicitation Act); DC, CP |
 * | US-KY | 10:00-21:00 | 10:00-21:00 | 10:00-21:00 | KRS 367.46955; DC                                             |
 * | US-LA | 08:00-20:00 | 08:00-20:00 | none        | La. R.S. 45:844.11 et seq. (Telephone Solicitation Relief Act); DC, CP |
 * | US-MA | 08:00-20:00 | 08:00-20:00 | 08:00-20:00 | M.G.L. c. 159C § 3; DC                                        |
 * | US-MD | 08:00-20:00 | 08:00-20:00 | 08:00-20:00 | Md. Com. Law § 14-4503 (Stop the Spam Calls Act, 2023); DC    |
 * | US-MI | 09:00-21:00 | 09:00-21:00 | 09:00-21:00 | DC                                                            |
 * | US-MN | 09:00-21:00 | 09:00-21:00 | 09:00-21:00 | Minn. Stat. § 325E.27; DC                                     |
 * | US-MS | 08:00-20:00 | 08:00-20:00 | none        | Miss. Code § 77-3-725; DC                                     |
 * | US-NM | 09:00-21:00 | 09:00-21:00 | 09:00-21:00 | DC                                                            |
 * | US-NV | 09:00-20:00 | 09:00-20:00 | 09:00-20:00 | DC                                                            |
 * | US-OK | 08:00-20:00 | 08:00-20:00 | 08:00-20:00 | Okla. Stat. tit. 15 § 775C.4 (Telephone Solicitation Act of 2022); DC, CP |
 * | US-PA | 08:00-21:00 | 08:00-21:00 | 13:30-21:00 | 73 P.S. § 2245.2 (Sunday afternoon only: the narrower reading) |
 * | US-RI | 09:00-18:00 | 10:00-17:00 | none        | R.I. Gen. Laws § 5-61-2(9), § 5-61-3.6; DC                    |
 * | US-SD | 09:00-21:00 | none        | none        | SDCL § 37-30-28 (automated dialing systems: weekdays only)    |
 * | US-TX | 09:00-21:00 | 09:00-21:00 | 12:00-21:00 | Tex. Bus. & Com. Code § 301.051                               |
 * | US-UT | 08:00-21:00 | 08:00-21:00 | none        | Utah Code § 13-25a-103; DC, CP                                |
 * | US-WA | 08:00-20:00 | 08:00-20:00 | 08:00-20:00 | RCW 80.36.390                                                 |
 * | CA    | 09:00-21:30 | 10:00-18:00 | 10:00-18:00 | CRTC Unsolicited Telecommunications Rules, Part III (Telemarketing Rules) |
 *
 * The configured window (CALLING_WINDOW_START/END, federal by default) is always applied as well:
 * a rule can only narrow it.
 */
export const JURISDICTION_RULES: readonly JurisdictionRule[] = [
  { code: 'US-AL', name: 'Alabama', week: sundayApart(hours('08:00', '20:00'), null), source: `Alabama Telephone Solicitation Act; ${DC}; ${CP}` },
  { code: 'US-CT', name: 'Connecticut', week: daily(hours('09:00', '20:00')), source: `Conn. Gen. Stat. § 42-288a; ${DC}` },
  { code: 'US-FL', name: 'Florida', week: daily(hours('08:00', '20:00')), source: `Fla. Stat. § 501.616(6)(a); ${DC}; ${CP}` },
  { code: 'US-KY', name: 'Kentucky', week: daily(hours('10:00', '21:00')), source: `KRS 367.46955; ${DC}` },
  { code: 'US-LA', name: 'Louisiana', week: sundayApart(hours('08:00', '20:00'), null), source: `La. R.S. 45:844.11 et seq.; ${DC}; ${CP}` },
  { code: 'US-MA', name: 'Massachusetts', week: daily(hours('08:00', '20:00')), source: `M.G.L. c. 159C § 3; ${DC}` },
  { code: 'US-MD', name: 'Maryland', week: daily(hours('08:00', '20:00')), source: `Md. Code, Com. Law § 14-4503 (Stop the Spam Calls Act); ${DC}` },
  { code: 'US-MI', name: 'Michigan', week: daily(hours('09:00', '21:00')), source: DC },
  { code: 'US-MN', name: 'Minnesota', week: daily(hours('09:00', '21:00')), source: `Minn. Stat. § 325E.27; ${DC}` },
  { code: 'US-MS', name: 'Mississippi', week: sundayApart(hours('08:00', '20:00'), null), source: `Miss. Code § 77-3-725; ${DC}` },
  { code: 'US-NM', name: 'New Mexico', week: daily(hours('09:00', '21:00')), source: DC },
  { code: 'US-NV', name: 'Nevada', week: daily(hours('09:00', '20:00')), source: DC },
  { code: 'US-OK', name: 'Oklahoma', week: daily(hours('08:00', '20:00')), source: `Okla. Stat. tit. 15 § 775C.4; ${DC}; ${CP}` },
  { code: 'US-PA', name: 'Pennsylvania', week: sundayApart(hours('08:00', '21:00'), hours('13:30', '21:00')), source: '73 P.S. § 2245.2' },
  {
    code: 'US-RI',
    name: 'Rhode Island',
    week: [null, hours('09:00', '18:00'), hours('09:00', '18:00'), hours('09:00', '18:00'), hours('09:00', '18:00'), hours('09:00', '18:00'), hours('10:00', '17:00')],
    source: `R.I. Gen. Laws § 5-61-2(9), § 5-61-3.6; ${DC}`,
  },
  {
    code: 'US-SD',
    name: 'South Dakota',
    week: [null, hours('09:00', '21:00'), hours('09:00', '21:00'), hours('09:00', '21:00'), hours('09:00', '21:00'), hours('09:00', '21:00'), null],
    source: 'SDCL § 37-30-28',
  },
  { code: 'US-TX', name: 'Texas', week: sundayApart(hours('09:00', '21:00'), hours('12:00', '21:00')), source: 'Tex. Bus. & Com. Code § 301.051' },
  { code: 'US-UT', name: 'Utah', week: sundayApart(hours('08:00', '21:00'), null), source: `Utah Code § 13-25a-103; ${DC}; ${CP}` },
  { code: 'US-WA', name: 'Washington', week: daily(hours('08:00', '20:00')), source: 'RCW 80.36.390' },
  {
    code: 'CA',
    name: 'Canada',
    week: [hours('10:00', '18:00'), hours('09:00', '21:30'), hours('09:00', '21:30'), hours('09:00', '21:30'), hours('09:00', '21:30'), hours('09:00', '21:30'), hours('10:00', '18:00')],
    source: 'CRTC Unsolicited Telecommunications Rules, Part III (Telemarketing Rules)',
  },
];

const BY_CODE = new Map(JURISDICTION_RULES.map((r) => [r.code, r]));

/** The rules that apply to a callee in `country` and the given subdivisions (any of them, when several). */
export function rulesFor(country: string | null, regions: readonly string[]): JurisdictionRule[] {
  return [country, ...regions].flatMap((code) => {
    const rule = code ? BY_CODE.get(code) : undefined;
    return rule ? [rule] : [];
  });
}

/** Each day's hours common to every week given (null where any of them has none). */
export function intersectWeeks(base: Week, ...others: readonly Week[]): Week {
  return base.map((h, day) =>
    others.reduce<Hours | null>((acc, week) => {
      const o = week[day];
      if (!acc || !o) return null;
      const start = Math.max(acc.start, o.start), end = Math.min(acc.end, o.end);
      return start <= end ? { start, end } : null;
    }, h),
  ) as unknown as Week;
}

export const everyDay = daily;
