import type { ScheduledTask, Scheduler } from './scheduler';

/** What raceTimeout resolves to when the time ran out first. */
export const TIMED_OUT: unique symbol = Symbol('timed out');

/** `work`'s outcome, or TIMED_OUT if `ms` pass first. The timer is cancelled either way; `work` itself is not cancelled. */
export async function raceTimeout<T>(work: Promise<T>, ms: number, scheduler: Scheduler): Promise<T | typeof TIMED_OUT> {
  let deadline: ScheduledTask | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    deadline = scheduler.after(ms, () => resolve(TIMED_OUT));
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    deadline?.cancel();
  }
}
