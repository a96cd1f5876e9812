'use strict';
/**
 * The traffic generator, seen from the bench's main process: one or more worker processes
 * (lib/worker.js), each with simulated callers and the mock model. The mock's listening socket is
 * opened here and handed to every worker, so one Realtime URL serves them all. Workers inherit
 * this process's CPU affinity (the generator cores).
 */
const { fork } = require('child_process');
const net = require('net');
const path = require('path');
const { procCpuSeconds } = require('./util');

const WORKER = path.join(__dirname, 'worker.js');

class TrafficGenerator {
  constructor(count, track, { cpuProfDir = null } = {}) {
    this.count = count;
    this.cpuProfDir = cpuProfDir;
    this.track = track; // registers child processes for cleanup
    this.workers = [];
    this.pending = new Map();
    this.nextId = 0;
    this.listeners = new Map();
  }

  async start() {
    const server = net.createServer({ pauseOnConnect: false });
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, resolve);
    });
    this.mockUrl = `ws://127.0.0.1:${server.address().port}/v1/realtime`;
    for (let i = 0; i < this.count; i++) {
      const execArgv = this.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${this.cpuProfDir}`] : [];
      const child = fork(WORKER, [], { execArgv, serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      this.track(child);
      child.on('message', (msg) => this.onMessage(msg));
      child.on('exit', (code, sig) => {
        if (!this.stopping) {
          for (const [, p] of this.pending) p.reject(new Error(`generator worker exited (code ${code}, signal ${sig})`));
          this.pending.clear();
        }
      });
      this.workers.push(child);
    }
    await Promise.all(this.workers.map((w) => this.rpc(w, 'init', {}, server)));
    // Every worker holds the listening socket now; this process must not accept on it.
    server.close();
  }

  get pids() {
    return this.workers.map((w) => w.pid);
  }

  /** CPU seconds used so far by the generator: the workers and this process (which shares their cores). */
  cpuSeconds() {
    let s = procCpuSeconds(process.pid) || 0;
    for (const pid of this.pids) s += procCpuSeconds(pid) || 0;
    return s;
  }

  onMessage(msg) {
    if (msg && msg.event) {
      const l = this.listeners.get(msg.event);
      if (l) l();
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.error) p.reject(new Error(`generator worker: ${msg.error}`));
    else p.resolve(msg.result);
  }

  rpc(worker, cmd, args, handle) {
    return new Promise((resolve, reject) => {
      const id = ++this.nextId;
      this.pending.set(id, { resolve, reject });
      worker.send({ id, cmd, args }, handle);
    });
  }

  /** The same command to every worker; `args` may be a function of the worker's index. */
  all(cmd, args = {}) {
    return Promise.all(this.workers.map((w, i) => this.rpc(w, cmd, typeof args === 'function' ? args(i) : args)));
  }

  /** Resolves when every worker has sent `event` once more. */
  whenAll(event) {
    return new Promise((resolve) => {
      let n = 0;
      this.listeners.set(event, () => {
        if (++n === this.workers.length) {
          this.listeners.delete(event);
          resolve();
        }
      });
    });
  }

  /** Resolves once every worker has exited (a profiled worker writes its profile as it exits). */
  stop() {
    this.stopping = true;
    const exited = this.workers.filter((w) => w.exitCode === null && w.signalCode === null).map((w) => new Promise((resolve) => w.once('exit', resolve)));
    for (const w of this.workers) if (w.connected) w.disconnect();
    return Promise.all(exited);
  }
}

module.exports = { TrafficGenerator };
