#!/usr/bin/env node
'use strict';
/**
 * Load benchmark for the Call Operator media relay.
 *
 *   node bench/run.js [--calls N] [--seconds S] [--profile NAME] [--peers bare,sample,service]
 *                     [--no-baseline] [--no-sample] [--cpu-prof] [--service PATH] [--sweep] [--smoke]
 *   (node bench/run.js --help lists every option)
 *
 * Runs the same traffic through each peer in one invocation: the bare `ws` relay (the floor,
 * bench/bare-relay.js), Twilio's Node sample, and the built service (dist/src/main.js). Each runs
 * as a child process pinned to core 0, against a mock of the OpenAI Realtime API and N simulated
 * Twilio callers (the generator, on core 1). Reported per peer: relay latency both ways, frames
 * lost or reordered, setup time, CPU, RSS, barge-in truncation accuracy and late audio, tool call
 * round trips; the service's figures as ratios to the bare relay's and the sample's; the targets.
 * See docs/benchmarks.md.
 *
 *   lib/options.js        command line
 *   lib/traffic.js        traffic profiles (what callers and the model send)
 *   lib/peers.js          the relays under test: how to start each, its URLs, its environment
 *   lib/procs.js          peer processes: pinning, start/stop, RSS after a full GC, cleanup
 *   lib/generator.js      the generator's worker processes, seen from here
 *   lib/worker.js         one generator process: callers and mock model for its share of the calls
 *   lib/caller.js         a simulated Twilio caller (webhook, stream, frames, playback, marks)
 *   lib/mock-realtime.js  the mock model (GA events)
 *   lib/audio.js          stamped audio and the clock every process shares
 *   lib/phase.js          one peer under N calls
 *   lib/measure.js        a phase's figures
 *   lib/report.js         targets, ratios, Markdown
 *   lib/sweep.js          the knee
 *
 * Plain Node 20, CommonJS, only the `ws` package. Nothing is built here.
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const { TrafficGenerator } = require('./lib/generator');
const { framesNotDelivered } = require('./lib/measure');
const { parseArgs } = require('./lib/options');
const { PEERS } = require('./lib/peers');
const { runPhase, SWEEP_SID_STRIDE } = require('./lib/phase');
const { cleanup, installCleanup, pinning, track } = require('./lib/procs');
const { markdownAcross, markdownRun, markdownSweep, markdownTargets, ratios, targets } = require('./lib/report');
const { sweep } = require('./lib/sweep');
const { describeTraffic, resolveTraffic } = require('./lib/traffic');

const log = (msg) => console.error(`bench: ${msg}`);

async function main() {
  installCleanup();
  const opts = parseArgs(process.argv.slice(2));
  const notes = [];
  const pin = pinning();
  if (!pin.ok) notes.push(`could not pin to separate cores (${pin.why}); peers and generator share CPUs`);
  if (process.env.DATABASE_URL && opts.peers.includes('service')) notes.push('DATABASE_URL is set: the service writes its call log to that PostgreSQL, not to the embedded PGlite');
  // Fail before anything runs when a peer cannot be prepared (no build, sample not found).
  for (const p of opts.peers) await PEERS[p].prepare(opts);

  const profiles = path.join(__dirname, 'profiles');
  if (opts.genCpuProf) fs.mkdirSync(profiles, { recursive: true });
  const gen = new TrafficGenerator(opts.workers, track, { cpuProfDir: opts.genCpuProf ? profiles : null });
  await gen.start();
  const genCores = pin.ok ? pin.generatorCores.split(',').length : os.cpus().length;
  if (opts.workers > genCores) notes.push(`${opts.workers} generator workers share ${genCores} generator core(s): more workers than cores adds no capacity`);

  const once = (peerName, traffic, N, extra) =>
    runPhase({
      peerName,
      peer: PEERS[peerName],
      gen,
      pin,
      N,
      S: opts.seconds,
      traffic,
      // A CPU profile is of the calls only: no heap snapshots while it records.
      memory: opts.smoke ? 'none' : opts.quick || (opts.cpuProf && peerName === 'service') ? 'quick' : 'full',
      warmup: !opts.smoke,
      cpuProf: opts.cpuProf && peerName === 'service',
      opts,
      genCores,
      waitQuiet: opts.waitQuiet,
      log,
      ...extra,
    });
  // A phase during which something else ran on a bench core is run again, and says so.
  const phase = async (peerName, traffic, N, extra = {}) => {
    const disturbed = [];
    for (;;) {
      const s = await once(peerName, traffic, N, extra);
      s.disturbedAttempts = disturbed;
      if (!s.disturbed || disturbed.length >= opts.retries) return s;
      disturbed.push(s.otherLoadPct);
      log(`${PEERS[peerName].label}: other processes used ${s.otherLoadPct.peerCore} / ${s.otherLoadPct.generatorCores} % of the peer / generator core; running it again`);
    }
  };

  const summary = {
    config: {
      calls: opts.calls,
      seconds: opts.seconds,
      smoke: opts.smoke,
      peers: opts.peers,
      workers: opts.workers,
      pinned: pin.ok,
      node: process.version,
      cpu: os.cpus()[0] ? os.cpus()[0].model : 'unknown',
      cpus: os.cpus().length,
      service: opts.service,
      command: `node bench/run.js ${process.argv.slice(2).join(' ')}`.trim(),
    },
    runs: [],
    sweeps: [],
    notes,
  };

  for (const name of opts.traffic) {
    const traffic = resolveTraffic(name, opts.overrides);
    if (opts.sweep) {
      for (const p of opts.peers) {
        let n = 0;
        const result = await sweep(
          { peer: p, traffic, seconds: opts.seconds, from: opts.sweepFrom, step: opts.sweepStep, max: opts.sweepMax, resolution: opts.sweepResolution, kneeMs: opts.kneeMs },
          // Each step gets its own Call SIDs, so recordings of earlier steps are not overwritten.
          (N) => phase(p, traffic, N, { memory: 'none', sidBase: ++n * SWEEP_SID_STRIDE }),
          log,
        );
        summary.sweeps.push(result);
      }
      continue;
    }
    const run = { traffic, description: describeTraffic(traffic), calls: opts.calls, seconds: opts.seconds, peers: {} };
    for (const p of opts.peers) {
      log(`${traffic.name}: ${PEERS[p].label}, ${opts.calls} calls × ${opts.seconds} s`);
      run.peers[p] = await phase(p, traffic, opts.calls);
    }
    run.serviceVsBare = ratios(run.peers.service, run.peers.bare);
    run.serviceVsSample = ratios(run.peers.service, run.peers.sample);
    if (!opts.smoke) run.targets = targets(run);
    summary.runs.push(run);
    // Each run's tables as soon as it is done (a run of every profile takes a while); the JSON of all at the end.
    printRun(run);
  }
  for (const s of summary.sweeps) {
    console.log('');
    console.log(markdownSweep(s));
  }
  if (summary.runs.length > 1) {
    console.log('');
    console.log(markdownAcross(summary.runs, process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded'));
  }
  await gen.stop();
  console.log('');
  console.log(JSON.stringify(summary, null, 2));
  if (opts.json) fs.writeFileSync(opts.json, `${JSON.stringify(summary, null, 2)}\n`);
  console.log('');
  console.log(`Pinned: ${pin.ok ? `peers on core ${pin.peerCore}, generator (${opts.workers} worker${opts.workers > 1 ? 's' : ''}) on core ${pin.generatorCores}` : 'no'}`);
  for (const n of notes) console.log(`note: ${n}`);
  if (opts.smoke) {
    const bad = summary.runs.flatMap((r) => Object.values(r.peers)).filter((p) => p.callsOpened !== opts.calls || framesNotDelivered(p) !== 0);
    if (bad.length > 0) {
      console.error(`bench: smoke run failed: calls did not open or frames were lost (${bad.map((p) => p.label).join(', ')})`);
      process.exit(1);
    }
  }
  cleanup();
  process.exit(0);
}

function printRun(run) {
  console.log('');
  console.log(`## Traffic \`${run.traffic.name}\`: ${run.calls} calls × ${run.seconds} s`);
  console.log('');
  console.log(`${run.traffic.description}. (${run.description}.)`);
  console.log('');
  console.log(markdownRun(run));
  if (run.targets) {
    console.log('');
    console.log(markdownTargets(run));
  }
  for (const p of Object.values(run.peers)) {
    if (p.profile) {
      console.log(`\n${p.label} CPU profile: ${p.profile.file}\n`);
      console.log(p.profile.top);
    }
    if (!p.generator.valid) console.log(`\nINVALID (${p.label}): ${p.generator.why.join('; ')}: the generator was saturated and these figures measure it, not the relay.`);
    else if (p.generator.saturated) console.log(`\nSUSPECT (${p.label}): ${p.generator.why.join('; ')}: the generator was near saturation; its own queueing is in these figures.`);
  }
}

main().catch((err) => {
  console.error('bench: failed:', err && err.stack ? err.stack : err);
  cleanup();
  process.exit(1);
});
