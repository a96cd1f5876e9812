#!/usr/bin/env node
'use strict';
/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time by function and by where the code
 * lives (our src/ module, an npm package, Node internals, GC, idle).
 *
 *   node bench/profile-summary.js file.cpuprofile [--top N] [--skip-ms MS] [--until-ms MS]
 */
const fs = require('fs');
const path = require('path');

function place(url, root) {
  if (!url) return null;
  const file = url.startsWith('file://') ? decodeURIComponent(url.slice(7)) : url;
  const nm = file.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const parts = file.slice(nm + 13).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  if (file.startsWith('node:')) return 'node internals';
  const rel = path.relative(root, file);
  // The service's build, wherever it is (--service runs other copies).
  const m = /(?:^|\/)dist\/src\/([^/]+)\//.exec(file);
  if (m) return `src/${m[1]}`;
  return rel.startsWith('..') ? file : rel;
}

function summarizeProfile(profile, { root = process.cwd(), top = 25, skipMs = 0, untilMs = Infinity } = {}) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  // Only samples from skipMs (after boot) to untilMs (before what follows the calls) count.
  let at = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] || 0;
    at += dt;
    if (at < skipMs * 1000 || at > untilMs * 1000) continue;
    self.set(profile.samples[i], (self.get(profile.samples[i]) || 0) + dt);
  }
  let total = 0;
  const fns = new Map();
  const places = new Map();
  for (const [id, us] of self) {
    const n = byId.get(id);
    if (!n) continue;
    total += us;
    const cf = n.callFrame;
    const name = cf.functionName || '(anonymous)';
    const special = name.startsWith('(') && !cf.url ? name : null; // (idle), (garbage collector), (program)
    const where = special || place(cf.url, root) || '(native)';
    const key = special || `${name} ${where}${cf.url ? `:${cf.lineNumber + 1}` : ''}`;
    fns.set(key, (fns.get(key) || 0) + us);
    places.set(where, (places.get(where) || 0) + us);
  }
  const busy = total - (places.get('(idle)') || 0);
  const pct = (us, of) => `${((100 * us) / of).toFixed(1)} %`;
  const lines = [`Sampled ${(total / 1e6).toFixed(1)} s, of which busy ${(busy / 1e6).toFixed(1)} s. Shares below are of busy time.`, '', '| Where | Self time |', '| --- | --- |'];
  for (const [k, us] of [...places].filter(([k]) => k !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, 15)) lines.push(`| ${k} | ${pct(us, busy)} |`);
  lines.push('', '| Function | Self time |', '| --- | --- |');
  for (const [k, us] of [...fns].filter(([k]) => k !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`| \`${k}\` | ${pct(us, busy)} |`);
  return lines.join('\n');
}

module.exports = { summarizeProfile };

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node bench/profile-summary.js file.cpuprofile [--top N] [--skip-ms MS] [--until-ms MS]');
    process.exit(2);
  }
  const flag = (name, dflt) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? Number(process.argv[i + 1]) || dflt : dflt;
  };
  const opts = { root: path.resolve(__dirname, '..'), top: flag('--top', 25), skipMs: flag('--skip-ms', 0), untilMs: flag('--until-ms', Infinity) };
  console.log(summarizeProfile(JSON.parse(fs.readFileSync(file, 'utf8')), opts));
}
