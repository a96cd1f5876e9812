import { raceTimeout, TIMED_OUT } from './race-timeout';

describe('raceTimeout', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('gives the outcome of work that settles in time, and clears its timer', async () => {
    await expect(raceTimeout(Promise.resolve(7), 1000)).resolves.toBe(7);
    await expect(raceTimeout(Promise.reject(new Error('failed')), 1000)).rejects.toThrow('failed');
    expect(jest.getTimerCount()).toBe(0);
  });

  it('gives TIMED_OUT when the time runs out first', async () => {
    const never = new Promise<number>(() => undefined);
    const raced = raceTimeout(never, 1000);
    jest.advanceTimersByTime(999);
    let settled = false;
    void raced.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    jest.advanceTimersByTime(1);
    await expect(raced).resolves.toBe(TIMED_OUT);
  });
});
