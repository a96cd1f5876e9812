'use strict';
/**
 * A generator process (forked by lib/generator.js): simulated Twilio callers and the mock model,
 * for the share of the calls its parent gives it. The mock's listening socket is shared by all
 * workers (passed by the parent), so a relay's Realtime connection may land in any of them; stamps
 * use a clock all processes share, and the parent merges what each measured.
 *
 * Commands (from the parent, answered with { id, result } or { id, error }):
 *   init (with the listening server) · phase · run · steady · quiesce · freeze · hangup · collect
 * Events (to the parent): { event: 'opened' } once this worker's calls have all been opened.
 */
const http = require('http');
const { monitorEventLoopDelay } = require('perf_hooks');
const { now } = require('./audio');
const { Caller, Ticker, newCallerData } = require('./caller');
const { MockRealtime } = require('./mock-realtime');
const { httpRequest, parseConnectTwiml, sleep } = require('./util');

const LAG_RESOLUTION_MS = 5;

const mock = new MockRealtime();
let phase = null; // the callers' side: { data, measuring, steadyFrom }
let callers = [];
let lag = null;
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

/** How Twilio learns where to stream a call: the voice webhook, then the stream its TwiML names. */
async function answerCall(peer, caller) {
  const body = new URLSearchParams({
    CallSid: caller.callSid,
    AccountSid: 'AC00000000000000000000000000000001',
    From: caller.from,
    To: '+15550001111',
    Direction: 'inbound',
    CallStatus: 'ringing',
  }).toString();
  const t0 = now();
  const res = await httpRequest(peer.webhookUrl, { method: 'POST', body, agent });
  caller.pc.webhookMs = now() - t0;
  const twiml = res.status === 200 ? parseConnectTwiml(res.text) : null;
  if (!twiml) throw new Error(`voice webhook answered ${res.status} without a <Connect><Stream>`);
  // No TLS here: a wss:// stream URL (the sample builds one from the Host header) is reached as ws://.
  return { url: twiml.url.replace(/^wss:/, 'ws:'), params: twiml.params };
}

async function openOne(peer, spec, ticker, frames) {
  await sleep(spec.at - now());
  const c = new Caller(phase, spec.idx, spec.sid);
  callers.push(c);
  const { url, params } = await answerCall(peer, c);
  await c.connect(url);
  c.begin(params);
  ticker.add(c, frames);
}

const commands = {
  init(_args, server) {
    mock.attach(server);
    return { pid: process.pid };
  },

  phase({ id, traffic, tools }) {
    mock.beginPhase({ id, traffic, tools });
    phase = { data: newCallerData(), measuring: true, steadyFrom: Infinity };
    callers = [];
    return null;
  },

  /** Opens the calls at their times, streams each for `frames` frames; resolves when all are done. */
  async run({ peer, calls, frames }) {
    lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
    lag.enable();
    const ticker = new Ticker(phase.data);
    const failures = [];
    let failed = 0;
    await Promise.all(
      calls.map((spec) =>
        openOne(peer, spec, ticker, frames).catch((err) => {
          failed++;
          if (failures.length < 5) failures.push(String((err && err.message) || err));
        }),
      ),
    );
    process.send({ event: 'opened' });
    await ticker.done();
    return { opened: calls.length - failed, failed, failures };
  },

  steady({ from }) {
    phase.steadyFrom = from;
    mock.phase.steadyFrom = from;
    return null;
  },

  /** No new replies; resolves once the replies under way have been sent (10 s at most). */
  async quiesce() {
    mock.phase.accepting = false;
    const deadline = now() + 10000;
    while (mock.busy() > 0 && now() < deadline) await sleep(50);
    return { stillBusy: mock.busy() };
  },

  freeze() {
    phase.measuring = false;
    mock.phase.measuring = false;
    if (lag) lag.disable();
    return null;
  },

  /** Twilio's `stop` on every call; resolves once all sockets closed (5 s at most). */
  async hangup() {
    for (const c of callers) if (c.open) c.sendStop();
    const all = Promise.all(callers.map((c) => c.closed || Promise.resolve()));
    const inTime = await Promise.race([all.then(() => true), sleep(5000).then(() => false)]);
    for (const c of callers) if (c.open) c.ws.close(1000);
    return { closedInTime: inTime };
  },

  collect() {
    const lagMs = lag
      ? {
          p99: Math.max(0, lag.percentile(99) / 1e6 - LAG_RESOLUTION_MS),
          max: Math.max(0, lag.max / 1e6 - LAG_RESOLUTION_MS),
        }
      : { p99: 0, max: 0 };
    const result = {
      mock: mock.endPhase(),
      callers: phase.data,
      lagMs,
      realtimeConnectionsOpen: mock.connections.size,
    };
    lag = null;
    return result;
  },
};

process.on('message', (msg, handle) => {
  if (!msg || typeof msg.cmd !== 'string') return;
  const fn = commands[msg.cmd];
  Promise.resolve()
    .then(() => fn(msg.args || {}, handle))
    .then(
      (result) => process.send({ id: msg.id, result }),
      (err) => process.send({ id: msg.id, error: String((err && err.stack) || err) }),
    );
});
process.on('disconnect', () => process.exit(0));
