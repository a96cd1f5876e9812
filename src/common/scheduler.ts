import { Injectable } from '@nestjs/common';
import { ManualClock } from './clock';

/** A timer that has been set; cancel() is safe to call after it fired, and more than once. */
export interface ScheduledTask {
  cancel(): void;
}

/** Runs a function later: a port so that code waiting on timers can be tested without waiting. */
export abstract class Scheduler {
  /** Runs `run` once, `ms` from now. */
  abstract after(ms: number, run: () => void): ScheduledTask;
  /**
   * Runs `run` every `ms` (> 0) until cancelled, also from inside `run`; the first run is `ms`
   * from now. Built on after(), so that every scheduler (test fakes too) has it, as long as its
   * after() runs tasks later rather than at once.
   */
  every(ms: number, run: () => void): ScheduledTask {
    checkPeriod(ms);
    let next: ScheduledTask;
    const schedule = (): void => {
      next = this.after(ms, () => {
        // The next run is set before this one runs, so that cancel() from inside run() stops it.
        schedule();
        run();
      });
    };
    schedule();
    return { cancel: () => next.cancel() };
  }
}

/**
 * Node's timers. They are deliberately not unref()ed: a timer is often the only thing that
 * guarantees an awaited step ends (raceTimeout's deadline, the call-log flush at shutdown), and
 * an unref()ed one lets the process exit with that await never resumed and the steps after it
 * (spooling unwritten call records) never run. The HTTP server would keep the process alive while
 * it listens, but not after it closed. Owners cancel their tasks instead, so nothing outlives its
 * owner; a timer jest reports as an open handle is a task someone forgot to cancel.
 */
@Injectable()
export class SystemScheduler extends Scheduler {
  after(ms: number, run: () => void): ScheduledTask {
    const timer = setTimeout(run, ms);
    return { cancel: () => clearTimeout(timer) };
  }

  /** One interval timer rather than a timer per run. */
  override every(ms: number, run: () => void): ScheduledTask {
    checkPeriod(ms);
    const timer = setInterval(run, ms);
    return { cancel: () => clearInterval(timer) };
  }
}

interface ManualTask {
  readonly at: number;
  /** Scheduling order: tasks due at the same time run in the order they were scheduled, as Node's do. */
  readonly seq: number;
  readonly run: () => void;
}

/**
 * A scheduler the test runs by hand. Given the test's ManualClock, both share one time: advance()
 * moves the clock, and a task sees the clock at its own due time. Without one it keeps a private
 * clock starting at 0.
 */
export class ManualScheduler extends Scheduler {
  private readonly clock: ManualClock;
  private tasks: ManualTask[] = [];
  private seq = 0;

  constructor(clock?: ManualClock) {
    super();
    this.clock = clock ?? new ManualClock();
  }

  after(ms: number, run: () => void): ScheduledTask {
    const task: ManualTask = { at: this.clock.now() + Math.max(0, ms), seq: this.seq++, run };
    this.tasks.push(task);
    return { cancel: () => this.remove(task) };
  }

  /** Tasks set and not yet run (a repeating one counts until cancelled). */
  get pending(): number {
    return this.tasks.length;
  }

  /**
   * Moves time on by `ms`, running every task that falls due by then in due-time order, the clock
   * set to each task's due time while it runs. Tasks that running tasks schedule within the window
   * run too; cancelled ones never do. A test that moved the clock on by itself finds overdue tasks
   * run at the current time: the clock never goes back.
   */
  advance(ms: number): void {
    const end = this.clock.now() + Math.max(0, ms);
    for (let task = this.next(end); task; task = this.next(end)) {
      if (task.at > this.clock.now()) this.clock.set(task.at);
      this.remove(task);
      task.run();
    }
    if (end > this.clock.now()) this.clock.set(end);
  }

  private remove(task: ManualTask): void {
    const index = this.tasks.indexOf(task);
    if (index >= 0) this.tasks.splice(index, 1);
  }

  /** The earliest task due by `end`. A linear scan: a test holds a handful of tasks. */
  private next(end: number): ManualTask | undefined {
    let first: ManualTask | undefined;
    for (const task of this.tasks) {
      if (task.at > end) continue;
      if (!first || task.at < first.at || (task.at === first.at && task.seq < first.seq)) first = task;
    }
    return first;
  }
}

/** A repeating task with no period would run forever at one instant. */
function checkPeriod(ms: number): void {
  if (!(ms > 0) || !Number.isFinite(ms)) throw new RangeError(`a repeating task needs a period above 0 ms, not ${ms}`);
}
