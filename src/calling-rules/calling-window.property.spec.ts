import fc from 'fast-check';
import { CallingWindow, type CallingPlan, type CallingWindowConfig } from './calling-window';
import { JURISDICTION_RULES } from './jurisdiction-rules';
import { RetrySchedule } from './retry-schedule';

/**
 * Properties over random instants (2026-2030), zones (every one Intl knows), state rules and
 * configured windows, checked against an oracle that reads the callee's clock through Intl on its
 * own: no dial is ever allowed outside the window, nextAllowedAt is the first allowed instant, and
 * every retry slot is allowed.
 */

const MIN = 60_000;
const ZONES = Intl.supportedValuesOf('timeZone');
const FROM = Date.UTC(2026, 0, 1);
const TO = Date.UTC(2031, 0, 1);

const clocks = new Map<string, Intl.DateTimeFormat>();
/** The oracle's reading of a clock: local date "YYYY-MM-DD", weekday 0-6 from Sunday, ms since local midnight. */
function clock(zone: string, instant: number): { date: string; weekday: number; ms: number } {
  let f = clocks.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', { timeZone: zone, hourCycle: 'h23', weekday: 'short', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    clocks.set(zone, f);
  }
  const p = Object.fromEntries(f.formatToParts(Math.floor(instant / 1000) * 1000).map((x) => [x.type, x.value]));
  const weekday = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(p.weekday);
  const ms = ((Number(p.hour) * 60 + Number(p.minute)) * 60 + Number(p.second)) * 1000 + (((instant % 1000) + 1000) % 1000);
  return { date: `${p.year}-${p.month}-${p.day}`, weekday, ms };
}

/** Inside the window in every zone, at the dial and when the call starts, on the same local day. */
function oracleAllows(instant: number, plan: CallingPlan, leadMs: number): boolean {
  return plan.timeZones.every((zone) => {
    const dial = clock(zone, instant), start = clock(zone, instant + leadMs);
    const h = plan.week[dial.weekday];
    if (!h) return false;
    const inside = (ms: number) => ms >= h.start * MIN && ms <= h.end * MIN;
    return dial.date === start.date && inside(dial.ms) && inside(start.ms);
  });
}

const configArb: fc.Arbitrary<CallingWindowConfig> = fc
  .record({
    a: fc.integer({ min: 0, max: 1439 }),
    b: fc.integer({ min: 0, max: 1439 }),
    lead: fc.integer({ min: 0, max: 30 * MIN }),
    rules: fc.boolean(),
    federal: fc.boolean(),
    defaultTimeZone: fc.constantFrom(...ZONES),
  })
  .map(({ a, b, lead, rules, federal, defaultTimeZone }) => ({
    defaultTimeZone,
    startMinute: federal ? 480 : Math.min(a, b),
    endMinute: federal ? 1260 : Math.max(a, b),
    dialLeadMs: federal ? 120_000 : lead,
    applyJurisdictionRules: rules,
  }));

const calleeArb = fc.record({
  timeZones: fc.oneof(fc.constant<string[]>([]), fc.array(fc.constantFrom(...ZONES), { minLength: 1, maxLength: 2 }), fc.constant<string[]>(['America/Adak', 'America/Anchorage'])),
  rule: fc.option(fc.constantFrom(...JURISDICTION_RULES.map((r) => r.code))),
  explicit: fc.option(fc.constantFrom(...ZONES), { freq: 4 }),
});

const instantArb = fc.integer({ min: FROM, max: TO - 1 });
/** Instants near the edges: a whole minute of some local hour, give or take a little. */
const edgyInstantArb = fc.tuple(fc.integer({ min: FROM / 60_000, max: TO / 60_000 - 1 }), fc.integer({ min: -1500, max: 1500 })).map(([m, d]) => m * 60_000 + d);

interface RandomCallee {
  readonly timeZones: string[];
  readonly rule: string | null;
  readonly explicit: string | null;
}

function setUp(config: CallingWindowConfig, callee: RandomCallee) {
  const window = new CallingWindow(config);
  const country = callee.rule === 'CA' ? 'CA' : callee.rule ? 'US' : null;
  const plan = window.plan({ location: { timeZones: callee.timeZones, country, regions: callee.rule && callee.rule !== 'CA' ? [callee.rule] : [] }, timeZone: callee.explicit });
  return { window, plan };
}

describe('CallingWindow properties', () => {
  it('allows a dial exactly when the oracle finds the dial and the call start inside the window in every zone', () => {
    fc.assert(
      fc.property(configArb, calleeArb, fc.oneof(instantArb, edgyInstantArb), (config, callee, now) => {
        const { window, plan } = setUp(config, callee);
        expect(window.check(now, plan).allowed).toBe(oracleAllows(now, plan, config.dialLeadMs));
      }),
      { numRuns: 3000 },
    );
  });

  it('gives as nextAllowedAt an allowed instant with none allowed before it', () => {
    fc.assert(
      fc.property(configArb, calleeArb, fc.oneof(instantArb, edgyInstantArb), (config, callee, now) => {
        const { window, plan } = setUp(config, callee);
        const decision = window.check(now, plan);
        if (decision.allowed || decision.nextAllowedAt === undefined) return;
        const next = decision.nextAllowedAt;
        expect(next).toBeGreaterThan(now);
        expect(oracleAllows(next, plan, config.dialLeadMs)).toBe(true);
        expect(oracleAllows(next - 1, plan, config.dialLeadMs) && next - 1 >= now).toBe(false);
        // Minute by minute over the 3 hours before it, and every 10 minutes back to `now`.
        for (let u = next - MIN; u >= Math.max(now, next - 3 * 60 * MIN); u -= MIN) expect([u, oracleAllows(u, plan, config.dialLeadMs)]).toEqual([u, false]);
        for (let u = next - 3 * 60 * MIN; u >= now; u -= 10 * MIN) expect([u, oracleAllows(u, plan, config.dialLeadMs)]).toEqual([u, false]);
      }),
      { numRuns: 300 },
    );
  });

  it('finds an opening within three days with the federal window in one zone, whatever the state', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ZONES), fc.option(fc.constantFrom(...JURISDICTION_RULES.map((r) => r.code))), instantArb, (zone, rule, now) => {
        const window = new CallingWindow({ defaultTimeZone: zone, startMinute: 480, endMinute: 1260, dialLeadMs: 120_000, applyJurisdictionRules: true });
        const plan = window.plan({ location: { timeZones: [zone], country: rule === 'CA' ? 'CA' : 'US', regions: rule && rule !== 'CA' ? [rule] : [] } });
        const decision = window.check(now, plan);
        if (!decision.allowed) expect(decision.nextAllowedAt! - now).toBeLessThanOrEqual(3 * 24 * 60 * MIN); // a Saturday night in South Dakota
      }),
      { numRuns: 500 },
    );
  });

  it('only ever gives retry slots that are allowed, after the attempt, within the horizon, in ascending order', () => {
    fc.assert(
      fc.property(
        configArb,
        calleeArb,
        instantArb,
        fc.uniqueArray(fc.integer({ min: 0, max: 1439 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 5 }),
        (config, callee, created, slots, days) => {
          const { window, plan } = setUp(config, callee);
          const horizonMs = days * 24 * 60 * MIN;
          const retries = new RetrySchedule(window, { slotMinutes: slots, horizonMs }).all(created, created, plan);
          let previous = created;
          for (const r of retries) {
            expect(r).toBeGreaterThan(previous);
            expect(r).toBeLessThanOrEqual(created + horizonMs);
            expect(oracleAllows(r, plan, config.dialLeadMs)).toBe(true);
            previous = r;
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
