#!/usr/bin/env node
/**
 * The embedded database through the service's own code (a build's PgliteSqlClient, migrations and
 * call-log repository): how long it takes and what it holds.
 *
 *   node test/memory/sql-client-bench.js [--root DIR] [--calls N] [--snapshots N] [--concurrency N] [--json]
 *
 * --root is a checkout whose dist/ is built (default: this one), so two builds can be compared.
 * On a new data directory it reports: creating it and migrating; a restart (constructor to the
 * first answer, on the existing directory); N calls written as the call log writes them (each call
 * `snapshots` upserts with a growing transcript, the last one completed; `concurrency` calls at a
 * time), with the latency of each write; 20 list queries of 50 calls; and VmRSS / VmHWM of this
 * process at each step. Figures, not a test.
 */
'use strict';
const { mkdtempSync, readFileSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join, resolve } = require('node:path');
const { performance } = require('node:perf_hooks');

function parseArgs(argv) {
  const opts = { root: resolve(__dirname, '..', '..'), calls: 200, snapshots: 6, concurrency: 10, json: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => argv[++i];
    if (arg === '--root') opts.root = resolve(value());
    else if (arg === '--calls') opts.calls = Number(value());
    else if (arg === '--snapshots') opts.snapshots = Number(value());
    else if (arg === '--concurrency') opts.concurrency = Number(value());
    else if (arg === '--json') opts.json = true;
    else throw new Error(`unknown argument ${arg}`);
  }
  return opts;
}

const memory = () => {
  const status = readFileSync('/proc/self/status', 'utf8');
  const mb = (name) => Math.round(Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)[1]) / 1024);
  return { rssMb: mb('VmRSS'), hwmMb: mb('VmHWM') };
};

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

function record(i, turns, done) {
  const transcript = Array.from({ length: turns }, (_, t) => ({
    speaker: t % 2 ? 'agent' : 'caller',
    text: `Turn ${t} of call ${i}: ${'words spoken on the call '.repeat(6)}`,
    startMs: t * 4_000,
  }));
  return {
    callSid: `CA${String(i).padStart(32, '0')}`,
    streamSid: `MZ${String(i).padStart(32, '0')}`,
    direction: 'inbound',
    from: `+1555${String(i % 1000).padStart(7, '0')}`,
    to: '+15557650000',
    status: done ? 'completed' : 'in-progress',
    startedAt: new Date(Date.UTC(2026, 2, 1) + i * 60_000).toISOString(),
    endedAt: done ? new Date(Date.UTC(2026, 2, 1) + i * 60_000 + turns * 4_000).toISOString() : null,
    durationMs: done ? turns * 4_000 : null,
    endReason: done ? 'twilio_stop' : null,
    transcript,
    usage: { responses: turns, inputTextTokens: 100, inputAudioTokens: 900, cachedTextTokens: 0, cachedAudioTokens: 0, outputTextTokens: 80, outputAudioTokens: 700 },
    costUsd: 0.012345,
    recording: `CA${String(i).padStart(32, '0')}.wav`,
    details: { toolCalls: [] },
    profile: 'default',
  };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const dist = join(opts.root, 'dist', 'src');
  const pino = require(require.resolve('pino', { paths: [opts.root] }));
  const { PgliteSqlClient } = require(join(dist, 'database', 'sql-client.js'));
  const { runMigrations } = require(join(dist, 'database', 'migration-runner.js'));
  const { SqlCallLogRepository } = require(join(dist, 'call-log', 'sql-call-log.repository.js'));
  const logger = pino({ level: 'silent' });
  const migrated = { ensureMigrated: () => Promise.resolve() };
  const scratch = mkdtempSync(join(tmpdir(), 'sql-client-bench-'));
  const dataDir = join(scratch, 'pglite');
  const out = { root: opts.root, start: memory() };
  try {
    let t = performance.now();
    let sql = new PgliteSqlClient(dataDir, logger);
    await runMigrations(sql);
    out.createAndMigrateMs = Math.round(performance.now() - t);
    out.created = memory();
    await sql.close();

    t = performance.now();
    sql = new PgliteSqlClient(dataDir, logger);
    await sql.query('SELECT 1');
    out.restartMs = Math.round(performance.now() - t);
    const repository = new SqlCallLogRepository(sql, migrated);

    const latencies = [];
    let next = 0;
    t = performance.now();
    const caller = async () => {
      for (let i = next++; i < opts.calls; i = next++) {
        for (let s = 1; s <= opts.snapshots; s++) {
          const began = performance.now();
          await repository.save(record(i, s * 3, s === opts.snapshots));
          latencies.push(performance.now() - began);
        }
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency }, caller));
    const wallMs = performance.now() - t;
    latencies.sort((a, b) => a - b);
    out.writes = {
      count: latencies.length,
      perSecond: Math.round((latencies.length / wallMs) * 1000),
      p50Ms: +percentile(latencies, 50).toFixed(1),
      p95Ms: +percentile(latencies, 95).toFixed(1),
      maxMs: +latencies[latencies.length - 1].toFixed(1),
    };
    out.afterWrites = memory();

    const lists = [];
    for (let i = 0; i < 20; i++) {
      const began = performance.now();
      await repository.list({ limit: 50, offset: i * 5 });
      lists.push(performance.now() - began);
    }
    lists.sort((a, b) => a - b);
    out.list50 = { p50Ms: +percentile(lists, 50).toFixed(1), maxMs: +lists[lists.length - 1].toFixed(1) };
    out.afterLists = memory();
    await sql.close();
    out.closed = memory();
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  process.stdout.write(opts.json ? `${JSON.stringify(out)}\n` : `${JSON.stringify(out, null, 2)}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
