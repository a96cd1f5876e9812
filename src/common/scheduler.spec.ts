import { ManualClock } from './clock';
import { ManualScheduler, SystemScheduler } from './scheduler';

describe('ManualScheduler', () => {
  let clock: ManualClock;
  let scheduler: ManualScheduler;
  let ran: string[];
  /** Records the task's name with the clock reading it saw. */
  const record = (name: string) => () => void ran.push(`${name}@${clock.now()}`);

  beforeEach(() => {
    clock = new ManualClock(1_000);
    scheduler = new ManualScheduler(clock);
    ran = [];
  });

  it('runs a task when its time comes, not before, and moves the shared clock', () => {
    scheduler.after(100, record('a'));
    scheduler.advance(99);
    expect(ran).toEqual([]);
    expect(clock.now()).toBe(1_099);
    scheduler.advance(1);
    expect(ran).toEqual(['a@1100']);
    expect(scheduler.pending).toBe(0);
  });

  it('runs due tasks in due-time order, ties in scheduling order, each at its own due time', () => {
    scheduler.after(30, record('c'));
    scheduler.after(10, record('a'));
    scheduler.after(30, record('d'));
    scheduler.after(20, record('b'));
    scheduler.advance(50);
    expect(ran).toEqual(['a@1010', 'b@1020', 'c@1030', 'd@1030']);
    expect(clock.now()).toBe(1_050);
  });

  it('runs tasks that a running task schedules within the window, and leaves later ones pending', () => {
    scheduler.after(10, () => {
      record('first')();
      scheduler.after(0, record('now'));
      scheduler.after(15, record('inside'));
      scheduler.after(50, record('outside'));
    });
    scheduler.after(20, record('between'));
    scheduler.advance(30);
    expect(ran).toEqual(['first@1010', 'now@1010', 'between@1020', 'inside@1025']);
    expect(scheduler.pending).toBe(1);
    scheduler.advance(30);
    expect(ran).toContain('outside@1060');
  });

  it('never runs a cancelled task, also when an earlier task cancels it within the same advance', () => {
    const cancelled = scheduler.after(10, record('cancelled'));
    cancelled.cancel();
    const victim = scheduler.after(30, record('victim'));
    scheduler.after(20, () => victim.cancel());
    expect(scheduler.pending).toBe(2);
    scheduler.advance(100);
    expect(ran).toEqual([]);
    expect(scheduler.pending).toBe(0);
    cancelled.cancel(); // harmless after the fact
  });

  it('repeats an every() task at its period until cancelled, also from inside its own run', () => {
    let runs = 0;
    const task = scheduler.every(10, () => {
      record('tick')();
      if (++runs === 3) task.cancel();
    });
    scheduler.advance(25);
    expect(ran).toEqual(['tick@1010', 'tick@1020']);
    expect(scheduler.pending).toBe(1);
    scheduler.advance(100);
    expect(ran).toEqual(['tick@1010', 'tick@1020', 'tick@1030']);
    expect(scheduler.pending).toBe(0);
  });

  it('refuses a repeating task without a period, which would never let time move on', () => {
    expect(() => scheduler.every(0, record('never'))).toThrow(RangeError);
    expect(scheduler.pending).toBe(0);
  });

  it('runs tasks the test made overdue by moving the clock itself, without moving the clock back', () => {
    scheduler.after(10, record('a'));
    clock.advance(50);
    scheduler.advance(0);
    expect(ran).toEqual(['a@1050']);
  });

  it('keeps a time of its own when given no clock', () => {
    const own = new ManualScheduler();
    let ran = 0;
    own.after(5, () => ran++);
    own.advance(4);
    expect(ran).toBe(0);
    own.advance(1);
    expect(ran).toBe(1);
    expect(clock.now()).toBe(1_000);
  });
});

describe('SystemScheduler', () => {
  const scheduler = new SystemScheduler();
  /** Ref'd Node timers: what keeps the process alive (unref()ed ones are not listed). */
  const refTimers = (): number => process.getActiveResourcesInfo().filter((type) => type === 'Timeout').length;

  it('runs an after() task once its time has passed', async () => {
    const started = performance.now();
    const ranAt = await new Promise<number>((resolve) => scheduler.after(20, () => resolve(performance.now())));
    // Node may fire a timer up to a millisecond early by this clock's reading.
    expect(ranAt - started).toBeGreaterThanOrEqual(19);
  });

  it('never runs a cancelled task: a later task runs and the cancelled one has not', async () => {
    let cancelledRan = false;
    scheduler.after(1, () => (cancelledRan = true)).cancel();
    await new Promise<void>((resolve) => scheduler.after(10, resolve));
    expect(cancelledRan).toBe(false);
  });

  it('repeats an every() task until cancelled from inside its run', async () => {
    let runs = 0;
    await new Promise<void>((resolve) => {
      const task = scheduler.every(2, () => {
        if (++runs < 3) return;
        task.cancel();
        resolve();
      });
    });
    // Three more periods pass: a run that was not cancelled would have come by then.
    await new Promise<void>((resolve) => scheduler.after(6, resolve));
    expect(runs).toBe(3);
  });

  it('holds the process open while a task is set (it is not unref()ed), and lets go when it is cancelled', () => {
    const before = refTimers();
    const once = scheduler.after(60_000, () => undefined);
    const repeating = scheduler.every(60_000, () => undefined);
    expect(refTimers()).toBe(before + 2);
    once.cancel();
    repeating.cancel();
    expect(refTimers()).toBe(before);
  });
});
