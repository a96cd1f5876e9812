'use strict';
/** The report: targets per traffic run, ratios between peers, JSON and Markdown. */
const { framesNotDelivered } = require('./measure');
const { IDLE_MS, SETTLE_MS } = require('./phase');

const ratio = (a, b) => (a === null || a === undefined || b === null || b === undefined || !b ? null : Math.round((a / b) * 100) / 100);

/** Service figures as multiples of another peer's in the same run. */
function ratios(s, other) {
  if (!s || !other) return null;
  const gc = s.rssKb.perCallAfterGcKb !== null && other.rssKb.perCallAfterGcKb !== null;
  return {
    cpu: ratio(s.cpuPctOfOneCore, other.cpuPctOfOneCore),
    callerToModelP99: ratio(s.relayMs.callerToModel.p99, other.relayMs.callerToModel.p99),
    modelToCallerP99: ratio(s.relayMs.modelToCaller.p99, other.relayMs.modelToCaller.p99),
    callerToModelP99Steady: ratio(s.relayMsSteadyState.callerToModel.p99, other.relayMsSteadyState.callerToModel.p99),
    modelToCallerP99Steady: ratio(s.relayMsSteadyState.modelToCaller.p99, other.relayMsSteadyState.modelToCaller.p99),
    rssPerCall: ratio(s.rssKb.perCallKb, other.rssKb.perCallKb),
    rssPerCallAfterGc: gc ? ratio(s.rssKb.perCallAfterGcKb, other.rssKb.perCallAfterGcKb) : null,
  };
}

/** The issue's targets, judged on the service's figures in one traffic run (null: not applicable). */
function targets(run) {
  const s = run.peers.service;
  if (!s) return [];
  const sample = run.peers.sample;
  const t = run.traffic;
  const up = s.relayMsSteadyState.callerToModel.p99;
  const down = s.relayMsSteadyState.modelToCaller.p99;
  const tr = s.truncation;
  const list = [
    {
      target: "CPU ≤ 0.7 × Twilio's sample (same run)",
      met: sample && s.cpuPctOfOneCore !== null && sample.cpuPctOfOneCore ? s.cpuPctOfOneCore <= 0.7 * sample.cpuPctOfOneCore : null,
      value: sample ? `${s.cpuPctOfOneCore} % vs ${sample.cpuPctOfOneCore} % (${ratio(s.cpuPctOfOneCore, sample.cpuPctOfOneCore)} ×)` : 'sample not run',
    },
    { target: 'relay p99 ≤ 5 ms both ways (steady state)', met: up !== null && down !== null && up <= 5 && down <= 5, value: `${up} / ${down} ms` },
    {
      target: 'zero frames lost, dropped or reordered',
      met: framesNotDelivered(s) === 0,
      value: `caller→model lost ${s.frames.callerToModel.lost}, reordered ${s.frames.callerToModel.reordered}; model→caller lost ${s.frames.modelToCaller.lost}, reordered ${s.frames.modelToCaller.reordered}; calls failed ${s.connectFailures}, closed early ${s.callsClosedEarlyByRelay}`,
    },
    { target: 'stream start → session.update p99 ≤ 50 ms', met: s.setupMs.p99 !== null && s.setupMs.p99 <= 50 && s.setupMissing === 0, value: `${s.setupMs.p99} ms` },
  ];
  if (tr.interruptedTurns > 0) {
    list.push({
      target: 'truncation within ±20 ms of what the caller heard',
      met: tr.absMaxMs !== null && tr.absMaxMs <= 20 && tr.notTruncated === 0 && tr.notCleared === 0,
      value: `worst ${tr.absMaxMs} ms over ${tr.measured} of ${tr.interruptedTurns} interrupted replies (${tr.notCleared} not cleared, ${tr.notTruncated} not truncated)`,
    });
    list.push({
      target: 'no audio after a clear',
      met: s.frames.modelToCaller.audioAfterClear === 0 && s.frames.modelToCaller.lateReceived === 0,
      value: `${s.frames.modelToCaller.audioAfterClear} × 20 ms after a clear; ${s.frames.modelToCaller.lateReceived} of ${s.frames.modelToCaller.lateSent} × 20 ms of late audio passed on`,
    });
    if (tr.activeAtInterrupt > 0) {
      list.push({ target: 'each reply interrupted in progress is cancelled', met: tr.cancelledByRelay === tr.activeAtInterrupt, value: `${tr.cancelledByRelay} of ${tr.activeAtInterrupt}` });
    }
  }
  if (t.toolShare > 0) {
    list.push({
      target: 'each tool call answered and followed up',
      met: s.tools.calls > 0 && s.tools.outputsSaved === s.tools.calls && s.tools.followUpsNeverRequested === 0,
      value: `${s.tools.outputsSaved} saved of ${s.tools.calls} calls; ${s.tools.followUpsNeverRequested} follow-ups never asked for; round trip p99 ${s.tools.roundTripMs.p99} ms`,
    });
  }
  const bare = run.peers.bare;
  list.push({
    target: '(earlier issue) CPU ≤ 1.5 × the bare relay',
    met: bare && s.cpuPctOfOneCore !== null && bare.cpuPctOfOneCore ? s.cpuPctOfOneCore <= 1.5 * bare.cpuPctOfOneCore : null,
    value: bare ? `${ratio(s.cpuPctOfOneCore, bare.cpuPctOfOneCore)} ×` : 'bare relay not run',
  });
  list.push({
    target: '(earlier issue) RSS per active call ≤ 100 KB after a full GC',
    met: s.rssKb.perCallAfterGcKb !== null ? s.rssKb.perCallAfterGcKb <= 100 : null,
    value: s.rssKb.perCallAfterGcKb !== null ? `${s.rssKb.perCallAfterGcKb} KB` : 'not measured',
  });
  return list;
}

const f = (x) => (x === null || x === undefined ? '–' : String(x));
const st = (o) => `${f(o.p50)} / ${f(o.p99)} / ${f(o.max)}`;
const mb = (k) => (k === null || k === undefined ? '–' : (k / 1024).toFixed(1));
const x = (r) => (r === null || r === undefined ? '' : `${r} ×`);

/** Markdown table of one traffic run: a column per peer, then service/bare and service/sample. */
function markdownRun(run) {
  const order = ['service', 'bare', 'sample'].filter((p) => run.peers[p]);
  for (const p of Object.keys(run.peers)) if (!order.includes(p)) order.push(p);
  const phases = order.map((p) => run.peers[p]);
  const rb = run.serviceVsBare;
  const rs = run.serviceVsSample;
  const ratioCols = [rb ? 'Service / bare' : null, rs ? 'Service / sample' : null].filter(Boolean);
  const row = (label, fn, key) => {
    const cells = phases.map((p) => fn(p));
    if (rb) cells.push(key ? x(rb[key]) : '');
    if (rs) cells.push(key ? x(rs[key]) : '');
    return `| ${label} | ${cells.join(' | ')} |`;
  };
  const head = ['Metric', ...phases.map((p) => p.label), ...ratioCols];
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`];
  lines.push(
    row('Calls × seconds (opened, failed, closed early)', (p) => `${p.calls} × ${p.seconds} s (${p.callsOpened}, ${p.connectFailures}, ${p.callsClosedEarlyByRelay})`),
    row('CPU (% of one core)', (p) => f(p.cpuPctOfOneCore), 'cpu'),
    row('Relay caller→model, steady state p50 / p99 / max (ms)', (p) => st(p.relayMsSteadyState.callerToModel), 'callerToModelP99Steady'),
    row('Relay model→caller, steady state p50 / p99 / max (ms)', (p) => st(p.relayMsSteadyState.modelToCaller), 'modelToCallerP99Steady'),
    row('Relay caller→model, whole run (ms)', (p) => st(p.relayMs.callerToModel), 'callerToModelP99'),
    row('Relay model→caller, whole run (ms)', (p) => st(p.relayMs.modelToCaller), 'modelToCallerP99'),
    row('Caller frames sent / lost (at start) / reordered', (p) => {
      const u = p.frames.callerToModel;
      return `${u.sent} / ${u.lost} (${u.lostAtStart}) / ${u.reordered}`;
    }),
    row('Agent audio, 20 ms units: sent / lost / reordered', (p) => {
      const d = p.frames.modelToCaller;
      return `${d.sent} / ${d.lost} / ${d.reordered}${d.wrongCall ? `, ${d.wrongCall} to the wrong call` : ''}`;
    }),
    row('Agent audio: deltas; media messages (bytes each); marks', (p) => `${p.agentAudio.deltas}; ${p.agentAudio.mediaMessages} (${f(p.agentAudio.bytesPerMediaMessage)}); ${p.agentAudio.marksReceived}`),
    row('Setup (start → session.update) p50 / p99 / max (ms)', (p) => `${st(p.setupMs)}${p.setupMissing ? `; ${p.setupMissing} never` : ''}`),
    row('Voice webhook p50 / p99 / max (ms)', (p) => st(p.webhookMs)),
    row(`RSS before / with calls / peak / ${SETTLE_MS / 1000} s after / ${IDLE_MS / 1000} s after (MB)`, (p) => [p.rssKb.before, p.rssKb.steady, p.rssKb.peak, p.rssKb.after, p.rssKb.idle].map(mb).join(' / ')),
    row('RSS per active call (KB)', (p) => f(p.rssKb.perCallKb), 'rssPerCall'),
    row('RSS after a full GC: before / with calls (MB); per active call (KB)', (p) => `${mb(p.rssKb.beforeAfterGc)} / ${mb(p.rssKb.withCallsAfterGc)}; ${f(p.rssKb.perCallAfterGcKb)}`, 'rssPerCallAfterGc'),
  );
  if (run.traffic.interruptShare > 0) {
    lines.push(
      row('Truncation error p50 / p99 / max (ms); worst abs; measured of interrupted', (p) => `${st(p.truncation.errorMs)}; ${f(p.truncation.absMaxMs)}; ${p.truncation.measured} of ${p.truncation.interruptedTurns}`),
      row('Interrupted in progress: cancelled by relay / by mock after 300 ms', (p) => `${p.truncation.cancelledByRelay} / ${p.truncation.cancelledByMock} of ${p.truncation.activeAtInterrupt}`),
      row('Late audio passed on; audio after a clear (20 ms units)', (p) => `${p.frames.modelToCaller.lateReceived} of ${p.frames.modelToCaller.lateSent}; ${p.frames.modelToCaller.audioAfterClear}`),
    );
  }
  if (run.traffic.toolShare > 0) {
    lines.push(
      row('Tool calls: saved / called; follow-ups never asked for; round trip p50 / p99 (ms)', (p) =>
        p.tools.outputs || !p.tools.followUpsWithoutRelay ? `${p.tools.outputsSaved} / ${p.tools.calls}; ${p.tools.followUpsNeverRequested}; ${f(p.tools.roundTripMs.p50)} / ${f(p.tools.roundTripMs.p99)}` : `no tools (${p.tools.calls} calls ignored)`,
      ),
    );
  }
  lines.push(
    row('Generator: CPU % (cores) / lag p99 / frame lateness p99 (ms)', (p) => {
      const g = p.generator;
      return `${g.cpuPct} (${g.cores}) / ${g.eventLoopLagP99Ms} / ${f(g.callerFrameLateMs.p99)}${g.valid ? (g.saturated ? ' SATURATED' : '') : ' INVALID'}`;
    }),
    row('Other processes on the peer core / generator core (% of a core)', (p) =>
      p.otherLoadPct ? `${f(p.otherLoadPct.peerCore)} / ${f(p.otherLoadPct.generatorCores)}${p.disturbed ? ' DISTURBED' : ''}${p.disturbedAttempts && p.disturbedAttempts.length ? ` (${p.disturbedAttempts.length} disturbed run(s) discarded)` : ''}` : '–',
    ),
    row('Log lines with warn/error during the calls; exit', (p) => `${f(p.stderrWarnOrErrorLines)}; ${p.exitSignal ? p.exitSignal : f(p.exitCode)}`),
  );
  return lines.join('\n');
}

function markdownTargets(run) {
  if (!run.targets || run.targets.length === 0) return '';
  const rows = run.targets.map((t) => `| ${t.target} | ${t.met === null ? 'n/a' : t.met ? '**met**' : '**not met**'} | ${t.value} |`);
  return [`| Target (service, ${run.calls} calls, ${run.traffic.name}) | Result | Figures |`, '| --- | --- | --- |', ...rows].join('\n');
}

function markdownSweep(sweep) {
  const lines = [
    `Knee sweep, ${sweep.peer}, traffic ${sweep.traffic}, ${sweep.seconds} s per step: steady-state p99 either way over ${sweep.kneeMs} ms ends it.`,
    '',
    '| Calls | CPU (% of core) | caller→model p99 | model→caller p99 | lost | setup p99 | truncation worst | generator CPU % / lag p99 / frame lateness p99 | other load (peer / generator core) | verdict |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const s of sweep.steps) {
    const g = s.generator;
    const other = s.otherLoadPct ? `${f(s.otherLoadPct.peerCore)} / ${f(s.otherLoadPct.generatorCores)}` : '–';
    lines.push(
      `| ${s.calls} | ${f(s.cpu)} | ${f(s.up)} ms | ${f(s.down)} ms | ${s.lost} | ${f(s.setupP99)} ms | ${f(s.truncWorst)} | ${g.cpuPct} / ${g.lagP99} / ${f(g.frameLateP99)} | ${other} | ${s.verdict} |`,
    );
  }
  lines.push('', sweep.conclusion);
  return lines.join('\n');
}

/**
 * One row per traffic run: each peer's CPU, the service's ratios, its latency, setup, losses and
 * memory, and whether the generator kept up (a run it did not keep up with measures the generator
 * too). `label` names the runs' setting (e.g. "embedded" or "DATABASE_URL").
 */
function markdownAcross(runs, label = '') {
  const lines = [
    `| Profile${label ? ` (${label})` : ''} | CPU % service / sample / bare | service ÷ sample | p99 caller→model / model→caller (ms) | setup p99 (ms) | lost / reordered | RSS per call after GC, service / sample (KB) | truncation worst (ms) | generator |`,
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const run of runs) {
    const s = run.peers.service;
    if (!s) continue;
    const cpu = (p) => f(run.peers[p]?.cpuPctOfOneCore);
    const lost = framesNotDelivered(s);
    const reordered = s.frames.callerToModel.reordered + s.frames.modelToCaller.reordered;
    const gens = Object.values(run.peers).map((p) => p.generator);
    const gen = gens.every((g) => g.valid) ? 'kept up' : `saturated (${gens.filter((g) => !g.valid).map((g) => `lag p99 ${g.eventLoopLagP99Ms} ms`).join(', ')})`;
    const tr = s.truncation.interruptedTurns > 0 ? f(s.truncation.absMaxMs) : '–';
    lines.push(
      `| ${run.traffic.name} | ${cpu('service')} / ${cpu('sample')} / ${cpu('bare')} | ${f(run.serviceVsSample?.cpu)} | ${f(s.relayMsSteadyState.callerToModel.p99)} / ${f(s.relayMsSteadyState.modelToCaller.p99)} | ${f(s.setupMs.p99)} | ${lost} / ${reordered} | ${f(s.rssKb.perCallAfterGcKb)} / ${f(run.peers.sample?.rssKb.perCallAfterGcKb)} | ${tr} | ${gen} |`,
    );
  }
  return lines.join('\n');
}

module.exports = { ratios, targets, markdownRun, markdownTargets, markdownSweep, markdownAcross };
