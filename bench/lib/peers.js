'use strict';
/**
 * The relays the bench can measure ("peers"). Each says how to start it (script, working
 * directory, environment), where its health check, voice webhook and media stream are, and
 * whether it runs the model's tools. The generator learns the stream URL and <Parameter>s from
 * the TwiML each webhook answers, so a peer without a stream token or parameters needs nothing
 * special. Adding a peer: one entry here.
 */
const crypto = require('crypto');
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');

const PEERS = {
  /** The floor: a plain `ws` relay, bench/bare-relay.js. */
  bare: {
    label: 'Bare `ws` relay',
    tools: false,
    health: '/health',
    webhook: '/twilio/voice',
    async prepare() {
      return { script: path.join(ROOT, 'bench', 'bare-relay.js'), cwd: ROOT };
    },
    env: ({ port, mockUrl }) => ({ PORT: String(port), REALTIME_URL: mockUrl }),
  },

  /** The service's build (dist/src/main.js, or --service PATH), with recording, transcripts and the call log on. */
  service: {
    label: 'Service',
    tools: true,
    health: '/health',
    webhook: '/twilio/voice',
    async prepare(opts) {
      if (!fs.existsSync(opts.service)) throw new Error(`${path.relative(process.cwd(), opts.service)} not found. Run \`npm run build\` first.`);
      // The service runs from its own project directory (prompts/, package.json).
      return { script: opts.service, cwd: path.resolve(path.dirname(opts.service), '..', '..') };
    },
    env: ({ port, mockUrl, calls, tmpDir }) => ({
      OPENAI_API_KEY: 'sk-bench-not-a-real-key',
      OPENAI_REALTIME_URL: mockUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
      DATA_DIR: tmpDir('call-operator-bench-'),
      LOG_LEVEL: 'warn',
      MAX_CONCURRENT_CALLS: String(calls + 10),
      // The bench's webhooks are unsigned (no TWILIO_AUTH_TOKEN): all of them come from one address.
      RATE_LIMIT_TWILIO_UNSIGNED_PER_MINUTE: '1000000',
      // The simulated callers send stamped frames, not speech: nothing here is a silent caller.
      SILENCE_PROMPT_SECONDS: '0',
    }),
  },

  /** Twilio's Node sample (../shared/peers/twilio-node, or --sample PATH), installed once in a cache. */
  sample: {
    label: "Twilio's sample",
    tools: false,
    health: '/',
    webhook: '/incoming-call',
    async prepare(opts) {
      const dir = installSample(opts.sample);
      return { script: path.join(dir, 'index.js'), cwd: dir };
    },
    env: ({ port, mockUrl }) => ({ PORT: String(port), OPENAI_REALTIME_URL: mockUrl, OPENAI_API_KEY: 'sk-bench-not-a-real-key' }),
  },
};

const DEFAULT_SAMPLE = path.resolve(ROOT, '..', 'shared', 'peers', 'twilio-node');

/**
 * The sample's folder is read-only where CI runs: it is copied to os.tmpdir() and `npm ci` runs
 * there, once per version of its lock file, package.json and index.js.
 */
function installSample(src) {
  const files = ['package-lock.json', 'package.json', 'index.js'];
  for (const f of files) if (!fs.existsSync(path.join(src, f))) throw new Error(`Twilio's sample not found: ${path.join(src, f)} is missing (see --sample)`);
  const hash = crypto.createHash('sha256');
  for (const f of files) hash.update(fs.readFileSync(path.join(src, f)));
  const dir = path.join(os.tmpdir(), `call-operator-bench-twilio-sample-${hash.digest('hex').slice(0, 16)}`);
  const marker = path.join(dir, '.bench-installed');
  if (fs.existsSync(marker)) return dir;
  const work = `${dir}.tmp-${process.pid}`;
  fs.rmSync(work, { recursive: true, force: true });
  fs.cpSync(src, work, { recursive: true, filter: (p) => !p.split(path.sep).includes('node_modules') });
  console.error(`bench: installing Twilio's sample in ${dir} (npm ci, once)`);
  try {
    execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: work, stdio: ['ignore', 'ignore', 'inherit'] });
  } catch (err) {
    fs.rmSync(work, { recursive: true, force: true });
    throw new Error(`npm ci of Twilio's sample failed: ${err.message.split('\n')[0]}`, { cause: err });
  }
  fs.writeFileSync(path.join(work, '.bench-installed'), `${new Date().toISOString()}\n`);
  try {
    fs.renameSync(work, dir);
  } catch {
    // Another run installed it meanwhile.
    fs.rmSync(work, { recursive: true, force: true });
  }
  return dir;
}

module.exports = { PEERS, DEFAULT_SAMPLE, installSample, ROOT };
