import { Scheduler, type ScheduledTask } from '../../src/common/scheduler';

/**
 * Records each requested delay and runs the task on the next turn of the event loop, so tests of
 * retries never wait out a backoff; the delays themselves are asserted.
 */
export class ImmediateScheduler extends Scheduler {
  readonly delays: number[] = [];

  after(ms: number, run: () => void): ScheduledTask {
    this.delays.push(ms);
    const timer = setImmediate(run);
    return { cancel: () => clearImmediate(timer) };
  }
}
