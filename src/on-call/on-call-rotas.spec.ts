import { ManualClock } from '../common/clock';
import { ManualScheduler } from '../common/scheduler';
import type { AppConfig } from '../config/app-config';
import { silentAppLogger } from '../database/sql-test-backends';
import { readAnswer } from './on-call-replies';
import { OnCallRotas } from './on-call-rotas';
import type { Rota } from './rota';
import type { RotaStore, StoredRota } from './rota-store';

const DEFAULT = JSON.stringify({
  timezone: 'UTC',
  people: [{ id: 'alice', name: 'Alice', mobile: '+15551230001' }],
  windows: [{ days: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'], start: '00:00', end: '00:00', people: ['alice'] }],
});
const SAVED: Rota = {
  timezone: 'UTC',
  people: [{ id: 'bob', name: 'Bob', mobile: '+15551230002' }],
  windows: [{ days: null, start: 'mon 00:00', end: 'mon 00:00', people: ['bob'] }],
  overrides: [],
};

/** The database copy: none until `saved`; every read fails while `down`, or never answers while `hung`. */
class FakeStore {
  saved: StoredRota | null = null;
  down = false;
  hung = false;
  async get(): Promise<StoredRota | null> {
    if (this.hung) return new Promise(() => undefined);
    if (this.down) throw new Error('connect ECONNREFUSED');
    return this.saved;
  }
}

function rotas(store: FakeStore, defaultRota: string | undefined, scheduler = new ManualScheduler()): OnCallRotas {
  const config = { onCall: { defaultRota: defaultRota && { json: defaultRota, source: 'ON_CALL_ROTA' }, defaultTimeZone: 'America/New_York' } } as unknown as AppConfig;
  return new OnCallRotas(store as unknown as RotaStore, new ManualClock(0, Date.UTC(2026, 0, 15, 7)), scheduler, config, silentAppLogger);
}

describe('OnCallRotas', () => {
  it('stops boot on a bad default, naming the setting', () => {
    expect(() => rotas(new FakeStore(), '{"people": [], "windows": [{"start": "x", "end": "y", "people": ["ghost"]}]}')).toThrow(
      /Invalid configuration:\n {2}ON_CALL_ROTA: windows\[0\]\.start/,
    );
  });

  it('uses the default until a copy is saved, then the copy', async () => {
    const store = new FakeStore();
    const r = rotas(store, DEFAULT);
    expect(await r.current()).toMatchObject({ source: 'default', updatedAt: null, rota: { people: [{ id: 'alice' }] } });
    store.saved = { rota: SAVED, updatedAt: '2026-01-14T00:00:00.000Z' };
    expect(await r.current()).toEqual({ source: 'database', updatedAt: '2026-01-14T00:00:00.000Z', rota: SAVED });
    expect(await rotas(new FakeStore(), undefined).current()).toMatchObject({ source: 'none', rota: { timezone: 'America/New_York', people: [] } });
  });

  it('answers who is on call from the copy read last when the database is down or slow, never failing', async () => {
    const store = new FakeStore();
    const scheduler = new ManualScheduler();
    const r = rotas(store, DEFAULT, scheduler);
    expect(await r.onCallNow(1_000)).toMatchObject({ people: [{ id: 'alice' }], stale: false });
    store.saved = { rota: SAVED, updatedAt: '2026-01-14T00:00:00.000Z' };
    // 15 January 2026 is a Thursday: Bob's week-long window covers it.
    expect(await r.onCallNow(1_000)).toMatchObject({ people: [{ id: 'bob' }], stale: false });
    store.down = true;
    expect(await r.onCallNow(1_000)).toMatchObject({ people: [{ id: 'bob' }], stale: true });
    store.hung = true;
    const slow = r.onCallNow(1_000);
    scheduler.advance(1_000);
    expect(await slow).toMatchObject({ people: [{ id: 'bob' }], stale: true });
    // Never read at all: the default.
    const fresh = rotas(store, DEFAULT, scheduler);
    const first = fresh.onCallNow(1_000);
    scheduler.advance(1_000);
    expect(await first).toMatchObject({ people: [{ id: 'alice' }], stale: true });
  });
});

describe('readAnswer', () => {
  it.each([
    ['YES', 'accepted'],
    [' yes ', 'accepted'],
    ['Yes!', 'accepted'],
    ['y', 'accepted'],
    ['OK.', 'accepted'],
    ['okay', 'accepted'],
    ['No', 'declined'],
    ['n', 'declined'],
    ['yes please', null],
    ['maybe', null],
    ['', null],
  ])('%j is %s', (body, answer) => {
    expect(readAnswer(body)).toBe(answer);
  });
});
