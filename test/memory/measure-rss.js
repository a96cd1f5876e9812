#!/usr/bin/env node
/**
 * Resident memory of the built service, as `npm start` runs it (`node dist/src/main.js`).
 *
 *   node test/memory/measure-rss.js [--root DIR] [--data-dir DIR] [--idle-ms N] [--settle-ms N]
 *                                   [--env NAME=VALUE]... [--node-arg ARG]... [--label TEXT] [--json] [--trace]
 *
 * Starts the service on a free port (with a fresh DATA_DIR unless --data-dir names one; pass the
 * same directory again to measure a reboot), samples VmRSS in /proc/<pid>/status every 10 ms, and
 * reports:
 *   boot peak     VmHWM (the kernel's own high-water mark) once the service listens and the schema
 *                 is migrated: on an empty DATA_DIR this includes creating the PGlite cluster
 *   ready         VmRSS at that moment, and the time it took
 *   settled       VmRSS --settle-ms after ready (default 5000)
 *   idle          VmRSS --idle-ms after ready (default 30000), with no traffic at all
 *   peak          VmHWM at the end
 * and RssAnon (the process's own memory) beside VmRSS: RssFile (the node binary and libraries) can
 * shrink while idle where the kernel reclaims cold pages (e.g. DAMON), which is not the service
 * giving memory back.
 * (--trace adds VmRSS every 250 ms; --json prints everything as one JSON line), then stops the
 * service with SIGTERM. Linux only. Build first (`npm run build`). Figures, not a
 * test: the targets are checked by running this, never by a timed spec.
 */
'use strict';
const { spawn } = require('node:child_process');
const { existsSync, mkdtempSync, readFileSync } = require('node:fs');
const { createServer } = require('node:net');
const { tmpdir } = require('node:os');
const { join, resolve } = require('node:path');

function parseArgs(argv) {
  const opts = { root: resolve(__dirname, '..', '..'), env: {}, nodeArgs: [], idleMs: 30_000, settleMs: 5_000, label: '', json: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === '--root') opts.root = resolve(next());
    else if (arg === '--data-dir') opts.dataDir = resolve(next());
    else if (arg === '--idle-ms') opts.idleMs = Number(next());
    else if (arg === '--settle-ms') opts.settleMs = Number(next());
    else if (arg === '--label') opts.label = next();
    else if (arg === '--node-arg') opts.nodeArgs.push(next());
    else if (arg === '--json') opts.json = true;
    else if (arg === '--trace') opts.trace = true;
    else if (arg === '--env') {
      const [name, ...value] = next().split('=');
      opts.env[name] = value.join('=');
    } else throw new Error(`unknown argument ${arg}`);
  }
  return opts;
}

function freePort() {
  return new Promise((res, rej) => {
    const server = createServer();
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => res(port));
    });
  });
}

/** { rss, hwm, anon, file } in MB (VmRSS, VmHWM, RssAnon, RssFile), or undefined once the process is gone. */
function memoryOf(pid) {
  let status;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024, anon: kb('RssAnon') / 1024, file: kb('RssFile') / 1024 };
}

const delay = (ms) => new Promise((res) => setTimeout(res, ms));
const mb = (n) => (n === undefined ? '-' : `${Math.round(n)} MB`);

async function measure(opts) {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'call-operator-rss-'));
  const freshDir = opts.env.DATABASE_URL === undefined && !existsSync(join(dataDir, 'pglite', 'PG_VERSION'));
  const port = await freePort();
  const started = Date.now();
  const child = spawn(process.execPath, [...opts.nodeArgs, join(opts.root, 'dist', 'src', 'main.js')], {
    cwd: opts.root,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'info', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise((res) => child.once('exit', (code, signal) => res({ code, signal })));
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c) => (stderr += c));

  let listening = false;
  let migrated = opts.env.DATABASE_URL === undefined ? false : undefined; // with a server, migration is not waited for
  let partial = '';
  const events = [];
  child.stdout.setEncoding('utf8').on('data', (chunk) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop();
    for (const line of lines) {
      let entry;
      try {
        entry = JSON.parse(line);
      } catch {
        continue;
      }
      if (entry.msg === 'call operator listening') listening = true;
      if (entry.msg === 'database migrations applied' || entry.msg === 'database schema up to date') migrated = true;
      if (/database|embedded/.test(entry.msg ?? '')) events.push({ atMs: Date.now() - started, msg: entry.msg });
    }
  });

  let sampledPeak = 0;
  let gone = false;
  void exited.then(() => (gone = true));
  const trace = [];
  let lastTraced = -Infinity;
  const sampler = setInterval(() => {
    const m = memoryOf(child.pid);
    if (!m) return;
    sampledPeak = Math.max(sampledPeak, m.rss);
    const atMs = Date.now() - started;
    if (opts.trace && atMs - lastTraced >= 250) {
      trace.push({ atMs, rssMb: Math.round(m.rss) });
      lastTraced = atMs;
    }
  }, 10);

  const result = { label: opts.label, dataDir, freshDir, env: opts.env, nodeArgs: opts.nodeArgs };
  try {
    const deadline = Date.now() + 120_000;
    while (!(listening && migrated !== false)) {
      if (gone) throw new Error(`service exited during boot: ${stderr.trim()}`);
      if (Date.now() > deadline) throw new Error('service not ready within 120 s');
      await delay(10);
    }
    const ready = memoryOf(child.pid);
    result.readyMs = Date.now() - started;
    result.bootPeakMb = ready.hwm;
    result.readyMb = ready.rss;
    result.readyAnonMb = ready.anon;
    await delay(opts.settleMs);
    const settled = memoryOf(child.pid);
    result.settledMb = settled?.rss;
    result.settledAnonMb = settled?.anon;
    await delay(Math.max(0, opts.idleMs - opts.settleMs));
    const idle = memoryOf(child.pid);
    result.idleMb = idle?.rss;
    result.idleAnonMb = idle?.anon;
    result.idleFileMb = idle?.file;
    result.peakMb = idle?.hwm;
    result.sampledPeakMb = sampledPeak;
    result.events = events;
    if (opts.trace) result.trace = trace;
  } finally {
    clearInterval(sampler);
    child.kill('SIGTERM');
    const exit = await Promise.race([exited, delay(15_000).then(() => undefined)]);
    if (!exit) child.kill('SIGKILL');
    result.exit = exit ?? 'killed';
  }
  return result;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const r = await measure(opts);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  process.stdout.write(
    [
      `${r.label || 'service'} (${r.freshDir ? 'empty' : 'existing'} DATA_DIR ${r.dataDir})`,
      `  boot peak ${mb(r.bootPeakMb)}, ready ${mb(r.readyMb)} after ${r.readyMs} ms`,
      `  settled ${mb(r.settledMb)} (+${opts.settleMs} ms), idle ${mb(r.idleMb)} (+${opts.idleMs} ms), peak ${mb(r.peakMb)}`,
      `  anonymous (RssAnon): ready ${mb(r.readyAnonMb)}, settled ${mb(r.settledAnonMb)}, idle ${mb(r.idleAnonMb)}; file-backed at idle ${mb(r.idleFileMb)}`,
      '',
    ].join('\n'),
  );
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`${err.stack ?? err}\n`);
    process.exit(1);
  });
}

module.exports = { measure, memoryOf };
