import { intersectWeeks, JURISDICTION_RULES, rulesFor, type Week } from './jurisdiction-rules';

const FEDERAL = { start: 480, end: 1260 };

describe('jurisdiction rules', () => {
  it('only ever narrow the federal 08:00-21:00 (Canada aside, which has its own)', () => {
    for (const rule of JURISDICTION_RULES.filter((r) => r.code !== 'CA')) {
      for (const h of rule.week) if (h) expect([rule.code, h.start >= FEDERAL.start && h.end <= FEDERAL.end && h.start < h.end]).toEqual([rule.code, true]);
    }
  });

  it('name a source for every rule and a code once', () => {
    expect(JURISDICTION_RULES.every((r) => r.source.length > 0 && /^(US-[A-Z]{2}|CA)$/.test(r.code))).toBe(true);
    expect(new Set(JURISDICTION_RULES.map((r) => r.code)).size).toBe(JURISDICTION_RULES.length);
  });

  it.each([
    ['US-FL', [480, 1200], [480, 1200]],
    ['US-OK', [480, 1200], [480, 1200]],
    ['US-MD', [480, 1200], [480, 1200]],
    ['US-WA', [480, 1200], [480, 1200]],
    ['US-TX', [540, 1260], [720, 1260]],
    ['US-AL', [480, 1200], null],
    ['US-LA', [480, 1200], null],
    ['US-MS', [480, 1200], null],
    ['US-UT', [480, 1260], null],
    ['CA', [540, 1290], [600, 1080]],
  ])('%s: Monday %j, Sunday %j', (code, monday, sunday) => {
    const [rule] = rulesFor(code === 'CA' ? 'CA' : 'US', code === 'CA' ? [] : [code]);
    expect(rule.code).toBe(code);
    expect(rule.week[1] && [rule.week[1].start, rule.week[1].end]).toEqual(monday);
    expect(rule.week[0] && [rule.week[0].start, rule.week[0].end]).toEqual(sunday);
  });

  it('finds the rules of the country and every region given', () => {
    expect(rulesFor('CA', ['CA-NS', 'CA-PE']).map((r) => r.code)).toEqual(['CA']);
    expect(rulesFor('US', ['US-TX', 'US-OK']).map((r) => r.code)).toEqual(['US-TX', 'US-OK']);
    expect(rulesFor('US', ['US-NY'])).toEqual([]);
    expect(rulesFor(null, [])).toEqual([]);
  });

  it('intersects weeks day by day, an empty day closing it', () => {
    const a: Week = [null, FEDERAL, FEDERAL, FEDERAL, FEDERAL, FEDERAL, { start: 600, end: 700 }];
    const b: Week = [FEDERAL, { start: 540, end: 1200 }, { start: 1261, end: 1300 }, FEDERAL, FEDERAL, FEDERAL, { start: 700, end: 800 }];
    expect(intersectWeeks(a, b)).toEqual([null, { start: 540, end: 1200 }, null, FEDERAL, FEDERAL, FEDERAL, { start: 700, end: 700 }]);
    expect(intersectWeeks(a)).toEqual(a);
  });
});
