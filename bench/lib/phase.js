'use strict';
/**
 * One phase: one peer under N calls of one traffic profile. Starts the peer, warms it up, reads
 * its memory, opens the calls (webhook, stream, start) 7 ms apart, streams for S seconds, lets
 * the replies under way finish, reads CPU and memory again, hangs up, and summarizes.
 */
const fs = require('fs');
const path = require('path');
const { FRAME_MS, now } = require('./audio');
const { summarizePhase } = require('./measure');
const { GENERATOR_CORES, PEER_CORE, markLogs, rssAfterGc, startPeer, stopPeer } = require('./procs');
const { coreBusyPct, coreTicks, procCpuSeconds, procRssKb, sleep, waitQuiet } = require('./util');
const { summarizeProfile } = require('../profile-summary');

// Spacing between call starts: avoids a herd of handshakes and, being coprime with 20, spreads the
// calls' 20 ms frame phases over the whole period instead of sending every call's frame at once.
const CALL_RAMP_MS = 7;
const DRAIN_MS = 1000; // after the replies under way are sent, before the calls are measured
// After the calls end: RSS is read SETTLE_MS later, and again once V8's memory reducer (which
// runs on an idle heap after several seconds) has had time to give memory back.
const SETTLE_MS = 3000;
const IDLE_MS = 12000;
const WARMUP_CALLS = 5;
const WARMUP_SECONDS = 2;
const WARMUP_SID_BASE = 90000; // distinct Call SIDs (and so recording files) from the measured calls
const SWEEP_SID_STRIDE = 10000;

let phaseSeq = 0;

/** Calls i = 0..n-1, dealt to the workers in turn, the i-th starting at t0 + i * CALL_RAMP_MS. */
async function drive(gen, peerInfo, n, seconds, sidBase, onAllOpened) {
  const t0 = now() + 50;
  const frames = Math.round((seconds * 1000) / FRAME_MS);
  const opened = gen.whenAll('opened').then(onAllOpened);
  const W = gen.workers.length;
  const runs = await gen.all('run', (w) => ({
    peer: peerInfo,
    frames,
    calls: Array.from({ length: n }, (_, i) => i)
      .filter((i) => i % W === w)
      .map((i) => ({ idx: i, sid: sidBase + i, at: t0 + i * CALL_RAMP_MS })),
  }));
  await opened;
  return runs;
}

/**
 * opts: { peerName, peer, gen, pin, N, S, traffic, memory ('full' | 'quick' | 'none'), warmup, cpuProf, opts, sidBase }
 */
async function runPhase(o) {
  const { gen, peer, N, S, traffic } = o;
  const relay = await startPeer(o.peerName, peer, { opts: o.opts, mockUrl: gen.mockUrl, calls: N, pin: o.pin, cpuProf: o.cpuProf });
  const pid = relay.child.pid;
  const peerInfo = { webhookUrl: `http://127.0.0.1:${relay.port}${peer.webhook}` };
  const sidBase = o.sidBase || 0;

  // A few calls first, measured apart: the first calls after boot run cold code (JIT, first
  // connections, first database writes) and set up in up to ~120 ms instead of 2-3.
  if (o.warmup) {
    await gen.all('phase', { id: ++phaseSeq, traffic, tools: peer.tools });
    await drive(gen, peerInfo, WARMUP_CALLS, WARMUP_SECONDS, WARMUP_SID_BASE + sidBase, () => undefined);
    await gen.all('quiesce');
    await gen.all('freeze');
    await gen.all('hangup');
    await gen.all('collect');
  }
  await sleep(500); // let boot-time work (migrations, JIT) settle before the baseline
  // Every later figure is read against RSS just after a full GC, idle.
  const rssBeforeGc = o.memory === 'full' ? await rssAfterGc(relay) : null;
  const rssBefore = rssBeforeGc ?? procRssKb(pid);

  let waitedForQuietMs = 0;
  if (o.waitQuiet) {
    waitedForQuietMs = await waitQuiet({ onWait: (busy) => o.log(`waiting for the machine to be quiet (cores busy ${busy.join(' / ')} %)`) });
  }
  await gen.all('phase', { id: ++phaseSeq, traffic, tools: peer.tools });
  markLogs(relay);
  const cpu = { t0: procCpuSeconds(pid), wall0: now() };
  const callsFrom = Date.now();
  const genCpu = { t0: gen.cpuSeconds() };
  const ticks0 = coreTicks();
  let rssPeak = rssBefore;
  const rssSamples = [];
  const sampler = setInterval(() => {
    const r = procRssKb(pid);
    if (r === null) return;
    rssSamples.push(r);
    if (r > rssPeak) rssPeak = r;
  }, 250);

  // Steady state: frames sent once every call is open, plus 1 s.
  const runs = await drive(gen, peerInfo, N, S, sidBase, () => gen.all('steady', { from: now() + 1000 }));
  // CPU over the calls' life: from the first webhook to the last caller frame.
  cpu.t1 = procCpuSeconds(pid);
  cpu.wall1 = now();
  const callsUntil = Date.now();
  genCpu.t1 = gen.cpuSeconds();
  const ticks1 = coreTicks();
  clearInterval(sampler);
  await gen.all('quiesce');
  await sleep(DRAIN_MS);
  await gen.all('freeze');
  const rssWithCallsGc = o.memory === 'full' ? await rssAfterGc(relay) : null;

  const hangups = await gen.all('hangup');
  // Let the relay finish its call records and collect garbage, then measure what stays.
  let rssAfter = null;
  let rssIdle = null;
  if (o.memory !== 'none') {
    await sleep(SETTLE_MS);
    rssAfter = procRssKb(pid);
    if (o.memory === 'full') {
      await sleep(IDLE_MS - SETTLE_MS);
      rssIdle = procRssKb(pid);
    }
  }
  const collected = await gen.all('collect');
  await stopPeer(relay);

  let profile = null;
  if (relay.profileDir) {
    const file = fs.readdirSync(relay.profileDir).find((f) => f.endsWith('.cpuprofile'));
    if (file) {
      const root = path.resolve(__dirname, '..', '..');
      const dest = path.join(root, 'bench', 'profiles', `${o.peerName}-${traffic.name}-${N}calls-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`);
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.copyFileSync(path.join(relay.profileDir, file), dest);
      // Only the calls: the profile starts about when the process does (boot, warm-up and the
      // full GCs are left out).
      const skipMs = callsFrom - relay.spawnedAt;
      const untilMs = callsUntil - relay.spawnedAt;
      profile = { file: path.relative(root, dest), skipMs, untilMs, top: summarizeProfile(JSON.parse(fs.readFileSync(dest, 'utf8')), { root, skipMs, untilMs }) };
    }
  }

  // RSS while every call is up: the median of the samples in the talking phase's second half.
  const talking = rssSamples.slice(Math.floor(rssSamples.length / 2));
  const rssSteady = talking.length ? [...talking].sort((a, b) => a - b)[Math.floor(talking.length / 2)] : null;
  const summary = summarizePhase({
    name: o.peerName,
    relay,
    N,
    S,
    traffic,
    runs,
    hangups,
    collected,
    cpu,
    genCpu,
    genCores: o.genCores,
    // How busy each core was: what the peer and the generator do not account for is someone else's.
    coreBusy: o.pin.ok ? { peer: coreBusyPct(ticks0, ticks1, [PEER_CORE])[0], generator: coreBusyPct(ticks0, ticks1, GENERATOR_CORES.split(',')) } : null,
    rss: { before: rssBefore, steady: rssSteady, peak: rssPeak, after: rssAfter, idle: rssIdle, beforeGc: rssBeforeGc, withCallsGc: rssWithCallsGc },
    profile,
  });
  summary.waitedForQuietMs = waitedForQuietMs;
  return summary;
}

module.exports = { runPhase, CALL_RAMP_MS, SETTLE_MS, IDLE_MS, SWEEP_SID_STRIDE };
