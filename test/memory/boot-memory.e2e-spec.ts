/**
 * Memory of the service as `npm start` runs it, on the embedded defaults. The figures themselves
 * are measured with test/memory/measure-rss.js (a boot peak of about 210-230 MB on an empty
 * DATA_DIR, about 200-210 MB on an existing one, then about 120-150 MB idle once the database
 * worker has stopped); this only catches a figure gone silly, far from them: creating the cluster
 * with initdb again (about 900 MB), or PGlite back on its defaults (400 MB and more).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServiceProcess } from '../support/service-process';

const SILLY_MB = 320;

/** Peak resident memory of a process (VmHWM), in MB. */
function peakMb(pid: number): number {
  const kb = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(kb?.[1]) / 1024;
}

const linux = existsSync('/proc/self/status');

(linux ? describe : describe.skip)('service memory on the embedded defaults', () => {
  let dataDir: string;
  let service: ServiceProcess | undefined;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'call-operator-memory-'));
  });
  afterEach(async () => {
    await service?.kill();
    service = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  });

  const boot = async (): Promise<number> => {
    service = await ServiceProcess.start({ DATA_DIR: dataDir });
    // Listening means migrated: migrations run before the app listens.
    const peak = peakMb((service as unknown as { child: { pid: number } }).child.pid);
    service.signal('SIGTERM');
    expect(await service.waitForExit(15_000)).toEqual({ code: 0, signal: null });
    return peak;
  };

  it(`boots on an empty DATA_DIR from the template, and again on it, peaking below ${SILLY_MB} MB`, async () => {
    const first = await boot();
    expect(service!.logs).toContainEqual(expect.objectContaining({ msg: 'embedded database created', from: 'template' }));
    expect(service!.logs).toContainEqual(expect.objectContaining({ msg: 'database migrations applied' }));
    expect(first).toBeLessThan(SILLY_MB);

    const again = await boot();
    expect(service!.logs).toContainEqual(expect.objectContaining({ msg: 'database schema up to date' }));
    expect(again).toBeLessThan(SILLY_MB);
  }, 120_000);
});
