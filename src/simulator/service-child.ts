/**
 * The built service (dist/src/main.js, as `npm start` runs it) in a child process, for the
 * scenario runner: started with the environment given, ready once it logs that it listens, and
 * stopped with SIGTERM (SIGKILL if it does not exit in time). Its logs are kept, not printed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Scheduler } from '../common/scheduler';
import { SimulatorError } from './voice-webhook';

/** dist/src/main.js, beside this file's folder once compiled. */
const MAIN = join(__dirname, '..', 'main.js');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export class ServiceChild {
  /** The last lines the service wrote, for telling what went wrong. */
  private readonly tail: string[] = [];
  private readonly exited: Promise<number | null>;

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Starts the service on `port` and waits (up to 60 s) until it listens. */
  static async start(env: Record<string, string>, port: number, scheduler: Scheduler): Promise<ServiceChild> {
    if (!existsSync(MAIN)) throw new SimulatorError(`${MAIN} is missing: run npm run build first`);
    const child = spawn(process.execPath, ['--liftoff-only', MAIN], {
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', HOST: '127.0.0.1', PORT: String(port), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // A runner that exits (an error, Ctrl-C, SIGTERM) leaves no service behind.
    const killOnExit = (): void => void child.kill('SIGKILL');
    process.once('exit', killOnExit);
    child.once('exit', () => process.off('exit', killOnExit));
    const service = new ServiceChild(child, `http://127.0.0.1:${port}`);
    await new Promise<void>((resolve, reject) => {
      const timer = scheduler.after(60_000, () => reject(new SimulatorError(`the service did not start within 60 s:\n${service.logTail()}`)));
      const onLine = (line: string): void => {
        service.keep(line);
        if (line.includes('"call operator listening"')) {
          timer.cancel();
          resolve();
        }
      };
      lines(child.stdout, onLine);
      lines(child.stderr, (line) => service.keep(line));
      child.once('exit', (code) => {
        timer.cancel();
        reject(new SimulatorError(`the service exited (code ${code}) before it listened:\n${service.logTail()}`));
      });
    });
    return service;
  }

  logTail(): string {
    return this.tail.join('\n');
  }

  async stop(scheduler: Scheduler): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const kill = scheduler.after(15_000, () => this.child.kill('SIGKILL'));
    await this.exited;
    kill.cancel();
  }

  private keep(line: string): void {
    this.tail.push(line.slice(0, 500));
    if (this.tail.length > 30) this.tail.shift();
  }
}

function lines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    for (const line of parts) onLine(line);
  });
}
