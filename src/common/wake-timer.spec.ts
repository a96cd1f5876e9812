import { ManualClock } from './clock';
import { ManualScheduler } from './scheduler';
import { WakeTimer } from './wake-timer';

describe('WakeTimer', () => {
  function setup() {
    const clock = new ManualClock(0, 1_000_000);
    const scheduler = new ManualScheduler(clock);
    const woken: number[] = [];
    const timer = new WakeTimer(clock, scheduler, () => woken.push(clock.epochMs()));
    return { clock, scheduler, woken, timer };
  }

  it('wakes at the earliest time it was armed for, once', () => {
    const { scheduler, woken, timer } = setup();
    timer.arm(1_005_000);
    timer.arm(1_009_000);
    timer.arm(1_002_000);
    expect(timer.armedFor).toBe(1_002_000);
    scheduler.advance(1_999);
    expect(woken).toEqual([]);
    scheduler.advance(1);
    expect(woken).toEqual([1_002_000]);
    expect(timer.armedFor).toBe(Infinity);
    scheduler.advance(10_000);
    expect(woken).toEqual([1_002_000]);
  });

  it('wakes at once for a time already past, and not at all once cleared', () => {
    const { scheduler, woken, timer } = setup();
    timer.arm(999_000);
    scheduler.advance(0);
    expect(woken).toEqual([1_000_000]);
    timer.arm(1_001_000);
    timer.clear();
    scheduler.advance(5_000);
    expect(woken).toEqual([1_000_000]);
  });

  it('fires at once when armed again after the clock jumped past it', () => {
    const { clock, scheduler, woken, timer } = setup();
    timer.arm(1_010_000);
    // The clock moves without the scheduler running the timer (a skipped clock).
    clock.advance(20_000);
    timer.arm(1_030_000);
    expect(timer.armedFor).toBe(1_020_000);
    scheduler.advance(0);
    expect(woken).toEqual([1_020_000]);
  });
});
