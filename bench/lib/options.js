'use strict';
/** Command-line options of bench/run.js. */
const path = require('path');
const { DEFAULT_SAMPLE, PEERS, ROOT } = require('./peers');
const { FLAGS, PROFILES } = require('./traffic');

const USAGE = `usage: node bench/run.js [options]

  --calls N              concurrent calls (default 100)
  --seconds S            how long each call streams (default 20)
  --profile NAME[,NAME]  traffic profile(s), run one after the other (default: default); "all" runs
                         every profile but smoke. Profiles: ${Object.keys(PROFILES).join(', ')}
  --turn-ms, --reply-ms, --delta-ms, --pace, --transcripts on|off, --tool-share F,
  --interrupt-share F, --interrupt-after-ms
                         override one field of the profile (see bench/lib/traffic.js); --traffic is
                         another name for --profile
  --peers LIST           peers to measure, in order (default: bare,sample,service; known: ${Object.keys(PEERS).join(', ')})
  --no-baseline          leave out the bare relay
  --no-sample            leave out Twilio's sample
  --service PATH         another build of the service (its dist/src/main.js), to compare
  --sample PATH          Twilio's sample (default ../shared/peers/twilio-node)
  --cpu-prof             CPU profile of the service, summarised
  --service-node-arg ARG a Node.js option for the service's process (repeatable), e.g. --trace-gc
                         (its output is kept with --keep-logs)
  --keep-logs DIR        copy each peer's stdout and stderr to DIR when it stops
  --sweep                find the knee: more calls per step until steady-state p99 passes
                         --knee-ms (20), service only unless --peers is given
  --sweep-from N --sweep-step N --sweep-max N   (defaults 100, 100, 1000); the step is halved
                         around the knee down to --sweep-resolution (25)
  --workers N            generator processes (default 1; they share the generator core)
  --gen-cpu-prof         CPU profiles of the generator's workers (in bench/profiles/)
  --quick                no full GCs or idle wait (RSS is sampled only): shorter phases
  --keep-heap-snapshots DIR   force the full GCs with heap snapshots (instead of the inspector) and
                         keep them in DIR, to study what a call holds (bench/heap-summary.js)
  --json FILE            also write the JSON report to FILE
  --retries N            re-run a phase during which other processes used over 10 % of a bench
                         core, up to N times (default 2; the figures kept say how disturbed)
  --no-wait-quiet        start each measurement at once (default: wait until every core has been
                         under 15 % busy for 3 s, 10 min at most)
  --smoke                3 calls x 3 s, bare relay and service, "smoke" traffic, no targets (CI)`;

function usage(err) {
  if (err) console.error(`bench: ${err}`);
  console.error(USAGE);
  process.exit(err ? 2 : 0);
}

function parseArgs(argv) {
  const opts = {
    calls: 100,
    seconds: 20,
    smoke: false,
    traffic: ['default'],
    overrides: {},
    peers: ['bare', 'sample', 'service'],
    noBaseline: false,
    noSample: false,
    cpuProf: false,
    serviceNodeArgs: [],
    service: path.join(ROOT, 'dist', 'src', 'main.js'),
    sample: DEFAULT_SAMPLE,
    sweep: false,
    sweepFrom: 100,
    sweepStep: 100,
    sweepMax: 1000,
    sweepResolution: 25,
    kneeMs: 20,
    workers: 1,
    genCpuProf: false,
    quick: false,
    retries: 2,
    waitQuiet: true,
    json: null,
    peersGiven: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const str = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    const num = () => {
      const v = Number(str());
      if (!Number.isFinite(v) || v <= 0) usage(`bad value for ${a}`);
      return v;
    };
    if (a === '--calls') opts.calls = Math.floor(num());
    else if (a === '--seconds') opts.seconds = num();
    else if (a === '--smoke') opts.smoke = true;
    else if (a === '--no-baseline') opts.noBaseline = true;
    else if (a === '--no-sample') opts.noSample = true;
    else if (a === '--cpu-prof') opts.cpuProf = true;
    else if (a === '--service-node-arg') opts.serviceNodeArgs.push(str());
    else if (a === '--keep-logs') opts.keepLogs = path.resolve(str());
    else if (a === '--service') opts.service = path.resolve(str());
    else if (a === '--sample') opts.sample = path.resolve(str());
    else if (a === '--profile' || a === '--traffic') opts.traffic = str().split(',');
    else if (a === '--peers') {
      opts.peers = str().split(',');
      opts.peersGiven = true;
    } else if (a === '--sweep') opts.sweep = true;
    else if (a === '--sweep-from') opts.sweepFrom = Math.floor(num());
    else if (a === '--sweep-step') opts.sweepStep = Math.floor(num());
    else if (a === '--sweep-max') opts.sweepMax = Math.floor(num());
    else if (a === '--sweep-resolution') opts.sweepResolution = Math.floor(num());
    else if (a === '--knee-ms') opts.kneeMs = num();
    else if (a === '--workers') opts.workers = Math.floor(num());
    else if (a === '--gen-cpu-prof') opts.genCpuProf = true;
    else if (a === '--quick') opts.quick = true;
    else if (a === '--keep-heap-snapshots') opts.keepHeapSnapshots = path.resolve(str());
    else if (a === '--retries') opts.retries = Math.floor(Number(str()));
    else if (a === '--no-wait-quiet') opts.waitQuiet = false;
    else if (a === '--json') opts.json = path.resolve(str());
    else if (FLAGS[a]) {
      const [field, kind] = FLAGS[a];
      const v = str();
      if (kind === 'onoff') {
        if (v !== 'on' && v !== 'off') usage(`${a} takes on or off`);
        opts.overrides[field] = v === 'on';
      } else {
        const n = Number(v);
        if (!Number.isFinite(n) || n < 0 || (kind === 'share' && n > 1)) usage(`bad value for ${a}`);
        opts.overrides[field] = n;
      }
    } else if (a === '--help' || a === '-h') usage();
    else usage(`unknown argument ${a}`);
  }
  if (opts.traffic.length === 1 && opts.traffic[0] === 'all') opts.traffic = Object.keys(PROFILES).filter((p) => p !== 'smoke');
  for (const t of opts.traffic) if (!PROFILES[t]) usage(`unknown traffic profile ${t}`);
  if (opts.sweep && !opts.peersGiven) opts.peers = ['service'];
  if (opts.noBaseline) opts.peers = opts.peers.filter((p) => p !== 'bare');
  if (opts.noSample) opts.peers = opts.peers.filter((p) => p !== 'sample');
  for (const p of opts.peers) if (!PEERS[p]) usage(`unknown peer ${p}`);
  if (!Number.isInteger(opts.retries) || opts.retries < 0) usage('bad value for --retries');
  if (opts.smoke) {
    // CI: quick, and no waiting for other jobs.
    opts.retries = 0;
    opts.waitQuiet = false;
    opts.calls = 3;
    opts.seconds = 3;
    opts.peers = opts.peers.filter((p) => p !== 'sample');
    if (!opts.traffic.includes('smoke') && opts.traffic.length === 1 && opts.traffic[0] === 'default') opts.traffic = ['smoke'];
  }
  if (opts.peers.length === 0) usage('no peer left to measure');
  return opts;
}

module.exports = { parseArgs, usage };
