import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { LogCapture } from '../../test/support/log-capture';
import { installedPgliteVersion, loadPgliteTemplate, type PgliteTemplate } from './pglite-template';
import { PGLITE_SETTINGS, PgliteSqlClient } from './sql-client';
import { silentLogger } from './sql-test-backends';

// Starting an embedded PostgreSQL (WASM) takes a second or two, more on a busy machine; initdb more.
jest.setTimeout(60_000);

const logged = () => {
  const logs = new LogCapture();
  return { logger: pino({ level: 'debug' }, logs), lines: () => logs.lines };
};

/** A client whose worker is never stopped for being idle: these tests are not about that. */
const open = (dataDir: string, logger = silentLogger) => new PgliteSqlClient(dataDir, logger, { idleStopMs: 0 });

describe('the embedded database template', () => {
  let scratch: string;

  beforeEach(() => {
    scratch = mkdtempSync(join(tmpdir(), 'pglite-template-'));
  });
  afterEach(() => {
    rmSync(scratch, { recursive: true, force: true });
  });

  it('was made by the installed PGlite (after an upgrade, make it again: see make-pglite-template.ts)', () => {
    expect(loadPgliteTemplate()?.pgliteVersion).toBe(installedPgliteVersion());
  });

  it('makes a new data directory from the template, in a sibling directory renamed into place', async () => {
    const dataDir = join(scratch, 'pglite');
    const { logger, lines } = logged();
    const sql = open(dataDir, logger);
    try {
      expect(await sql.query<{ datname: string }>('SELECT datname FROM pg_database ORDER BY datname')).toEqual([
        { datname: 'postgres' },
        { datname: 'template0' },
        { datname: 'template1' },
      ]);
    } finally {
      await sql.close();
    }
    expect(lines()).toContainEqual(expect.objectContaining({ msg: 'embedded database created', from: 'template' }));
    expect(readdirSync(scratch)).toEqual(['pglite']);
    expect(readFileSync(join(dataDir, 'PG_VERSION'), 'utf8').trim()).toMatch(/^\d+$/);
  });

  it('opens as a cluster with the service’s settings, PGlite’s durability settings untouched', async () => {
    const dataDir = join(scratch, 'pglite');
    const durability = "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method', 'wal_level') ORDER BY name";
    const sql = open(dataDir);
    try {
      for (const [name, value] of Object.entries(PGLITE_SETTINGS)) {
        expect(await sql.query(`SHOW ${name}`)).toEqual([{ [name]: value }]);
      }
      const ours = await sql.query(durability);
      await sql.close();
      // The same cluster started with PGlite's defaults only.
      const plain = new PgliteSqlClient(dataDir, silentLogger, { idleStopMs: 0, settings: {} });
      try {
        expect(await plain.query('SHOW shared_buffers')).toEqual([{ shared_buffers: '128MB' }]);
        expect(await plain.query(durability)).toEqual(ours);
      } finally {
        await plain.close();
      }
    } finally {
      await sql.close();
    }
  });

  it('redoes a creation cut short: a staging directory left behind, and a directory without PG_VERSION', async () => {
    const dataDir = join(scratch, 'pglite');
    mkdirSync(join(dataDir, 'global'), { recursive: true });
    writeFileSync(join(dataDir, 'global', 'pg_control'), 'half written');
    mkdirSync(join(`${dataDir}.creating`, 'base'), { recursive: true });
    writeFileSync(join(`${dataDir}.creating`, 'PG_VERSION'), '18\n');
    const sql = open(dataDir);
    try {
      expect(await sql.query<{ n: number }>('SELECT count(*) AS n FROM pg_database')).toEqual([{ n: 3 }]);
    } finally {
      await sql.close();
    }
    expect(readdirSync(scratch)).toEqual(['pglite']);
  });
});

describe('a template that cannot be used', () => {
  afterEach(() => {
    jest.resetModules();
  });

  /** PgliteSqlClient as if the build carried `template`. */
  const clientWith = (template: PgliteTemplate | undefined): typeof PgliteSqlClient => {
    let client!: typeof PgliteSqlClient;
    jest.isolateModules(() => {
      jest.doMock('./pglite-template-data', () => ({ PGLITE_TEMPLATE: template }));
      client = jest.requireActual<{ PgliteSqlClient: typeof PgliteSqlClient }>('./sql-client').PgliteSqlClient;
    });
    return client;
  };

  it('damaged (its checksum does not match): initdb makes the cluster, and it says so', async () => {
    const damaged: PgliteTemplate = { ...loadPgliteTemplate()!, sha256: '0'.repeat(64) };
    const scratch = mkdtempSync(join(tmpdir(), 'pglite-template-'));
    try {
      const { logger, lines } = logged();
      const Client = clientWith(damaged);
      const sql = new Client(join(scratch, 'pglite'), logger, { idleStopMs: 0 });
      try {
        expect(await sql.query<{ n: number }>('SELECT count(*) AS n FROM pg_database')).toEqual([{ n: 3 }]);
      } finally {
        await sql.close();
      }
      expect(lines()).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ msg: 'embedded database template not used: initdb will create the cluster', err: expect.objectContaining({ message: expect.stringMatching(/damaged/) }) }),
          expect.objectContaining({ msg: 'embedded database created', from: 'initdb' }),
        ]),
      );
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('made by another PGlite version: not used', () => {
    let load!: typeof loadPgliteTemplate;
    jest.isolateModules(() => {
      const actual = jest.requireActual<{ PGLITE_TEMPLATE: PgliteTemplate }>('./pglite-template-data').PGLITE_TEMPLATE;
      jest.doMock('./pglite-template-data', () => ({ PGLITE_TEMPLATE: { ...actual, pgliteVersion: '0.0.1' } }));
      load = jest.requireActual<{ loadPgliteTemplate: typeof loadPgliteTemplate }>('./pglite-template').loadPgliteTemplate;
    });
    expect(load()).toBeUndefined();
  });
});
