import { parseRotaJson, readDateTime } from './rota.dto';

const people = [
  { id: 'alice', name: 'Alice Jones', mobile: '+15551230001' },
  { id: 'bob', name: 'Bob Smith', mobile: '+15551230002' },
];
const json = (value: unknown) => JSON.stringify(value);

describe('parseRotaJson', () => {
  it('reads a rota: zone defaulted, weekday-and-time edges normalised, local override times read in the zone', () => {
    const rota = parseRotaJson(
      json({
        people,
        windows: [
          { days: ['Mon', 'tue'], start: '17:00', end: '08:00', people: ['alice', 'bob'] },
          { start: 'FRI 17:00', end: 'mon 8:00'.replace('8:00', '08:00'), people: ['bob'] },
        ],
        overrides: [{ id: 'xmas', start: '2026-12-24T17:00', end: '2026-12-26T08:00Z', people: ['bob'], note: 'Alice away' }],
      }),
      'ON_CALL_ROTA',
      'America/New_York',
    );
    expect(rota).toEqual({
      timezone: 'America/New_York',
      people,
      windows: [
        { days: ['mon', 'tue'], start: '17:00', end: '08:00', people: ['alice', 'bob'] },
        { days: null, start: 'fri 17:00', end: 'mon 08:00', people: ['bob'] },
      ],
      overrides: [{ id: 'xmas', start: '2026-12-24T22:00:00.000Z', end: '2026-12-26T08:00:00.000Z', people: ['bob'], note: 'Alice away' }],
    });
  });

  it('gives an override without an id one of its own', () => {
    const rota = parseRotaJson(json({ timezone: 'UTC', people, windows: [], overrides: [{ start: '2026-01-01T00:00Z', end: '2026-01-02T00:00Z', people: ['alice'] }] }), 'X', 'UTC');
    expect(rota.overrides[0].id).toMatch(/^ovr-[0-9a-f]{12}$/);
  });

  it('names every problem and where it is', () => {
    const attempt = () =>
      parseRotaJson(
        json({
          timezone: 'Mars/Olympus',
          people: [{ id: 'Alice!', name: '', mobile: '555-1234' }],
          windows: [{ days: ['someday'], start: '5pm', end: '08:00', people: [] }],
        }),
        'ON_CALL_ROTA_FILE (/etc/rota.json)',
        'UTC',
      );
    expect(attempt).toThrow(/^Invalid configuration:/);
    const message = (() => {
      try {
        attempt();
        return '';
      } catch (err) {
        return (err as Error).message;
      }
    })();
    expect(message).toContain('ON_CALL_ROTA_FILE (/etc/rota.json): timezone: timezone must be an IANA time zone');
    expect(message).toContain('people[0].id: id must be 1-40 lower-case letters');
    expect(message).toContain('people[0].name: name must be longer than or equal to 1 characters');
    expect(message).toContain('people[0].mobile: mobile must be a phone number in E.164 form');
    expect(message).toContain('windows[0].days: days must name weekdays');
    expect(message).toContain('windows[0].people: people must contain at least 1 elements');
  });

  it('checks what the shape cannot: times, unknown and repeated ids, overrides that end before they start', () => {
    const attempt = () =>
      parseRotaJson(
        json({
          people: [...people, { id: 'alice', name: 'Alice Again', mobile: '+15551230003' }],
          windows: [
            { days: ['mon'], start: 'fri 17:00', end: '25:00', people: ['carol'] },
            { start: '17:00', end: 'mon 08:00', people: ['alice'] },
          ],
          overrides: [{ start: '2026-12-26T08:00', end: '2026-12-24T17:00', people: ['dave'] }, { start: '2026-02-30T00:00', end: 'tomorrow', people: ['bob'] }],
        }),
        'ON_CALL_ROTA',
        'UTC',
      );
    const problems = [
      'ON_CALL_ROTA: people[2].id: "alice" is used twice',
      'ON_CALL_ROTA: windows[0].start: "fri 17:00" must be a time of day HH:MM (with days)',
      'ON_CALL_ROTA: windows[0].end: "25:00" must be a time of day HH:MM (with days)',
      'ON_CALL_ROTA: windows[0].people: no person has the id "carol"',
      'ON_CALL_ROTA: windows[1].start: "17:00" must be a weekday and time such as "fri 17:00" (without days)',
      'ON_CALL_ROTA: overrides[0]: end must be after start',
      'ON_CALL_ROTA: overrides[0].people: no person has the id "dave"',
      'ON_CALL_ROTA: overrides[1].start: "2026-02-30T00:00" is not an ISO 8601 date and time',
      'ON_CALL_ROTA: overrides[1].end: "tomorrow" is not an ISO 8601 date and time',
    ];
    for (const p of problems) expect(attempt).toThrow(p);
  });

  it('refuses what is not JSON, or not an object, and unknown fields', () => {
    expect(() => parseRotaJson('{people: []', 'ON_CALL_ROTA', 'UTC')).toThrow(/ON_CALL_ROTA: not valid JSON/);
    expect(() => parseRotaJson('[]', 'ON_CALL_ROTA', 'UTC')).toThrow(/ON_CALL_ROTA: must be a JSON object/);
    expect(() => parseRotaJson(json({ people: [], windows: [], shifts: [] }), 'ON_CALL_ROTA', 'UTC')).toThrow(/property shifts should not exist/);
  });
});

describe('readDateTime', () => {
  it('reads offsets as written and bare times on the zone clock, DST gaps and overlaps as Temporal does', () => {
    expect(readDateTime('2026-03-08T02:30', 'America/New_York')).toBe(Date.parse('2026-03-08T07:30:00Z')); // in the gap: 03:30 EDT
    expect(readDateTime('2026-11-01T01:30', 'America/New_York')).toBe(Date.parse('2026-11-01T05:30:00Z')); // twice: the first
    expect(readDateTime('2026-07-01T12:00:00+01:00', 'America/New_York')).toBe(Date.parse('2026-07-01T11:00:00Z'));
    expect(readDateTime('2026-07-01T12:00:00.250Z', 'UTC')).toBe(Date.parse('2026-07-01T12:00:00.250Z'));
    expect(readDateTime('2026-07-01T24:00', 'UTC')).toBeNull();
    expect(readDateTime('2026-07-01 12:00', 'UTC')).toBeNull();
  });
});
