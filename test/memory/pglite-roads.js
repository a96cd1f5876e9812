#!/usr/bin/env node
/**
 * PGlite alone, in a worker thread as the service runs it, under a given configuration: what the
 * process holds once it is open, after writing, and after the thread has ended.
 *
 *   node test/memory/pglite-roads.js --data-dir DIR [--set NAME=VALUE]... [--liftoff-only]
 *        [--young-mb N] [--writes N] [--load-tar FILE] [--json]
 *
 * --data-dir      the cluster; created by PGlite's initdb when it holds none (or from --load-tar,
 *                 a tar such as dumpDataDir() makes, through PGlite's own loadDataDir)
 * --set           a PostgreSQL setting, as a `-c` start parameter after PGlite.defaultStartParams
 * --liftoff-only  V8's baseline WebAssembly compiler only (v8.setFlagsFromString, before the worker)
 * --young-mb      the worker's resourceLimits.maxYoungGenerationSizeMb
 * --writes        upserts of a 2 KB jsonb row after opening (default 500)
 *
 * Reports VmRSS at each step and VmHWM (peak) at the end, in MB, for this whole process: a bare
 * Node.js process starts at about 40 MB. Figures, not a test.
 */
'use strict';
const { readFileSync } = require('node:fs');
const { setFlagsFromString } = require('node:v8');
const { Worker } = require('node:worker_threads');
const { resolve } = require('node:path');

function parseArgs(argv) {
  const opts = { settings: [], liftoffOnly: false, writes: 500, json: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => argv[++i];
    if (arg === '--data-dir') opts.dataDir = resolve(value());
    else if (arg === '--set') opts.settings.push(value());
    else if (arg === '--liftoff-only') opts.liftoffOnly = true;
    else if (arg === '--young-mb') opts.youngMb = Number(value());
    else if (arg === '--writes') opts.writes = Number(value());
    else if (arg === '--load-tar') opts.loadTar = resolve(value());
    else if (arg === '--json') opts.json = true;
    else throw new Error(`unknown argument ${arg}`);
  }
  if (!opts.dataDir) throw new Error('--data-dir is required');
  return opts;
}

const memory = () => {
  const status = readFileSync('/proc/self/status', 'utf8');
  const mb = (name) => Math.round(Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)[1]) / 1024);
  return { rss: mb('VmRSS'), hwm: mb('VmHWM') };
};

const WORKER = String.raw`
const { parentPort, workerData } = require('node:worker_threads');
const { readFileSync } = require('node:fs');
const { PGlite } = require(workerData.modulePath);
(async () => {
  const started = Date.now();
  const db = new PGlite(workerData.dataDir, {
    startParams: [...PGlite.defaultStartParams, ...workerData.settings.flatMap((s) => ['-c', s])],
    loadDataDir: workerData.loadTar ? new Blob([readFileSync(workerData.loadTar)]) : undefined,
  });
  await db.waitReady;
  const settings = (await db.query("SELECT name, setting, unit FROM pg_settings WHERE name IN ('shared_buffers', 'max_connections', 'work_mem', 'maintenance_work_mem', 'temp_buffers', 'wal_buffers', 'fsync')")).rows;
  parentPort.postMessage({ step: 'ready', ms: Date.now() - started, settings });
  await db.exec('CREATE TABLE IF NOT EXISTS road (id integer PRIMARY KEY, doc jsonb NOT NULL)');
  const began = Date.now();
  for (let i = 0; i < workerData.writes; i++) {
    await db.query('INSERT INTO road VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc', [i % 100, JSON.stringify({ i, text: 'x'.repeat(2000) })]);
  }
  parentPort.postMessage({ step: 'wrote', ms: Date.now() - began });
  await db.close();
  parentPort.postMessage({ step: 'closed' });
})().catch((err) => parentPort.postMessage({ step: 'failed', error: String(err && err.stack || err) }));
`;

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.liftoffOnly) setFlagsFromString('--liftoff-only');
  const out = { settings: opts.settings, liftoffOnly: opts.liftoffOnly, youngMb: opts.youngMb ?? null, start: memory() };
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: {
      modulePath: require.resolve('@electric-sql/pglite', { paths: [resolve(__dirname, '..', '..')] }),
      dataDir: opts.dataDir,
      settings: opts.settings,
      writes: opts.writes,
      loadTar: opts.loadTar,
    },
    resourceLimits: opts.youngMb ? { maxYoungGenerationSizeMb: opts.youngMb } : undefined,
  });
  worker.on('message', (m) => {
    if (m.step === 'failed') throw new Error(m.error);
    out[m.step] = { ...memory(), ...(m.ms !== undefined ? { ms: m.ms } : {}) };
    if (m.settings) out.pgSettings = Object.fromEntries(m.settings.map((s) => [s.name, s.unit ? `${s.setting} x ${s.unit}` : s.setting]));
  });
  await new Promise((res) => worker.once('exit', res));
  await new Promise((res) => setTimeout(res, 500));
  out.exited = memory();
  out.peak = out.exited.hwm;
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } else {
    const at = (s) => (out[s] ? `${out[s].rss} MB` : '-');
    process.stdout.write(
      `${opts.settings.join(' ') || 'PGlite defaults'}${opts.liftoffOnly ? ', liftoff-only' : ''}${opts.youngMb ? `, young ${opts.youngMb} MB` : ''}\n` +
        `  start ${at('start')}, ready ${at('ready')} (${out.ready?.ms} ms), after ${opts.writes} writes ${at('wrote')} (${out.wrote?.ms} ms), ` +
        `after exit ${at('exited')}, peak ${out.peak} MB\n`,
    );
  }
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
