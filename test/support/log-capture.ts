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

  find(msg: string, fields: Record<string, unknown> = {}, skip?: Set<LogLine>): LogLine | undefined {
    const line = this.lines.find(
      (l) => l.msg === msg && !skip?.has(l) && Object.entries(fields).every(([k, v]) => JSON.stringify(l[k]) === JSON.stringify(v)),
    );
    return line;
  }

  all(msg: string): LogLine[] {
    return this.lines.filter((l) => l.msg === msg);
  }
}
