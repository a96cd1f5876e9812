'use strict';
/**
 * Processes the bench starts: the relay under test (pinned to its core, output to files), its
 * memory read after a full GC, and cleanup of every child and temporary directory on any exit.
 */
const { execFileSync, spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { freePort, httpRequest, procRssKb, sleep } = require('./util');
const WebSocket = require('ws');

const PEER_CORE = '0';
const GENERATOR_CORES = '1';

const children = new Set();
const tmpDirs = new Set();

function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

function tmpDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpDirs.add(dir);
  return dir;
}

function cleanup() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  for (const dir of tmpDirs) {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  }
  tmpDirs.clear();
}

function installCleanup() {
  process.on('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      console.error(`\nbench: ${sig}, stopping`);
      cleanup();
      process.exit(130);
    });
  }
  process.on('uncaughtException', (err) => {
    console.error('bench: uncaught', err);
    cleanup();
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    console.error('bench: unhandled rejection', err);
    cleanup();
    process.exit(1);
  });
}

/** Pins this process (and so the generator workers it forks) to the generator cores. */
function pinning() {
  const ncpu = os.cpus().length;
  if (ncpu < 2) return { ok: false, why: `only ${ncpu} CPU` };
  try {
    execFileSync('taskset', ['-pc', GENERATOR_CORES, String(process.pid)], { stdio: 'ignore' });
    execFileSync('taskset', ['-c', PEER_CORE, 'true'], { stdio: 'ignore' });
    return { ok: true, peerCore: PEER_CORE, generatorCores: GENERATOR_CORES };
  } catch (err) {
    return { ok: false, why: `taskset failed: ${err.message.split('\n')[0]}` };
  }
}

const tail = (file, n) => {
  try {
    return fs.readFileSync(file, 'utf8').slice(-n);
  } catch {
    return '';
  }
};

/**
 * Starts a peer (see lib/peers.js) on the peer core and waits for its health URL. Node runs it
 * with --heapsnapshot-signal=SIGUSR2: a heap snapshot begins with a full GC, so RSS read right
 * after one is comparable between two moments.
 */
async function startPeer(name, peer, ctx) {
  const port = await freePort();
  const { script, cwd } = await peer.prepare(ctx.opts);
  const env = { ...process.env, NODE_ENV: 'production', ...peer.env({ port, mockUrl: ctx.mockUrl, calls: ctx.calls, tmpDir }) };
  const diagDir = tmpDir('call-operator-bench-diag-');
  const logDir = tmpDir('call-operator-bench-log-');
  let profileDir = null;
  // A full GC on request: through the inspector (no allocation of its own), or a heap snapshot
  // when they are kept (writing one leaves the allocator holding tens of MB).
  const keepSnapshots = ctx.opts.keepHeapSnapshots ?? null;
  const nodeArgs = keepSnapshots ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${diagDir}`] : ['--inspect=127.0.0.1:0'];
  if (ctx.cpuProf) {
    profileDir = tmpDir('call-operator-profile-');
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${profileDir}`);
  }
  if (name === 'service') nodeArgs.push(...ctx.opts.serviceNodeArgs);
  const args = [...nodeArgs, script];
  const cmd = ctx.pin.ok ? ['taskset', ['-c', PEER_CORE, process.execPath, ...args]] : [process.execPath, args];
  // Output goes to files, not pipes: reading a chatty peer's logs must not cost the generator.
  const outFile = path.join(logDir, 'stdout.log');
  const errFile = path.join(logDir, 'stderr.log');
  const out = fs.openSync(outFile, 'w');
  const err = fs.openSync(errFile, 'w');
  const spawnedAt = Date.now();
  const child = spawn(cmd[0], cmd[1], { cwd, env, stdio: ['ignore', out, err] });
  fs.closeSync(out);
  fs.closeSync(err);
  track(child);
  const relay = { name, peer, child, port, profileDir, diagDir, keepSnapshots, keepLogs: ctx.opts.keepLogs ?? null, outFile, errFile, spawnedAt, stopping: false, exited: false };
  child.on('exit', (code, sig) => {
    relay.exited = true;
    relay.exitCode = code;
    relay.exitSignal = sig;
    if (!relay.stopping) {
      console.error(`bench: the ${name} peer exited early (code ${code}, signal ${sig})`);
      console.error(tail(errFile, 4000) || tail(outFile, 4000));
      cleanup();
      process.exit(1);
    }
  });
  const bootStart = Date.now();
  while ((await httpRequest(`http://127.0.0.1:${port}${peer.health}`)).status !== 200) {
    if (Date.now() - bootStart > 60000) throw new Error(`the ${name} peer did not answer GET ${peer.health} 200 within 60 s`);
    await sleep(100);
  }
  relay.bootMs = Date.now() - bootStart;
  return relay;
}

/** From now on, warnings and errors the peer logs are counted (not those of its boot). */
function markLogs(relay) {
  const size = (file) => {
    try {
      return fs.statSync(file).size;
    } catch {
      return 0;
    }
  };
  relay.logFrom = { out: size(relay.outFile), err: size(relay.errFile) };
}

const readFrom = (file, from) => {
  try {
    const buf = fs.readFileSync(file);
    return buf.subarray(Math.min(from, buf.length), Math.min(buf.length, from + 2e6)).toString('utf8');
  } catch {
    return '';
  }
};

async function stopPeer(relay) {
  relay.stopping = true;
  if (!relay.exited) {
    const exited = new Promise((resolve) => relay.child.once('exit', resolve));
    relay.child.kill('SIGTERM');
    const killTimer = setTimeout(() => relay.child.kill('SIGKILL'), 10000);
    await exited;
    clearTimeout(killTimer);
  }
  const from = relay.logFrom || { out: 0, err: 0 };
  const lines = [...readFrom(relay.errFile, from.err).split('\n'), ...readFrom(relay.outFile, from.out).split('\n')];
  // The service logs JSON (pino levels 40+ are warn and worse); others print plain text.
  const bad = lines.filter((l) => /"level":(40|50|60)|error|warn/i.test(l));
  relay.warnOrErrorLines = bad.length;
  relay.warnOrErrorSample = bad.slice(0, 5).map((l) => l.slice(0, 300));
  if (relay.keepLogs) {
    fs.mkdirSync(relay.keepLogs, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    fs.copyFileSync(relay.outFile, path.join(relay.keepLogs, `${relay.name}-${stamp}.stdout.log`));
    fs.copyFileSync(relay.errFile, path.join(relay.keepLogs, `${relay.name}-${stamp}.stderr.log`));
  }
}

/** RSS right after a full garbage collection. */
async function rssAfterGc(relay) {
  return relay.keepSnapshots ? rssAfterSnapshot(relay) : rssAfterInspectorGc(relay);
}

/** HeapProfiler.collectGarbage through the peer's inspector (its address is on its stderr). */
async function rssAfterInspectorGc(relay) {
  const deadline = Date.now() + 30000;
  let url;
  while (!(url = /Debugger listening on (ws:\/\/\S+)/.exec(tail(relay.errFile, Infinity))?.[1])) {
    if (Date.now() > deadline) return null;
    await sleep(50);
  }
  const socket = new WebSocket(url);
  try {
    await new Promise((resolve, reject) => {
      socket.once('open', () => socket.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' })));
      socket.on('message', (data) => {
        if (JSON.parse(data.toString()).id === 1) resolve();
      });
      socket.once('error', reject);
      setTimeout(() => reject(new Error('the inspector did not answer')), 30000).unref();
    });
  } catch {
    return null;
  } finally {
    socket.terminate();
  }
  return procRssKb(relay.child.pid);
}

/** The same, forced by a heap snapshot, moved to --keep-heap-snapshots. */
async function rssAfterSnapshot(relay) {
  const snapshots = () => fs.readdirSync(relay.diagDir).filter((f) => f.endsWith('.heapsnapshot'));
  const before = snapshots().length;
  relay.child.kill('SIGUSR2');
  const deadline = Date.now() + 120000;
  while (snapshots().length === before) {
    if (Date.now() > deadline) return null;
    await sleep(50);
  }
  // The snapshot is written on the relay's main thread: once it answers again, it is done.
  while ((await httpRequest(`http://127.0.0.1:${relay.port}${relay.peer.health}`)).status !== 200) {
    if (Date.now() > deadline) return null;
    await sleep(50);
  }
  const rss = procRssKb(relay.child.pid);
  for (const f of snapshots()) {
    const file = path.join(relay.diagDir, f);
    fs.renameSync(file, path.join(relay.keepSnapshots, `${relay.name}-${f}`));
  }
  return rss;
}

module.exports = { track, tmpDir, cleanup, installCleanup, pinning, startPeer, markLogs, stopPeer, rssAfterGc, PEER_CORE, GENERATOR_CORES };
