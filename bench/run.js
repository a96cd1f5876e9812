#!/usr/bin/env node
'use strict';
/**
 * Load benchmark for the Call Operator media relay.
 *
 *   node bench/run.js [--calls N] [--seconds S] [--smoke]
 *
 * Boots the built service (dist/src/main.js) as a child process against an in-process mock of the
 * OpenAI Realtime API, opens N simulated Twilio Media Streams calls, and measures relay latency,
 * frame loss, setup time, CPU, RSS and barge-in truncation accuracy. See docs/benchmarks.md.
 *
 * Plain Node 20, CommonJS, only the `ws` package. Nothing is built here.
 */
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const http = require('http');
const net = require('net');
const os = require('os');
const path = require('path');
const { performance, monitorEventLoopDelay } = require('perf_hooks');
const WebSocket = require('ws');

const ROOT = path.resolve(__dirname, '..');
const MAIN = path.join(ROOT, 'dist', 'src', 'main.js');

// ---- arguments ----------------------------------------------------------------------------------

function parseArgs(argv) {
  const opts = { calls: 100, seconds: 30, smoke: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) usage(`bad value for ${a}`);
      return v;
    };
    if (a === '--calls') opts.calls = Math.floor(val());
    else if (a === '--seconds') opts.seconds = val();
    else if (a === '--smoke') opts.smoke = true;
    else if (a === '--help' || a === '-h') usage();
    else usage(`unknown argument ${a}`);
  }
  if (opts.smoke) {
    opts.calls = 3;
    opts.seconds = 3;
  }
  return opts;
}

function usage(err) {
  if (err) console.error(err);
  console.error('usage: node bench/run.js [--calls N] [--seconds S] [--smoke]');
  process.exit(err ? 2 : 0);
}

const OPTS = parseArgs(process.argv.slice(2));

// ---- constants ----------------------------------------------------------------------------------

const FRAME_BYTES = 160; // 20 ms of 8 kHz mu-law
const FRAME_MS = 20;
const BYTES_PER_MS = 8;
const REPLY_EVERY_BYTES = 2000 * BYTES_PER_MS; // a reply after every ~2 s of caller audio
const REPLY_MS = 1500;
const CHUNK_MS = 100; // agent audio delta size
const CHUNK_INTERVAL_MS = 10; // bursts faster than real time
const INTERRUPT_EVERY = 3; // every 3rd reply is barged in on
const INTERRUPT_AFTER_MS = 500; // speech_started this long after the first delta
// Spacing between call starts: avoids a herd of handshakes and, being coprime with 20, spreads the
// calls' 20 ms frame phases over the whole period instead of sending every call's frame at once.
const CALL_RAMP_MS = 7;
const LAG_RESOLUTION_MS = 5;
const DRAIN_MS = 1000; // after the last caller frame, before stop

const MAGIC_IN = [0xc1, 0x11]; // caller frames
const MAGIC_OUT = [0xa6, 0xe7]; // agent frames

// ---- shared measurement state --------------------------------------------------------------------

const lat = { up: [], down: [], upSteady: [], downSteady: [] }; // ms
// Samples sent after every call is open (plus 1 s) also go to the steady-state lists.
let steadyFrom = Infinity;
const setup = []; // ms
const calls = []; // Call objects by index
const truncations = new Map(); // `${callIdx}:${reply}` -> { callerPlayedMs, audioEndMs, sentMs }
const notes = [];

// ---- child process handling ----------------------------------------------------------------------

let child = null;
let childStderr = '';
let tmpDir = null;
let shuttingDown = false;

function cleanup() {
  if (child && child.exitCode === null && child.signalCode === null) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  if (tmpDir) {
    try {
      fs.rmSync(tmpDir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
    tmpDir = null;
  }
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    console.error(`\nbench: ${sig}, stopping the service`);
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

// ---- helpers -------------------------------------------------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function httpGet(url) {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(0));
    req.setTimeout(1000, () => {
      req.destroy();
      resolve(0);
    });
  });
}

function pct(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

function stats(values) {
  const s = Float64Array.from(values).sort();
  const r = (x) => (x === null ? null : Math.round(x * 1000) / 1000);
  return { n: s.length, min: r(s.length ? s[0] : null), p50: r(pct(s, 50)), p99: r(pct(s, 99)), max: r(s.length ? s[s.length - 1] : null) };
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

function procCpuTicks(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the ")" of comm: state is field 3; utime 14, stime 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]);
  } catch {
    return null;
  }
}

function procRssKb(pid) {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

// ---- taskset -------------------------------------------------------------------------------------

function pinning() {
  const ncpu = os.cpus().length;
  if (ncpu < 2) return { ok: false, why: `only ${ncpu} CPU` };
  try {
    execFileSync('taskset', ['-pc', '1', String(process.pid)], { stdio: 'ignore' });
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
    return { ok: true };
  } catch (err) {
    return { ok: false, why: `taskset failed: ${err.message.split('\n')[0]}` };
  }
}

// ---- mock OpenAI Realtime server -----------------------------------------------------------------

class MockRealtime {
  constructor() {
    this.http = http.createServer((_req, res) => res.writeHead(426).end('WebSocket only'));
    this.wss = new WebSocketServer();
    this.connections = new Set();
    this.unknownFrames = 0;
    this.outOfOrderUp = 0;
    this.gapsUp = 0;
    this.truncatesReceived = 0;
    this.cancelsReceived = 0;
    this.sessionUpdates = 0;
    this.responseCreates = 0;
  }

  async start() {
    this.http.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url || '/', 'http://127.0.0.1');
      if (url.pathname !== '/v1/realtime') {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws));
    });
    await new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(0, '127.0.0.1', resolve);
    });
    this.url = `ws://127.0.0.1:${this.http.address().port}/v1/realtime`;
  }

  onConnection(ws) {
    const conn = {
      ws,
      callIdx: -1,
      sessionUpdateAt: null,
      lastSeq: 0,
      received: 0,
      sinceReply: 0,
      reply: 0,
      bursting: false,
      outSeq: 0,
      eventSeq: 0,
      timers: new Set(),
    };
    this.connections.add(conn);
    ws.on('error', () => undefined);
    ws.on('close', () => {
      for (const t of conn.timers) clearTimeout(t);
      conn.timers.clear();
      this.connections.delete(conn);
    });
    ws.on('message', (data) => this.onMessage(conn, data));
    this.send(conn, { type: 'session.created', session: { type: 'realtime', object: 'realtime.session', id: 'sess_bench' } });
  }

  send(conn, ev) {
    if (conn.ws.readyState !== WebSocket.OPEN) return;
    ev.event_id = `event_${++conn.eventSeq}`;
    conn.ws.send(JSON.stringify(ev));
  }

  onMessage(conn, data) {
    const now = performance.now();
    let ev;
    try {
      ev = JSON.parse(data.toString('utf8'));
    } catch {
      this.unknownFrames++;
      return;
    }
    switch (ev.type) {
      case 'input_audio_buffer.append':
        this.onAppend(conn, ev, now);
        return;
      case 'session.update':
        this.sessionUpdates++;
        conn.sessionUpdateAt = now;
        this.send(conn, { type: 'session.updated', session: ev.session || {} });
        return;
      case 'conversation.item.truncate': {
        this.truncatesReceived++;
        const m = /^item_(\d+)_(\d+)$/.exec(ev.item_id || '');
        if (m) {
          const key = `${m[1]}:${m[2]}`;
          const t = truncations.get(key) || {};
          t.audioEndMs = ev.audio_end_ms;
          truncations.set(key, t);
        }
        return;
      }
      case 'response.cancel':
        this.cancelsReceived++;
        return;
      case 'response.create':
        // The greeting (and tool follow-ups): not answered, replies are driven by caller audio.
        this.responseCreates++;
        return;
      default:
        return;
    }
  }

  onAppend(conn, ev, now) {
    const buf = Buffer.from(ev.audio || '', 'base64');
    if (buf.length < 16 || buf[0] !== MAGIC_IN[0] || buf[1] !== MAGIC_IN[1]) {
      // Unstamped audio (e.g. silence padding the service inserted): counted, not measured.
      this.unknownFrames++;
      conn.sinceReply += buf.length;
      return;
    }
    const callIdx = buf.readUInt16LE(2);
    const seq = buf.readUInt32LE(4);
    const sentAt = buf.readDoubleLE(8);
    lat.up.push(now - sentAt);
    if (sentAt >= steadyFrom) lat.upSteady.push(now - sentAt);
    if (conn.callIdx < 0) {
      conn.callIdx = callIdx;
      const call = calls[callIdx];
      if (call) {
        call.mockConn = conn;
        if (conn.sessionUpdateAt !== null && call.startSentAt !== null) setup.push(conn.sessionUpdateAt - call.startSentAt);
      }
    }
    if (seq <= conn.lastSeq) this.outOfOrderUp++;
    else {
      if (seq > conn.lastSeq + 1) this.gapsUp += seq - conn.lastSeq - 1;
      conn.lastSeq = seq;
    }
    conn.received++;
    const call = calls[callIdx];
    if (call) call.upReceived++;
    conn.sinceReply += buf.length;
    if (conn.sinceReply >= REPLY_EVERY_BYTES && !conn.bursting) {
      conn.sinceReply = 0;
      this.reply(conn);
    }
  }

  timer(conn, ms, fn) {
    const t = setTimeout(() => {
      conn.timers.delete(t);
      fn();
    }, ms);
    conn.timers.add(t);
  }

  reply(conn) {
    const r = ++conn.reply;
    const responseId = `resp_${conn.callIdx}_${r}`;
    const itemId = `item_${conn.callIdx}_${r}`;
    const ids = { response_id: responseId, item_id: itemId, output_index: 0, content_index: 0 };
    const chunks = REPLY_MS / CHUNK_MS;
    const framesPerChunk = (CHUNK_MS * BYTES_PER_MS) / FRAME_BYTES;
    const interrupt = r % INTERRUPT_EVERY === 0;
    conn.bursting = true;
    this.send(conn, {
      type: 'response.created',
      response: { object: 'realtime.response', id: responseId, status: 'in_progress', output: [], usage: null },
    });
    this.send(conn, {
      type: 'response.output_item.added',
      response_id: responseId,
      output_index: 0,
      item: { id: itemId, object: 'realtime.item', type: 'message', status: 'in_progress', role: 'assistant', content: [] },
    });
    let i = 0;
    const sendChunk = () => {
      if (conn.ws.readyState !== WebSocket.OPEN) return;
      const buf = Buffer.alloc(framesPerChunk * FRAME_BYTES, 0xff);
      const now = performance.now();
      for (let f = 0; f < framesPerChunk; f++) {
        const o = f * FRAME_BYTES;
        buf[o] = MAGIC_OUT[0];
        buf[o + 1] = MAGIC_OUT[1];
        buf.writeUInt16LE(conn.callIdx, o + 2);
        buf.writeUInt32LE(++conn.outSeq, o + 4);
        buf.writeUInt16LE(r, o + 8);
        buf.writeUInt16LE(i * framesPerChunk + f, o + 10);
        buf.writeDoubleLE(now, o + 12);
      }
      const call = calls[conn.callIdx];
      if (call) call.downSent += framesPerChunk;
      this.send(conn, { type: 'response.output_audio.delta', ...ids, delta: buf.toString('base64') });
      if (i === 0 && interrupt) {
        this.timer(conn, INTERRUPT_AFTER_MS, () => {
          const key = `${conn.callIdx}:${r}`;
          const t = truncations.get(key) || {};
          t.sentMs = REPLY_MS;
          truncations.set(key, t);
          this.send(conn, { type: 'input_audio_buffer.speech_started', audio_start_ms: 0, item_id: `item_user_${conn.callIdx}_${r}` });
          this.timer(conn, 300, () =>
            this.send(conn, { type: 'input_audio_buffer.speech_stopped', audio_end_ms: 0, item_id: `item_user_${conn.callIdx}_${r}` }),
          );
        });
      }
      if (++i < chunks) {
        this.timer(conn, CHUNK_INTERVAL_MS, sendChunk);
        return;
      }
      this.send(conn, { type: 'response.output_audio.done', ...ids });
      this.send(conn, {
        type: 'response.output_item.done',
        response_id: responseId,
        output_index: 0,
        item: { id: itemId, object: 'realtime.item', type: 'message', status: 'completed', role: 'assistant', content: [] },
      });
      this.send(conn, {
        type: 'response.done',
        response: {
          object: 'realtime.response',
          id: responseId,
          status: 'completed',
          status_details: null,
          output: [],
          usage: {
            total_tokens: 120,
            input_tokens: 100,
            output_tokens: 20,
            input_token_details: { text_tokens: 10, audio_tokens: 90, cached_tokens: 0 },
            output_token_details: { text_tokens: 5, audio_tokens: 15 },
          },
        },
      });
      conn.bursting = false;
    };
    sendChunk();
  }

  async close() {
    for (const conn of this.connections) conn.ws.terminate();
    await new Promise((resolve) => this.http.close(() => resolve()));
    this.http.closeAllConnections();
  }
}

class WebSocketServer extends WebSocket.Server {
  constructor() {
    super({ noServer: true, clientTracking: false, perMessageDeflate: false });
  }
}

// ---- simulated Twilio caller ---------------------------------------------------------------------

class Call {
  constructor(idx, url) {
    this.idx = idx;
    this.url = url;
    this.streamSid = `MZ${String(idx).padStart(32, '0')}`;
    this.callSid = `CA${String(idx).padStart(32, '0')}`;
    this.seq = 0; // Twilio sequenceNumber
    this.frameSeq = 0; // our stamped caller frame id
    this.startSentAt = null;
    this.mockConn = null;
    this.upReceived = 0;
    this.downSent = 0;
    this.downReceived = 0;
    this.downLastSeq = 0;
    this.downGaps = 0;
    this.downOutOfOrder = 0;
    this.unstampedDown = 0;
    this.marksReceived = 0;
    this.marksEchoed = 0;
    this.clears = 0;
    this.warnings = [];
    this.closedEarly = false;
    this.closeCode = null;
    // playback, by wall clock: position = runStartBytes + (now - runStartAt) * 8, capped
    this.timelineEnd = 0;
    this.runStartAt = 0;
    this.runStartBytes = 0;
    this.pendingMarks = [];
    this.markTimer = null;
    this.replyStart = new Map(); // reply -> { startByte, bytes }
    this.currentReply = 0;
    this.stopping = false;
  }

  connect() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url, { perMessageDeflate: false, handshakeTimeout: 10000 });
      this.ws = ws;
      ws.once('open', () => resolve());
      ws.on('error', (err) => {
        if (ws.readyState !== WebSocket.OPEN) reject(err);
      });
      ws.on('close', (code) => {
        this.closeCode = code;
        if (!this.stopping) this.closedEarly = true;
        clearTimeout(this.markTimer);
        this.pendingMarks = [];
      });
      ws.on('message', (data) => this.onMessage(data));
    });
  }

  sendJson(obj) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(obj));
  }

  begin(params) {
    this.sendJson({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    this.startSentAt = performance.now();
    this.streamStartWall = Date.now();
    this.sendJson({
      event: 'start',
      sequenceNumber: String(++this.seq),
      streamSid: this.streamSid,
      start: {
        streamSid: this.streamSid,
        accountSid: 'AC00000000000000000000000000000001',
        callSid: this.callSid,
        tracks: ['inbound'],
        customParameters: params,
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
    });
  }

  sendFrame(tsMs) {
    const buf = Buffer.alloc(FRAME_BYTES, 0xff);
    buf[0] = MAGIC_IN[0];
    buf[1] = MAGIC_IN[1];
    buf.writeUInt16LE(this.idx, 2);
    buf.writeUInt32LE(++this.frameSeq, 4);
    buf.writeDoubleLE(performance.now(), 8);
    this.sendJson({
      event: 'media',
      sequenceNumber: String(++this.seq),
      streamSid: this.streamSid,
      media: { track: 'inbound', chunk: String(this.frameSeq), timestamp: String(tsMs), payload: buf.toString('base64') },
    });
  }

  sendStop() {
    this.stopping = true;
    this.sendJson({
      event: 'stop',
      sequenceNumber: String(++this.seq),
      streamSid: this.streamSid,
      stop: { accountSid: 'AC00000000000000000000000000000001', callSid: this.callSid },
    });
  }

  position(now) {
    return Math.min(this.timelineEnd, this.runStartBytes + Math.floor((now - this.runStartAt) * BYTES_PER_MS));
  }

  onMessage(data) {
    const now = performance.now();
    let f;
    try {
      f = JSON.parse(data.toString('utf8'));
    } catch {
      this.warnings.push('undecodable frame');
      return;
    }
    if (f.streamSid !== this.streamSid) {
      this.warnings.push(`${f.event} with wrong streamSid`);
      return;
    }
    if (f.event === 'media') {
      const audio = Buffer.from(f.media && typeof f.media.payload === 'string' ? f.media.payload : '', 'base64');
      if (this.position(now) >= this.timelineEnd) {
        this.runStartAt = now;
        this.runStartBytes = this.timelineEnd;
      }
      if (audio.length >= 20 && audio[0] === MAGIC_OUT[0] && audio[1] === MAGIC_OUT[1]) {
        const seq = audio.readUInt32LE(4);
        const reply = audio.readUInt16LE(8);
        const sentAt = audio.readDoubleLE(12);
        lat.down.push(now - sentAt);
        if (sentAt >= steadyFrom) lat.downSteady.push(now - sentAt);
        if (seq <= this.downLastSeq) this.downOutOfOrder++;
        else {
          if (seq > this.downLastSeq + 1) this.downGaps += seq - this.downLastSeq - 1;
          this.downLastSeq = seq;
        }
        this.downReceived++;
        let r = this.replyStart.get(reply);
        if (!r) {
          r = { startByte: this.timelineEnd, bytes: 0 };
          this.replyStart.set(reply, r);
          this.currentReply = reply;
        }
        r.bytes += audio.length;
      } else {
        this.unstampedDown++;
      }
      this.timelineEnd += audio.length;
      this.schedule(now);
    } else if (f.event === 'mark') {
      this.marksReceived++;
      const name = f.mark && f.mark.name;
      if (typeof name !== 'string' || !name) {
        this.warnings.push('mark without name');
        return;
      }
      if (this.position(now) >= this.timelineEnd) this.echo(name);
      else this.pendingMarks.push({ name, atByte: this.timelineEnd });
      this.schedule(now);
    } else if (f.event === 'clear') {
      this.clears++;
      const pos = this.position(now);
      const r = this.replyStart.get(this.currentReply);
      if (r) {
        const played = Math.max(0, Math.min(pos - r.startByte, r.bytes)) / BYTES_PER_MS;
        const key = `${this.idx}:${this.currentReply}`;
        const t = truncations.get(key) || {};
        t.callerPlayedMs = played;
        truncations.set(key, t);
      }
      this.timelineEnd = pos;
      const flushed = this.pendingMarks;
      this.pendingMarks = [];
      for (const m of flushed) this.echo(m.name);
      this.schedule(now);
    } else {
      this.warnings.push(`unknown event ${f.event}`);
    }
  }

  echo(name) {
    this.marksEchoed++;
    this.sendJson({ event: 'mark', sequenceNumber: String(++this.seq), streamSid: this.streamSid, mark: { name } });
  }

  /** Echoes due marks and arms one timer for the next. */
  schedule(now) {
    const pos = this.position(now);
    while (this.pendingMarks.length > 0 && this.pendingMarks[0].atByte <= pos) this.echo(this.pendingMarks.shift().name);
    clearTimeout(this.markTimer);
    this.markTimer = null;
    if (this.pendingMarks.length === 0) return;
    const dueAt = this.runStartAt + (this.pendingMarks[0].atByte - this.runStartBytes) / BYTES_PER_MS;
    this.markTimer = setTimeout(() => this.schedule(performance.now()), Math.max(0, Math.ceil(dueAt - now)));
  }
}

// ---- caller frame pacing: one shared 20 ms clock for all calls ---------------------------------

function talk(activeCalls, seconds) {
  const frames = Math.round((seconds * 1000) / FRAME_MS);
  return new Promise((resolve) => {
    // Each call sends its frame k at its own t0 + 20 ms * k, by wall clock; one tick serves all.
    const state = activeCalls.map((c) => ({ c, k: 0 }));
    const tick = () => {
      const now = performance.now();
      let remaining = 0;
      for (const s of state) {
        if (s.k >= frames) continue;
        if (s.c.ws.readyState !== WebSocket.OPEN) {
          s.k = frames;
          continue;
        }
        while (s.k < frames && now >= s.c.t0 + s.k * FRAME_MS) {
          s.c.sendFrame(s.c.ts0 + s.k * FRAME_MS);
          s.k++;
        }
        if (s.k < frames) remaining++;
      }
      if (remaining === 0) {
        clearInterval(timer);
        resolve(frames);
      }
    };
    const timer = setInterval(tick, 1);
    tick();
  });
}

// ---- main ----------------------------------------------------------------------------------------

async function main() {
  if (!fs.existsSync(MAIN)) {
    console.error(`bench: ${path.relative(process.cwd(), MAIN)} not found. Run \`npm run build\` first.`);
    process.exit(1);
  }
  const { calls: N, seconds: S, smoke } = OPTS;
  const pin = pinning();
  if (!pin.ok) notes.push(`could not pin to separate cores (${pin.why}); service and generator share CPUs`);

  const mock = new MockRealtime();
  await mock.start();

  const port = await freePort();
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'call-operator-bench-'));
  const env = {
    ...process.env,
    NODE_ENV: 'production',
    OPENAI_API_KEY: 'sk-bench-not-a-real-key',
    OPENAI_REALTIME_URL: mock.url,
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: tmpDir,
    LOG_LEVEL: 'warn',
    MAX_CONCURRENT_CALLS: String(N + 10),
    // The simulated callers rarely speak: the silence check-in would add responses the bench does not expect.
    SILENCE_PROMPT_SECONDS: '0',
  };
  const cmd = pin.ok ? ['taskset', ['-c', '0', process.execPath, MAIN]] : [process.execPath, [MAIN]];
  child = spawn(cmd[0], cmd[1], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let childStdout = '';
  child.stdout.on('data', (d) => {
    if (childStdout.length < 1e6) childStdout += d;
  });
  child.stderr.on('data', (d) => {
    if (childStderr.length < 1e6) childStderr += d;
  });
  child.on('exit', (code, sig) => {
    if (!shuttingDown) {
      console.error(`bench: the service exited early (code ${code}, signal ${sig})`);
      console.error(childStderr.slice(-4000) || childStdout.slice(-4000));
      cleanup();
      process.exit(1);
    }
  });
  const pid = child.pid;

  const bootStart = Date.now();
  while ((await httpGet(`http://127.0.0.1:${port}/health`)) !== 200) {
    if (Date.now() - bootStart > 60000) throw new Error('the service did not answer GET /health 200 within 60 s');
    await sleep(100);
  }
  const bootMs = Date.now() - bootStart;
  await sleep(500); // let boot-time work (migrations, JIT) settle before the baseline
  const rssBefore = procRssKb(pid);

  // Open the calls.
  const url = `ws://127.0.0.1:${port}/twilio/stream`;
  const lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  lag.enable();
  const cpu0 = procCpuTicks(pid);
  const wall0 = performance.now();
  let rssPeak = rssBefore;
  const sampler = setInterval(() => {
    const r = procRssKb(pid);
    if (r !== null && r > rssPeak) rssPeak = r;
  }, 250);

  let connectFailures = 0;
  const opened = [];
  await Promise.all(
    Array.from({ length: N }, async (_, i) => {
      await sleep(i * CALL_RAMP_MS);
      const c = new Call(i, url);
      calls[i] = c;
      try {
        await c.connect();
      } catch (err) {
        connectFailures++;
        c.failed = String(err.message || err);
        return;
      }
      c.begin({ from: `+1555${String(1000000 + i).slice(-7)}`, to: '+15550001111', direction: 'inbound' });
      c.t0 = performance.now();
      c.ts0 = 0;
      opened.push(c);
    }),
  );
  steadyFrom = performance.now() + 1000;
  // Talk: every call for S seconds from its own start.
  const framesPerCall = await talk(opened, S);
  await sleep(DRAIN_MS);
  const cpu1 = procCpuTicks(pid);
  const wall1 = performance.now();
  clearInterval(sampler);
  lag.disable();
  const rssDuring = procRssKb(pid);
  if (rssDuring > rssPeak) rssPeak = rssDuring;

  for (const c of opened) c.sendStop();
  await sleep(500);
  for (const c of opened) if (c.ws.readyState === WebSocket.OPEN) c.ws.close(1000);
  // Let the service finish its call records, then measure what stays.
  await sleep(2000);
  const rssAfter = procRssKb(pid);
  const activeAfter = mock.connections.size;

  // Stop the service.
  shuttingDown = true;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const killTimer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(killTimer);
  await mock.close();

  // ---- summarize -------------------------------------------------------------------------------
  let upSent = 0;
  let upRecv = 0;
  let downSent = 0;
  let downRecv = 0;
  let downGaps = 0;
  let downOoo = 0;
  let closedEarly = 0;
  let warnings = [];
  let marksEchoed = 0;
  let clears = 0;
  for (const c of opened) {
    upSent += c.frameSeq;
    upRecv += c.upReceived;
    downSent += c.downSent;
    downRecv += c.downReceived;
    downGaps += c.downGaps;
    downOoo += c.downOutOfOrder;
    if (c.closedEarly) closedEarly++;
    warnings = warnings.concat(c.warnings);
    marksEchoed += c.marksEchoed;
    clears += c.clears;
  }
  const truncErrors = [];
  let interruptsUnanswered = 0;
  for (const t of truncations.values()) {
    if (t.sentMs === undefined) continue;
    if (typeof t.audioEndMs === 'number' && typeof t.callerPlayedMs === 'number') truncErrors.push(t.audioEndMs - t.callerPlayedMs);
    else interruptsUnanswered++;
  }
  const cpuSec = cpu0 !== null && cpu1 !== null ? (cpu1 - cpu0) / CLK_TCK : null;
  const wallSec = (wall1 - wall0) / 1000;
  // The histogram records the interval between its timer's runs, resolution included.
  const lagP99 = Math.max(0, lag.percentile(99) / 1e6 - LAG_RESOLUTION_MS);
  const lagMax = Math.max(0, lag.max / 1e6 - LAG_RESOLUTION_MS);
  const truncStats = stats(truncErrors);
  const truncAbsMax = truncErrors.length ? Math.max(...truncErrors.map(Math.abs)) : null;
  const errLines = childStderr
    .split('\n')
    .filter((l) => /"level":(40|50|60)|error|warn/i.test(l));

  const summary = {
    config: {
      calls: N,
      seconds: S,
      smoke,
      framesPerCall,
      replyEveryMs: REPLY_EVERY_BYTES / BYTES_PER_MS,
      replyMs: REPLY_MS,
      interruptEvery: INTERRUPT_EVERY,
      pinned: pin.ok,
      node: process.version,
    },
    bootMs,
    callsOpened: opened.length,
    connectFailures,
    callsClosedEarlyByService: closedEarly,
    relayMs: { callerToModel: stats(lat.up), modelToCaller: stats(lat.down) },
    relayMsSteadyState: { callerToModel: stats(lat.upSteady), modelToCaller: stats(lat.downSteady) },
    frames: {
      callerToModel: { sent: upSent, received: upRecv, lost: upSent - upRecv, gaps: mock.gapsUp, reordered: mock.outOfOrderUp },
      modelToCaller: { sent: downSent, received: downRecv, lost: downSent - downRecv, gaps: downGaps, reordered: downOoo },
      unstampedCallerAudio: mock.unknownFrames,
    },
    setupMs: stats(setup),
    serviceCpuPctOfOneCore: cpuSec === null ? null : Math.round((cpuSec / wallSec) * 1000) / 10,
    serviceRssKb: {
      before: rssBefore,
      peak: rssPeak,
      after: rssAfter,
      perCallKb: opened.length ? Math.round((rssPeak - rssBefore) / opened.length) : null,
    },
    truncation: {
      interruptedTurns: [...truncations.values()].filter((t) => t.sentMs !== undefined).length,
      measured: truncErrors.length,
      unanswered: interruptsUnanswered,
      errorMs: truncStats,
      absMaxMs: truncAbsMax,
      clearsSeen: clears,
      truncatesReceived: mock.truncatesReceived,
      cancelsReceived: mock.cancelsReceived,
    },
    marksEchoed,
    realtimeConnectionsLeftOpen: activeAfter,
    generator: { eventLoopLagP99Ms: Math.round(lagP99 * 100) / 100, eventLoopLagMaxMs: Math.round(lagMax * 100) / 100, valid: lagP99 <= 20 },
    twilioWarnings: warnings.slice(0, 20),
    serviceStderrWarnOrErrorLines: errLines.length,
    serviceStderrSample: errLines.slice(0, 5),
    notes,
  };

  const targets = [
    ['relay p99 ≤ 5 ms (both directions)', summary.relayMs.callerToModel.p99 !== null && summary.relayMs.callerToModel.p99 <= 5 && summary.relayMs.modelToCaller.p99 !== null && summary.relayMs.modelToCaller.p99 <= 5],
    ['zero frames lost', summary.frames.callerToModel.lost === 0 && summary.frames.modelToCaller.lost === 0 && summary.frames.callerToModel.gaps === 0 && summary.frames.modelToCaller.gaps === 0],
    ['setup p99 ≤ 50 ms', summary.setupMs.p99 !== null && summary.setupMs.p99 <= 50],
    ['RSS per call ≤ 100 KB', summary.serviceRssKb.perCallKb !== null && summary.serviceRssKb.perCallKb <= 100],
    ['truncation error within ±20 ms', truncAbsMax !== null && truncAbsMax <= 20 && interruptsUnanswered === 0],
  ];
  if (!smoke) summary.targets = Object.fromEntries(targets.map(([k, v]) => [k, v]));

  console.log(JSON.stringify(summary, null, 2));
  console.log('');
  console.log(markdown(summary));
  if (!smoke) {
    console.log('');
    console.log('Targets:');
    for (const [k, v] of targets) console.log(`  ${v ? 'MET    ' : 'NOT MET'}  ${k}`);
  }
  if (!summary.generator.valid) {
    console.log(`\nINVALID RUN: the generator's event-loop lag p99 was ${summary.generator.eventLoopLagP99Ms} ms (> 20 ms); it was saturated and the numbers above measure it, not the service.`);
  }
  for (const n of notes) console.log(`note: ${n}`);
  cleanup();
  process.exit(0);
}

function markdown(s) {
  const f = (x) => (x === null || x === undefined ? '–' : String(x));
  const st = (o) => `${f(o.p50)} / ${f(o.p99)} / ${f(o.max)}`;
  const rows = [
    ['Calls × seconds', `${s.config.calls} × ${s.config.seconds} s (${s.callsOpened} opened, ${s.connectFailures} failed, ${s.callsClosedEarlyByService} closed early)`],
    ['Relay caller→model p50 / p99 / max (ms)', st(s.relayMs.callerToModel)],
    ['Relay model→caller p50 / p99 / max (ms)', st(s.relayMs.modelToCaller)],
    ['Relay caller→model, steady state (all calls open + 1 s)', st(s.relayMsSteadyState.callerToModel)],
    ['Relay model→caller, steady state', st(s.relayMsSteadyState.modelToCaller)],
    ['Frames caller→model sent / lost / reordered', `${s.frames.callerToModel.sent} / ${s.frames.callerToModel.lost} / ${s.frames.callerToModel.reordered}`],
    ['Frames model→caller sent / lost / reordered', `${s.frames.modelToCaller.sent} / ${s.frames.modelToCaller.lost} / ${s.frames.modelToCaller.reordered}`],
    ['Setup (start → session.update) p50 / p99 / max (ms)', st(s.setupMs)],
    ['Service CPU (% of one core)', f(s.serviceCpuPctOfOneCore)],
    ['Service RSS before / peak / after (MB)', [s.serviceRssKb.before, s.serviceRssKb.peak, s.serviceRssKb.after].map((k) => (k == null ? '–' : (k / 1024).toFixed(1))).join(' / ')],
    ['RSS per call (KB)', f(s.serviceRssKb.perCallKb)],
    ['Truncation error p50 / p99 / max (ms); worst abs error; turns measured', `${st(s.truncation.errorMs)}; ${f(s.truncation.absMaxMs)}; ${s.truncation.measured} of ${s.truncation.interruptedTurns}`],
    ['Generator event-loop lag p99 / max (ms)', `${s.generator.eventLoopLagP99Ms} / ${s.generator.eventLoopLagMaxMs}${s.generator.valid ? '' : ' (INVALID RUN)'}`],
    ['Pinned (service core 0, generator core 1)', s.config.pinned ? 'yes' : 'no'],
    ['Service stderr warn/error lines', f(s.serviceStderrWarnOrErrorLines)],
  ];
  return ['| Metric | Value |', '| --- | --- |', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n');
}

main().catch((err) => {
  console.error('bench: failed:', err && err.stack ? err.stack : err);
  cleanup();
  process.exit(1);
});
