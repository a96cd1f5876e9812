/**
 * Event-driven waiting for the test fakes: nothing here polls or sleeps. A condition is checked
 * when it is created and again whenever its owner reports an event (Waiters.notify()).
 */

export const DEFAULT_TIMEOUT_MS = 10_000;

export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

interface Pending {
  recheck(): void;
  fail(reason: string): void;
}

/** Pending conditions of one owner (a socket, a server), re-checked on each of its events. */
export class Waiters {
  private readonly pending = new Set<Pending>();
  private failure: string | null = null;

  /** `owner` prefixes every error message, e.g. "MockRealtimeConnection #2". */
  constructor(private readonly owner: string) {}

  /**
   * Resolves with the first non-undefined value of `check()`. Rejects after `timeoutMs`, or once
   * fail() was called (no event can satisfy it any more), saying what was awaited and what
   * `receivedSoFar()` reports.
   */
  until<T>(
    what: string,
    check: () => T | undefined,
    receivedSoFar: () => string,
    timeoutMs: number = DEFAULT_TIMEOUT_MS,
  ): Promise<T> {
    const message = (why: string) =>
      `${this.owner}: ${why} while waiting for ${what}. Received so far: ${receivedSoFar()}`;
    const first = check();
    if (first !== undefined) return Promise.resolve(first);
    if (this.failure !== null) return Promise.reject(new Error(message(this.failure)));

    return new Promise<T>((resolve, reject) => {
      const finish = (outcome: () => void) => {
        clearTimeout(timer);
        this.pending.delete(entry);
        outcome();
      };
      const entry: Pending = {
        recheck: () => {
          let value: T | undefined;
          try {
            value = check();
          } catch (error) {
            finish(() => reject(error instanceof Error ? error : new Error(String(error))));
            return;
          }
          if (value !== undefined) finish(() => resolve(value));
        },
        fail: (reason) => finish(() => reject(new Error(message(reason)))),
      };
      const timer = setTimeout(() => entry.fail(`timed out after ${timeoutMs} ms`), timeoutMs);
      this.pending.add(entry);
    });
  }

  /** Call after every event that may satisfy a pending condition. */
  notify(): void {
    for (const entry of [...this.pending]) entry.recheck();
  }

  /** No further events will come: reject pending and future unsatisfied conditions. */
  fail(reason: string): void {
    this.failure ??= reason;
    for (const entry of [...this.pending]) entry.fail(reason);
  }
}

/** Races `promise` against a timer, e.g. for a `closed` promise. */
export function withTimeout<T>(promise: Promise<T>, what: string, timeoutMs: number = DEFAULT_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** "a, b ×3, c" — consecutive repeats collapsed, only the last `max` groups kept. */
export function summarize(names: readonly string[], max = 40): string {
  if (names.length === 0) return '(nothing)';
  const groups: Array<{ name: string; n: number }> = [];
  for (const name of names) {
    const last = groups[groups.length - 1];
    if (last && last.name === name) last.n++;
    else groups.push({ name, n: 1 });
  }
  const shown = groups.slice(-max).map((g) => (g.n > 1 ? `${g.name} ×${g.n}` : g.name));
  return (groups.length > max ? `… ${groups.length - max} earlier, ` : '') + shown.join(', ');
}
