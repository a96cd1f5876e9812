import { ManualClock } from './clock';
import { Pacer } from './pacer';
import { ManualScheduler } from './scheduler';

/** Lets resolved promises run their continuations. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('Pacer', () => {
  let clock: ManualClock;
  let scheduler: ManualScheduler;
  beforeEach(() => {
    clock = new ManualClock(1_000);
    scheduler = new ManualScheduler(clock);
  });

  /** Moves time on `ms` in `step`s, letting promise continuations run after each: they then see the clock of their step. */
  async function run(ms: number, step: number): Promise<void> {
    for (let t = 0; t < ms; t += step) {
      scheduler.advance(step);
      await flush();
    }
  }

  /** Asks for n slots at once; records the clock time each one is reached, in order. */
  function take(pacer: Pacer, n: number, names: string[] = Array.from({ length: n }, (_, i) => `#${i}`)): Array<{ name: string; at: number }> {
    const reached: Array<{ name: string; at: number }> = [];
    for (const name of names) void pacer.slot().then(() => reached.push({ name, at: clock.now() }));
    return reached;
  }

  it('gives the first slot at once', async () => {
    const pacer = new Pacer(1, clock, scheduler);
    const reached = take(pacer, 1);
    await flush();
    expect(reached).toEqual([{ name: '#0', at: 1_000 }]);
    expect(scheduler.pending).toBe(0);
  });

  it('spaces slots asked for together by 1000/perSecond ms, in the order asked', async () => {
    const pacer = new Pacer(1, clock, scheduler);
    const reached = take(pacer, 4, ['a', 'b', 'c', 'd']);
    await flush();
    expect(reached.map((r) => r.name)).toEqual(['a']);
    scheduler.advance(999);
    await flush();
    expect(reached.map((r) => r.name)).toEqual(['a']);
    scheduler.advance(1);
    await flush();
    expect(reached.map((r) => r.name)).toEqual(['a', 'b']);
    await run(2_000, 100);
    expect(reached).toEqual([
      { name: 'a', at: 1_000 },
      { name: 'b', at: 2_000 },
      { name: 'c', at: 3_000 },
      { name: 'd', at: 4_000 },
    ]);
  });

  it('paces at any rate, fractional ones too', async () => {
    const fast = new Pacer(4, clock, scheduler);
    const quick = take(fast, 3);
    await flush();
    await run(1_000, 50);
    expect(quick.map((r) => r.at)).toEqual([1_000, 1_250, 1_500]);

    const slow = new Pacer(0.5, clock, scheduler);
    const start = clock.now();
    const slowly = take(slow, 2);
    await flush();
    await run(2_000, 100);
    expect(slowly.map((r) => r.at - start)).toEqual([0, 2_000]);
  });

  it('does not save up slots while idle: after a pause the next slot is at once, the one after an interval later', async () => {
    const pacer = new Pacer(1, clock, scheduler);
    take(pacer, 1);
    scheduler.advance(10_000);
    const reached = take(pacer, 2);
    scheduler.advance(0);
    await flush();
    expect(reached.map((r) => r.at)).toEqual([11_000]);
    scheduler.advance(1_000);
    await flush();
    expect(reached.map((r) => r.at)).toEqual([11_000, 12_000]);
  });

  it('a slot asked for part-way through an interval waits only for the rest of it', async () => {
    const pacer = new Pacer(1, clock, scheduler);
    take(pacer, 1);
    scheduler.advance(300);
    const reached = take(pacer, 1);
    scheduler.advance(699);
    await flush();
    expect(reached).toEqual([]);
    scheduler.advance(1);
    await flush();
    expect(reached.map((r) => r.at)).toEqual([2_000]);
  });

  it('stop() cancels the waiting timers', () => {
    const pacer = new Pacer(1, clock, scheduler);
    take(pacer, 3);
    expect(pacer.waiting).toBe(2);
    expect(scheduler.pending).toBe(2);
    pacer.stop();
    expect(pacer.waiting).toBe(0);
    expect(scheduler.pending).toBe(0);
  });

  it('refuses a rate that is not above 0', () => {
    for (const rate of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => new Pacer(rate, clock, scheduler)).toThrow(RangeError);
  });
});
