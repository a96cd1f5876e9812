'use strict';
/** Small helpers shared by the bench's modules. */
const { execFileSync } = require('child_process');
const fs = require('fs');
const http = require('http');
const net = require('net');

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

function httpRequest(url, { method = 'GET', body, agent, headers = {} } = {}) {
  return new Promise((resolve) => {
    const h = body ? { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(body), ...headers } : headers;
    const req = http.request(url, { method, headers: h, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', () => resolve({ status: 0, text: '' }));
    req.setTimeout(10000, () => req.destroy());
    req.end(body);
  });
}

function pct(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

const round3 = (x) => (x === null || x === undefined ? null : Math.round(x * 1000) / 1000);

/** n, min, p50, p99, max of a list of numbers (an array or arrays of them). */
function stats(...lists) {
  let n = 0;
  for (const l of lists) n += l.length;
  const s = new Float64Array(n);
  let o = 0;
  for (const l of lists) {
    s.set(l, o);
    o += l.length;
  }
  s.sort();
  return { n, min: round3(n ? s[0] : null), p50: round3(pct(s, 50)), p99: round3(pct(s, 99)), max: round3(n ? s[n - 1] : null) };
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a process (all its threads), in seconds, or null. */
function procCpuSeconds(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the ")" of comm: state is field 3; utime 14, stime 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

/**
 * Per CPU: [busy, total] clock ticks since boot, from /proc/stat. Interrupt and softirq time is
 * left out of "busy": it is mostly the loopback network the bench itself drives, which no process
 * is charged for.
 */
function coreTicks() {
  const out = {};
  try {
    for (const line of fs.readFileSync('/proc/stat', 'utf8').split('\n')) {
      const m = /^cpu(\d+)\s+(.*)$/.exec(line);
      if (!m) continue;
      // user nice system idle iowait irq softirq steal (guest is counted in user)
      const v = m[2].trim().split(/\s+/).map(Number);
      const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
      out[m[1]] = [v[0] + v[1] + v[2] + (v[7] || 0), total];
    }
  } catch {
    /* not Linux */
  }
  return out;
}

/** % busy of each listed core between two coreTicks() readings. */
function coreBusyPct(a, b, cores) {
  return cores.map((c) => {
    if (!a[c] || !b[c]) return null;
    const total = b[c][1] - a[c][1];
    return total > 0 ? Math.round(((b[c][0] - a[c][0]) / total) * 1000) / 10 : null;
  });
}

/**
 * Waits until every core has been at most `maxBusyPct` busy for `forMs` (other work on the machine,
 * a test suite say, would be in the figures), or `timeoutMs` has passed. Returns the ms waited, or
 * null on timeout.
 */
async function waitQuiet({ maxBusyPct = 15, forMs = 3000, timeoutMs = 600000, onWait = () => undefined } = {}) {
  const start = Date.now();
  let quietSince = Date.now();
  let prev = coreTicks();
  let told = false;
  for (;;) {
    await sleep(500);
    const cur = coreTicks();
    const cores = Object.keys(cur);
    const busy = coreBusyPct(prev, cur, cores);
    prev = cur;
    if (busy.some((b) => b !== null && b > maxBusyPct)) {
      quietSince = Date.now();
      if (!told && Date.now() - start > 5000) {
        onWait(busy);
        told = true;
      }
    } else if (Date.now() - quietSince >= forMs) return Date.now() - start;
    if (Date.now() - start > timeoutMs) return null;
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

const XML_ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const unxml = (s) => s.replace(/&(amp|lt|gt|quot|apos);/g, (_, e) => XML_ENTITIES[e]);

/** The stream URL and <Parameter>s of a TwiML <Connect><Stream>, or null. */
function parseConnectTwiml(xml) {
  const url = /<Stream\b[^>]*\burl="([^"]*)"/.exec(xml);
  if (!url) return null;
  const params = {};
  for (const m of xml.matchAll(/<Parameter\b[^>]*?\bname="([^"]*)"[^>]*?\bvalue="([^"]*)"/g)) params[unxml(m[1])] = unxml(m[2]);
  return { url: unxml(url[1]), params };
}

module.exports = { sleep, freePort, httpRequest, stats, round3, procCpuSeconds, procRssKb, coreTicks, coreBusyPct, waitQuiet, parseConnectTwiml };
