import { Injectable } from '@nestjs/common';

/** A timer that has been set; cancel() is safe to call after it fired. */
export interface ScheduledTask {
  cancel(): void;
}

/** Runs a function later: a port so that code waiting on timers can be tested without waiting. */
export abstract class Scheduler {
  abstract after(ms: number, run: () => void): ScheduledTask;
}

@Injectable()
export class SystemScheduler extends Scheduler {
  after(ms: number, run: () => void): ScheduledTask {
    const timer = setTimeout(run, ms);
    return { cancel: () => clearTimeout(timer) };
  }
}

/** A scheduler the test runs by hand: due tasks run when the test calls runDue(). */
export class ManualScheduler extends Scheduler {
  private tasks: Array<{ at: number; run: () => void; cancelled: boolean }> = [];
  private t = 0;

  after(ms: number, run: () => void): ScheduledTask {
    const task = { at: this.t + ms, run, cancelled: false };
    this.tasks.push(task);
    return { cancel: () => (task.cancelled = true) };
  }

  get pending(): number {
    return this.tasks.filter((task) => !task.cancelled).length;
  }

  /** Moves time on by `ms` and runs every task due by then, in time order. */
  advance(ms: number): void {
    this.t += ms;
    const due = this.tasks.filter((task) => task.at <= this.t).sort((a, b) => a.at - b.at);
    this.tasks = this.tasks.filter((task) => task.at > this.t);
    for (const task of due) if (!task.cancelled) task.run();
  }
}
