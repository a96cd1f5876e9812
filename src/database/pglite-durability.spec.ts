import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt } from '../../test/support/service-process';
import { deferred } from '../../test/support/wait';
import { PgliteSqlClient } from './sql-client';
import { silentLogger } from './sql-test-backends';

jest.setTimeout(60_000);

const ROOT = join(__dirname, '..', '..');

/**
 * A process that writes rows one transaction at a time through the built PgliteSqlClient (its
 * settings, its worker), printing each id once its commit has been answered, until it is killed.
 */
const WRITER = `
const pino = require(require.resolve('pino', { paths: [process.env.ROOT] }));
const { PgliteSqlClient } = require(process.env.ROOT + '/dist/src/database/sql-client.js');
(async () => {
  const sql = new PgliteSqlClient(process.env.DIR, pino({ level: 'silent' }));
  await sql.query('CREATE TABLE IF NOT EXISTS written (id integer PRIMARY KEY, doc jsonb NOT NULL)');
  for (let id = 1; ; id++) {
    await sql.transaction((tx) => tx.query('INSERT INTO written VALUES ($1, $2)', [id, JSON.stringify({ id, text: 'x'.repeat(1000) })]));
    process.stdout.write(id + '\\n');
  }
})();
`;

describe('the embedded database after the process is killed', () => {
  let scratch: string;

  beforeAll(() => ensureBuilt());
  beforeEach(() => {
    scratch = mkdtempSync(join(tmpdir(), 'pglite-kill-'));
  });
  afterEach(() => {
    rmSync(scratch, { recursive: true, force: true });
  });

  it('keeps every write whose commit was answered (SIGKILL mid-write, then a restart)', async () => {
    const dir = join(scratch, 'pglite');
    const child = spawn(process.execPath, ['-e', WRITER], { env: { ...process.env, ROOT, DIR: dir }, stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    let acknowledged = 0;
    let partial = '';
    const enough = deferred();
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      for (const line of lines) acknowledged = Number(line);
      if (acknowledged >= 200) enough.resolve();
    });
    child.once('exit', () => enough.reject(new Error(`writer exited after ${acknowledged} commits`)));
    await enough.promise;
    child.kill('SIGKILL');
    await exited;

    const sql = new PgliteSqlClient(dir, silentLogger, { idleStopMs: 0 });
    try {
      const [{ n, top }] = await sql.query<{ n: number; top: number }>('SELECT count(*) AS n, max(id) AS top FROM written');
      // Every acknowledged commit is there, and nothing but whole transactions.
      expect(top).toBeGreaterThanOrEqual(acknowledged);
      expect(n).toBe(top);
    } finally {
      await sql.close();
    }
  });
});
