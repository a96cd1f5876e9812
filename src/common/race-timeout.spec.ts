import { deferred } from '../../test/support/wait';
import { raceTimeout, TIMED_OUT } from './race-timeout';
import { ManualScheduler } from './scheduler';

describe('raceTimeout', () => {
  let scheduler: ManualScheduler;

  beforeEach(() => (scheduler = new ManualScheduler()));

  it('gives the outcome of work that settles in time, and cancels its timer', async () => {
    await expect(raceTimeout(Promise.resolve(7), 1000, scheduler)).resolves.toBe(7);
    await expect(raceTimeout(Promise.reject(new Error('failed')), 1000, scheduler)).rejects.toThrow('failed');
    expect(scheduler.pending).toBe(0);
  });

  it('gives the outcome of work that settles one millisecond before the deadline', async () => {
    const work = deferred<number>();
    const raced = raceTimeout(work.promise, 1000, scheduler);
    scheduler.advance(999);
    work.resolve(7);
    await expect(raced).resolves.toBe(7);
    expect(scheduler.pending).toBe(0);
  });

  it('gives TIMED_OUT when the time runs out first', async () => {
    const raced = raceTimeout(new Promise<number>(() => undefined), 1000, scheduler);
    expect(scheduler.pending).toBe(1);
    scheduler.advance(1000);
    await expect(raced).resolves.toBe(TIMED_OUT);
  });
});
