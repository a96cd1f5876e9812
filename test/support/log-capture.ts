import { Waiters, DEFAULT_TIMEOUT_MS } from './wait';

export type LogLine = Record<string, unknown> & { msg?: string; level?: string };

/** A pino destination that keeps every JSON line, so tests can assert on what was logged. */
export class LogCapture {
  readonly lines: LogLine[] = [];
  readonly raw: string[] = [];
  private readonly waiters = new Waiters('LogCapture');

  write(chunk: string): void {
    for (const line of chunk.split('\n')) {
      if (!line) continue;
      this.raw.push(line);
      this.lines.push(JSON.parse(line) as LogLine);
    }
    this.waiters.notify();
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
    const line = this.lines.find(
      (l) => l.msg === msg && !skip?.has(l) && Object.entries(fields).every(([k, v]) => JSON.stringify(l[k]) === JSON.stringify(v)),
    );
    return line;
  }

  private matching(msg: string, fields: Record<string, unknown>): LogLine[] {
    return this.lines.filter((l) => l.msg === msg && Object.entries(fields).every(([k, v]) => JSON.stringify(l[k]) === JSON.stringify(v)));
  }

  all(msg: string): LogLine[] {
    return this.lines.filter((l) => l.msg === msg);
  }
}
