import { Waiters, DEFAULT_TIMEOUT_MS } from './wait';

export type LogLine = Record<string, unknown> & { msg?: string; level?: string };

/** The line has message `msg`, and each of `fields` with an equal value. */
function lineMatches(line: LogLine, msg: string, fields: Record<string, unknown>): boolean {
  return line.msg === msg && Object.entries(fields).every(([k, v]) => JSON.stringify(line[k]) === JSON.stringify(v));
}

/** A pino destination that keeps every JSON line, so tests can assert on what was logged. */
export class LogCapture {
  readonly lines: LogLine[] = [];
  readonly raw: string[] = [];
  private readonly waiters = new Waiters('LogCapture');
  private readonly listeners = new Set<() => void>();

  write(chunk: string): void {
    for (const line of chunk.split('\n')) {
      if (!line) continue;
      this.raw.push(line);
      this.lines.push(JSON.parse(line) as LogLine);
    }
    this.waiters.notify();
    for (const listener of [...this.listeners]) listener();
  }

  /** Calls `listener` after every write until the returned function is called (FleetLogs waits on several captures). */
  onWrite(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The first line (not returned before) whose message is `msg` and whose fields match. */
  waitFor(msg: string, fields: Record<string, unknown> = {}, timeoutMs: number = DEFAULT_TIMEOUT_MS): Promise<LogLine> {
    const seen = new Set<LogLine>();
    return this.waiters.until(
      `log "${msg}" with ${JSON.stringify(fields)}`,
      () => this.find(msg, fields, seen),
      () => this.lines.map((l) => l.msg).join(' | '),
      timeoutMs,
    );
  }

  /** Resolves once `count` lines with message `msg` and matching fields have been logged; returns the last. */
  waitForCount(msg: string, fields: Record<string, unknown>, count: number, timeoutMs: number = DEFAULT_TIMEOUT_MS): Promise<LogLine> {
    return this.waiters.until(
      `${count} log lines "${msg}" with ${JSON.stringify(fields)}`,
      () => this.matching(msg, fields)[count - 1],
      () => `${this.matching(msg, fields).length} such line(s)`,
      timeoutMs,
    );
  }

  find(msg: string, fields: Record<string, unknown> = {}, skip?: Set<LogLine>): LogLine | undefined {
    return this.lines.find((l) => lineMatches(l, msg, fields) && !skip?.has(l));
  }

  /** Every line with message `msg` and matching fields, in order. */
  matching(msg: string, fields: Record<string, unknown>): LogLine[] {
    return this.lines.filter((l) => lineMatches(l, msg, fields));
  }

  all(msg: string): LogLine[] {
    return this.lines.filter((l) => l.msg === msg);
  }
}

/** A line of one of the instances of a fleet: which instance (its index in FleetLogs), and the line. */
export interface FleetLogLine {
  readonly instance: number;
  readonly line: LogLine;
}

/**
 * The logs of several instances as one, for events any instance of a fleet may log (the dialer
 * that took a job from the shared queue, say). Waiting is event-driven, as LogCapture's.
 */
export class FleetLogs {
  constructor(private readonly captures: readonly LogCapture[]) {}

  /** Every line with message `msg` and matching fields, instance by instance. */
  matching(msg: string, fields: Record<string, unknown> = {}): FleetLogLine[] {
    return this.captures.flatMap((capture, instance) => capture.matching(msg, fields).map((line) => ({ instance, line })));
  }

  /** Resolves once the instances have logged `count` lines with message `msg` and matching fields between them; all of those. */
  waitForCount(msg: string, fields: Record<string, unknown>, count: number, timeoutMs: number = DEFAULT_TIMEOUT_MS): Promise<FleetLogLine[]> {
    return this.waitForLines(`log lines "${msg}" with ${JSON.stringify(fields)}`, (line) => lineMatches(line, msg, fields), count, timeoutMs);
  }

  /** Resolves once the instances have logged `count` lines that `predicate` takes between them; all of those. */
  waitForLines(what: string, predicate: (line: LogLine) => boolean, count: number, timeoutMs: number = DEFAULT_TIMEOUT_MS): Promise<FleetLogLine[]> {
    const waiters = new Waiters('FleetLogs');
    const unsubscribe = this.captures.map((capture) => capture.onWrite(() => waiters.notify()));
    const lines = () => this.captures.flatMap((capture, instance) => capture.lines.filter(predicate).map((line) => ({ instance, line })));
    return waiters
      .until(
        `${count} ${what} on any instance`,
        () => {
          const found = lines();
          return found.length >= count ? found : undefined;
        },
        () => `${lines().length} such line(s)`,
        timeoutMs,
      )
      .finally(() => unsubscribe.forEach((stop) => stop()));
  }

  /** The first line with message `msg` and matching fields that any instance logs (or has logged). */
  async waitFor(msg: string, fields: Record<string, unknown> = {}, timeoutMs: number = DEFAULT_TIMEOUT_MS): Promise<FleetLogLine> {
    return (await this.waitForCount(msg, fields, 1, timeoutMs))[0];
  }
}
