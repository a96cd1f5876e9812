/**
 * The service as production runs it: `node --liftoff-only dist/src/main.js` (the Dockerfile's and
 * `npm start`'s command; see useLiftoffOnly in src/database/sql-client.ts) in a child process, for
 * tests of process-level behaviour (signals, exit codes). The build is made first when it is
 * missing or older than the sources, so the tests also work from a fresh clone.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../src/simulator/service-child';
import { TEST_DEFAULTS } from './test-env';
import { summarize, Waiters, withTimeout, DEFAULT_TIMEOUT_MS } from './wait';

const ROOT = join(__dirname, '..', '..');
const MAIN = join(ROOT, 'dist', 'src', 'main.js');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Compiles the service unless dist/ is current. */
export function ensureBuilt(): void {
  const inputs = Math.max(newestSource(join(ROOT, 'src')), statSync(join(ROOT, 'tsconfig.json')).mtimeMs, statSync(join(ROOT, 'tsconfig.build.json')).mtimeMs);
  if (existsSync(MAIN) && statSync(MAIN).mtimeMs >= inputs) return;
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'pipe' });
}

/** One pino log line of the service. */
export type LogLine = Record<string, unknown> & { msg?: string };

export class ServiceProcess {
  readonly logs: LogLine[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly waiters = new Waiters('ServiceProcess');
  private stderr = '';
  private partial = '';

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => this.onStdout(chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.waiters.fail(`process exited (code ${code}, signal ${signal}); stderr: ${this.stderr.slice(-500)}`);
        resolve({ code, signal });
      });
    });
  }

  /** Starts the built service with `env` (and no other environment) and waits until it listens. */
  static async start(env: Record<string, string>): Promise<ServiceProcess> {
    ensureBuilt();
    const port = await freePort();
    const child = spawn(process.execPath, ['--liftoff-only', MAIN], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', LOG_LEVEL: 'info', HOST: '127.0.0.1', PORT: String(port), ...TEST_DEFAULTS, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const service = new ServiceProcess(child, port);
    await service.waitForLog((l) => l.msg === 'call operator listening', 30_000);
    return service;
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get streamUrl(): string {
    return `ws://127.0.0.1:${this.port}/twilio/stream`;
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** The first log line matching `predicate`, now or when it is written. */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs: number = DEFAULT_TIMEOUT_MS): Promise<LogLine> {
    return this.waiters.until(
      'a matching log line',
      () => this.logs.find(predicate),
      () => summarize(this.logs.map((l) => String(l.msg))),
      timeoutMs,
    );
  }

  waitForExit(timeoutMs: number = DEFAULT_TIMEOUT_MS): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return withTimeout(this.exited, 'the service to exit', timeoutMs);
  }

  /** Ends a service a failed test left running. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  private onStdout(chunk: string): void {
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop()!;
    for (const line of lines) {
      try {
        this.logs.push(JSON.parse(line) as LogLine);
      } catch {
        this.logs.push({ msg: line });
      }
    }
    this.waiters.notify();
  }
}
