'use strict';
/**
 * Finds the knee: the calls one core carries before steady-state p99 (either way) passes
 * --knee-ms, or frames are lost. Steps up by --sweep-step, then halves the step between the last
 * good and the first bad count down to --sweep-resolution. A step whose generator saturated
 * measures the generator, not the peer: the sweep stops there and says so.
 */
const { framesNotDelivered } = require('./measure');

function verdictOf(s, kneeMs) {
  const up = s.relayMsSteadyState.callerToModel.p99;
  const down = s.relayMsSteadyState.modelToCaller.p99;
  if (!s.generator.valid || s.generator.saturated) return { ok: null, verdict: `generator saturated (${s.generator.why.join('; ')}): measures the generator` };
  const lost = framesNotDelivered(s);
  if (up === null || down === null) return { ok: false, verdict: 'no samples' };
  if (up > kneeMs || down > kneeMs) return { ok: false, verdict: `p99 over ${kneeMs} ms${lost ? `, ${lost} frames not delivered` : ''}` };
  if (lost > 0) return { ok: false, verdict: `${lost} frames not delivered` };
  return { ok: true, verdict: 'ok' };
}

/** measure(n) runs one phase at n calls and returns its summary. */
async function sweep({ peer, traffic, seconds, from, step, max, resolution, kneeMs }, measure, log) {
  const steps = [];
  let good = null;
  let bad = null;
  let saturatedAt = null;
  const one = async (n) => {
    log(`sweep: ${peer}, ${n} calls`);
    let s = await measure(n);
    let v = verdictOf(s, kneeMs);
    let note = '';
    if (v.ok === false) {
      // A knee is confirmed by a second run: one slow moment (this machine's noise) is not a knee.
      log(`sweep: ${n} calls: ${v.verdict}; running it again to confirm`);
      const again = await measure(n);
      const v2 = verdictOf(again, kneeMs);
      if (v2.ok !== false) {
        note = ` (first run: ${v.verdict})`;
        s = again;
        v = v2;
      } else note = ' (twice)';
    }
    const row = {
      calls: n,
      cpu: s.cpuPctOfOneCore,
      up: s.relayMsSteadyState.callerToModel.p99,
      down: s.relayMsSteadyState.modelToCaller.p99,
      lost: framesNotDelivered(s),
      truncWorst: s.truncation.absMaxMs,
      setupP99: s.setupMs.p99,
      generator: { cpuPct: s.generator.cpuPct, lagP99: s.generator.eventLoopLagP99Ms, frameLateP99: s.generator.callerFrameLateMs.p99 },
      verdict: v.verdict + note,
      ok: v.ok,
      otherLoadPct: s.otherLoadPct,
    };
    steps.push(row);
    log(`sweep: ${n} calls: CPU ${row.cpu} %, p99 ${row.up} / ${row.down} ms, ${row.verdict}`);
    return v.ok;
  };
  for (let n = from; n <= max; n += step) {
    const ok = await one(n);
    if (ok === null) {
      saturatedAt = n;
      break;
    }
    if (ok) good = n;
    else {
      bad = n;
      break;
    }
  }
  // Halve the interval around the knee.
  while (saturatedAt === null && bad !== null && bad - (good ?? 0) > resolution) {
    const lo = good ?? 0;
    const mid = Math.round((lo + bad) / 2 / resolution) * resolution;
    if (mid <= lo || mid >= bad) break;
    const ok = await one(mid);
    if (ok === null) {
      saturatedAt = mid;
      break;
    }
    if (ok) good = mid;
    else bad = mid;
  }
  steps.sort((a, b) => a.calls - b.calls);
  let conclusion;
  if (saturatedAt !== null) {
    conclusion = `The generator saturated at ${saturatedAt} calls${good !== null ? `, after ${good} calls passed` : ''}${bad !== null ? ` (p99 had passed ${kneeMs} ms at ${bad})` : ''}: figures from there on measure the generator, not the ${peer}. Give the generator more cores (--workers with more generator cores) to go further.`;
  } else if (bad === null) {
    conclusion = `p99 stayed within ${kneeMs} ms up to ${good} calls (the sweep's maximum): the knee is above that.`;
  } else if (good === null) {
    const first = steps.find((st) => st.calls === bad);
    conclusion = `The ${peer} failed already at ${bad} calls, the smallest step tried: ${first ? first.verdict : `p99 over ${kneeMs} ms`}.`;
  } else {
    conclusion = `One core carries ${good} calls with steady-state p99 within ${kneeMs} ms both ways and nothing lost; at ${bad} calls it does not.`;
  }
  return { peer, traffic: traffic.name, seconds, kneeMs, steps, carried: saturatedAt === null ? good : null, firstOver: bad, generatorSaturatedAt: saturatedAt, conclusion };
}

module.exports = { sweep };
