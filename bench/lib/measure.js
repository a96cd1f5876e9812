'use strict';
/**
 * Turns what the generator workers measured in one phase (the mock's side and the callers' side,
 * per worker) and what the main process read from /proc into one phase summary.
 */
const { BYTES_PER_MS } = require('./audio');
const { round3, stats } = require('./util');

/** Generator verdicts: above these the figures measure the generator, not the peer. */
const GENERATOR_LAG_P99_MAX_MS = 20;
const GENERATOR_CPU_MAX_PCT = 90; // of each generator core

const DISTURBED_PCT = 10;

/** % of a core used by other processes on the peer's core and on the generator's cores. */
function otherLoad(coreBusy, peerPct, genPct) {
  const peerCore = peerPct === null || coreBusy.peer === null ? null : Math.max(0, Math.round((coreBusy.peer - peerPct) * 10) / 10);
  const genCores = coreBusy.generator.some((x) => x === null) ? null : Math.max(0, Math.round((coreBusy.generator.reduce((a, b) => a + b, 0) - genPct) * 10) / 10);
  return [peerCore, genCores];
}

function merge(collected) {
  const mock = { up: [], upSteady: [], calls: {}, interrupts: {}, toolRoundTripMs: [], counters: {} };
  const callers = { down: [], downSteady: [], frameLateMs: [], calls: {}, heardAtClear: {} };
  let lagP99 = 0;
  let lagMax = 0;
  let realtimeOpen = 0;
  for (const c of collected) {
    mock.up.push(c.mock.up);
    mock.upSteady.push(c.mock.upSteady);
    mock.toolRoundTripMs.push(c.mock.toolRoundTripMs);
    for (const [k, v] of Object.entries(c.mock.counters)) mock.counters[k] = (mock.counters[k] || 0) + v;
    for (const [idx, pc] of Object.entries(c.mock.calls)) {
      const prev = mock.calls[idx];
      if (!prev) mock.calls[idx] = pc;
      else {
        // A call whose Realtime sockets landed in two workers (a reconnect): add up.
        for (const k of Object.keys(pc)) if (typeof pc[k] === 'number' && k !== 'upFirstSeq' && k !== 'upLastSeq') prev[k] += pc[k];
        if (prev.sessionUpdateAt === null) prev.sessionUpdateAt = pc.sessionUpdateAt;
      }
    }
    Object.assign(mock.interrupts, c.mock.interrupts);
    callers.down.push(c.callers.down);
    callers.downSteady.push(c.callers.downSteady);
    callers.frameLateMs.push(c.callers.frameLateMs);
    Object.assign(callers.calls, c.callers.calls);
    Object.assign(callers.heardAtClear, c.callers.heardAtClear);
    lagP99 = Math.max(lagP99, c.lagMs.p99);
    lagMax = Math.max(lagMax, c.lagMs.max);
    realtimeOpen += c.realtimeConnectionsOpen;
  }
  return { mock, callers, lagP99, lagMax, realtimeOpen };
}

/**
 * p: { name, relay, N, S, traffic, runs, hangups, collected, cpu, genCpu, rss, profile, genCores }
 */
function summarizePhase(p) {
  const { mock, callers, lagP99, lagMax, realtimeOpen } = merge(p.collected);
  const mc = mock.counters;
  const opened = p.runs.reduce((a, r) => a + r.opened, 0);
  const failed = p.runs.reduce((a, r) => a + r.failed, 0);
  const failures = p.runs.flatMap((r) => r.failures).slice(0, 5);

  // caller -> model
  let upSent = 0;
  let upRecv = 0;
  let upLostAtStart = 0;
  let upGaps = 0;
  let upReordered = 0;
  // model -> caller, in stamps (one per 20 ms of agent audio)
  let downSent = 0;
  let downRecv = 0;
  let downGaps = 0;
  let downReordered = 0;
  let downForeign = 0;
  let downSplit = 0;
  let lateSent = 0;
  let lateRecv = 0;
  let afterClear = 0;
  let bytesSent = 0;
  let bytesRecv = 0;
  let mediaMessages = 0;
  let marksReceived = 0;
  let marksEchoed = 0;
  let clears = 0;
  let closedEarly = 0;
  let deltas = 0;
  const setup = [];
  let setupMissing = 0;
  const webhook = [];
  const warnings = [];
  for (const [idx, cc] of Object.entries(callers.calls)) {
    const mcall = mock.calls[idx];
    upSent += cc.upSent;
    if (mcall) {
      upRecv += mcall.upReceived;
      upLostAtStart += mcall.upFirstSeq > 0 ? mcall.upFirstSeq - 1 : 0;
      upGaps += mcall.upGaps;
      upReordered += mcall.upReordered;
      downSent += mcall.downStampsSent;
      lateSent += mcall.downLateStampsSent;
      bytesSent += mcall.downBytesSent;
      deltas += mcall.deltasSent;
      if (mcall.sessionUpdateAt !== null && cc.startSentAt !== null) setup.push(mcall.sessionUpdateAt - cc.startSentAt);
      else if (cc.startSentAt !== null) setupMissing++;
    } else {
      upLostAtStart += cc.upSent;
      if (cc.startSentAt !== null) setupMissing++;
    }
    downRecv += cc.downStamps;
    lateRecv += cc.downLateStamps;
    downGaps += cc.downGaps;
    downReordered += cc.downReordered;
    downForeign += cc.downForeign;
    downSplit += cc.downSplitStamps;
    afterClear += cc.audioAfterClearStamps;
    bytesRecv += cc.downBytes;
    mediaMessages += cc.mediaMessages;
    marksReceived += cc.marksReceived;
    marksEchoed += cc.marksEchoed;
    clears += cc.clears;
    if (cc.closedEarly) closedEarly++;
    if (cc.webhookMs !== null) webhook.push(cc.webhookMs);
    for (const w of cc.warnings) if (warnings.length < 10) warnings.push(w);
  }

  // Interrupted replies: truncation error = audio_end_ms sent - what the caller had heard at the clear.
  const truncErrors = [];
  let interrupted = 0;
  let notTruncated = 0;
  let notCleared = 0;
  let activeAtInterrupt = 0;
  let cancelledByRelay = 0;
  let cancelledByMock = 0;
  for (const [key, it] of Object.entries(mock.interrupts)) {
    interrupted++;
    const heard = callers.heardAtClear[key];
    if (heard === undefined) notCleared++;
    if (it.audioEndMs === null) notTruncated++;
    else if (heard !== undefined) truncErrors.push(it.audioEndMs - heard);
    if (it.activeAtInterrupt) activeAtInterrupt++;
    if (it.cancelledBy === 'relay') cancelledByRelay++;
    if (it.cancelledBy === 'mock') cancelledByMock++;
  }

  const wallSec = (p.cpu.wall1 - p.cpu.wall0) / 1000;
  const cpuPct = p.cpu.t0 !== null && p.cpu.t1 !== null ? Math.round(((p.cpu.t1 - p.cpu.t0) / wallSec) * 1000) / 10 : null;
  const genCpuPct = Math.round(((p.genCpu.t1 - p.genCpu.t0) / wallSec) * 1000) / 10;
  const frameLate = stats(...callers.frameLateMs);
  const generatorCores = p.genCores;
  const saturatedCpu = genCpuPct >= GENERATOR_CPU_MAX_PCT * generatorCores;
  const saturatedLag = lagP99 > GENERATOR_LAG_P99_MAX_MS;

  const rss = p.rss;
  const perCall = (a, b) => (opened && a !== null && b !== null ? Math.round((a - b) / opened) : null);
  return {
    peer: p.name,
    label: p.relay.peer.label,
    bootMs: p.relay.bootMs,
    calls: p.N,
    seconds: p.S,
    callsOpened: opened,
    connectFailures: failed,
    connectFailureSample: failures,
    callsClosedEarlyByRelay: closedEarly,
    callsClosedAfterStop: p.hangups.every((h) => h.closedInTime),
    relayMs: { callerToModel: stats(...mock.up), modelToCaller: stats(...callers.down) },
    relayMsSteadyState: { callerToModel: stats(...mock.upSteady), modelToCaller: stats(...callers.downSteady) },
    frames: {
      callerToModel: { sent: upSent, received: upRecv, lost: upSent - upRecv, lostAtStart: upLostAtStart, gaps: upGaps, reordered: upReordered, unstamped: mc.unstampedAppends || 0 },
      // Agent audio in 20 ms units (one stamp each), whatever size of media message carried it.
      modelToCaller: {
        sent: downSent,
        received: downRecv,
        lost: downSent - downRecv,
        gaps: downGaps,
        reordered: downReordered,
        wrongCall: downForeign,
        cutStamps: downSplit,
        lateSent,
        lateReceived: lateRecv,
        audioAfterClear: afterClear,
      },
    },
    agentAudio: {
      deltas,
      sentSeconds: round3(bytesSent / BYTES_PER_MS / 1000),
      receivedSeconds: round3(bytesRecv / BYTES_PER_MS / 1000),
      mediaMessages,
      bytesPerMediaMessage: mediaMessages ? Math.round(bytesRecv / mediaMessages) : null,
      marksReceived,
      marksEchoed,
      clears,
    },
    setupMs: stats(setup),
    setupMissing,
    webhookMs: stats(webhook),
    replies: {
      started: mc.repliesStarted || 0,
      followUps: mc.followUpsStarted || 0,
      responseCreates: mc.responseCreates || 0,
    },
    tools: {
      calls: mc.toolCalls || 0,
      outputs: mc.toolOutputs || 0,
      outputsSaved: mc.toolOutputsSaved || 0,
      followUpsWithoutRelay: mc.followUpsWithoutRelay || 0,
      followUpsNeverRequested: mc.followUpsMissing || 0,
      roundTripMs: stats(...mock.toolRoundTripMs),
    },
    truncation: {
      interruptedTurns: interrupted,
      measured: truncErrors.length,
      notTruncated,
      notCleared,
      errorMs: stats(truncErrors),
      absMaxMs: truncErrors.length ? round3(Math.max(...truncErrors.map(Math.abs))) : null,
      activeAtInterrupt,
      cancelledByRelay,
      cancelledByMock,
      cancelsSent: mc.cancels || 0,
      cancelsNotActive: mc.cancelsNotActive || 0,
      truncatesSent: mc.truncates || 0,
      truncatesUnknownItem: mc.truncatesUnknownItem || 0,
    },
    cpuPctOfOneCore: cpuPct,
    // Busy % of the peer's core and of the generator's, all processes: above the peer's and the
    // generator's own CPU, something else ran there (another test run, say) and disturbed the figures.
    coreBusyPct: p.coreBusy,
    otherLoadPct: p.coreBusy
      ? (([peerCore, generatorCores]) => ({ peerCore, generatorCores }))(otherLoad(p.coreBusy, cpuPct, genCpuPct))
      : null,
    rssKb: {
      before: rss.before,
      steady: rss.steady,
      peak: rss.peak,
      after: rss.after,
      idle: rss.idle,
      perCallKb: perCall(rss.steady, rss.before),
      peakPerCallKb: perCall(rss.peak, rss.before),
      beforeAfterGc: rss.beforeGc,
      withCallsAfterGc: rss.withCallsGc,
      perCallAfterGcKb: perCall(rss.withCallsGc, rss.beforeGc),
    },
    // Something else used more than DISTURBED_PCT of a core during the calls: re-run it.
    disturbed: p.coreBusy ? otherLoad(p.coreBusy, cpuPct, genCpuPct).some((x) => x !== null && x > DISTURBED_PCT) : false,
    realtimeConnections: mc.connections || 0,
    realtimeConnectionsWithoutAudio: mc.connectionsWithoutAudio || 0,
    realtimeConnectionsLeftOpen: realtimeOpen,
    errorsToRelay: mc.cancelsNotActive || 0,
    exitCode: p.relay.exitCode,
    exitSignal: p.relay.exitSignal,
    generator: {
      workers: p.collected.length,
      cores: generatorCores,
      cpuPct: genCpuPct,
      eventLoopLagP99Ms: round3(lagP99),
      eventLoopLagMaxMs: round3(lagMax),
      callerFrameLateMs: { p50: frameLate.p50, p99: frameLate.p99, max: frameLate.max },
      saturated: saturatedCpu || saturatedLag,
      valid: !saturatedLag,
      why: [saturatedLag ? `event-loop lag p99 ${round3(lagP99)} ms > ${GENERATOR_LAG_P99_MAX_MS} ms` : null, saturatedCpu ? `CPU ${genCpuPct} % of ${generatorCores} core(s) ≥ ${GENERATOR_CPU_MAX_PCT} %` : null].filter(Boolean),
    },
    twilioWarnings: warnings,
    stderrWarnOrErrorLines: p.relay.warnOrErrorLines,
    stderrSample: p.relay.warnOrErrorSample,
    profile: p.profile,
  };
}

/** Frames lost (gaps are among them), dropped, reordered or misdelivered, both ways, and calls that failed. */
function framesNotDelivered(s) {
  const u = s.frames.callerToModel;
  const d = s.frames.modelToCaller;
  return u.lost + u.reordered + d.lost + d.reordered + d.wrongCall + s.connectFailures + s.callsClosedEarlyByRelay;
}

module.exports = { summarizePhase, framesNotDelivered, GENERATOR_LAG_P99_MAX_MS, GENERATOR_CPU_MAX_PCT };
