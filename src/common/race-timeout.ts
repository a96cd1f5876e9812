/** What raceTimeout resolves to when the time ran out first. */
export const TIMED_OUT: unique symbol = Symbol('timed out');

/** `work`'s outcome, or TIMED_OUT if `ms` pass first. The timer is cleared either way; `work` itself is not cancelled. */
export async function raceTimeout<T>(work: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
