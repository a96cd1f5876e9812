/**
 * `npm run scenarios`: runs a folder of caller scenarios through the simulator, prints a table,
 * and exits 1 when any check failed (2 when the scenarios or options are not valid).
 */
import { parseArgs } from 'node:util';
import { SystemClock } from '../common/clock';
import { SystemScheduler } from '../common/scheduler';
import { AudioError } from './audio';
import { fail, out } from './cli-options';
import { ScenarioError } from './scenario';
import { formatResults, passed, runScenarios, type CallerVoice } from './scenario-runner';
import { SimulatorError } from './voice-webhook';

const HELP = `Runs caller scenarios through the call simulator and checks how each call ended.

  npm run scenarios [-- [--url URL] [--voice auto|espeak|tones] [folder or file ...]]

  folder or file  scenario files (.yaml, .yml, .json); default: scenarios/
  --url URL       call a running service (needs its API_TOKEN, and TWILIO_AUTH_TOKEN if it checks
                  signatures); without it a service is started from the build on a temporary
                  DATA_DIR, with a local stand-in for Twilio's REST API
  --voice         how the caller's lines are voiced: espeak-ng, tone bursts, or espeak-ng when
                  installed (auto, the default); a real model needs espeak-ng

Without OPENAI_API_KEY the model is a mock that follows each scenario's mock script: the plumbing
is checked. With OPENAI_API_KEY the real model answers: the agent and its prompt are checked.
Exit status: 0 all passed, 1 a check failed, 2 bad scenarios or options.
`;

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { url: { type: 'string' }, voice: { type: 'string', default: 'auto' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (err) {
    fail(`${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    out(HELP);
    return 0;
  }
  if (!['auto', 'espeak', 'tones'].includes(values.voice)) {
    fail(`--voice must be auto, espeak or tones, not ${values.voice}`);
    return 2;
  }
  try {
    const results = await runScenarios({
      paths: positionals.length > 0 ? positionals : ['scenarios'],
      url: values.url,
      env: process.env,
      voice: values.voice as CallerVoice,
      clock: new SystemClock(),
      scheduler: new SystemScheduler(),
      print: out,
    });
    out('');
    out(formatResults(results));
    return results.every(passed) ? 0 : 1;
  } catch (err) {
    if (err instanceof ScenarioError || err instanceof SimulatorError || err instanceof AudioError) {
      fail(`scenarios: ${err.message}`);
      return 2;
    }
    throw err;
  }
}

// Exiting runs the exit hooks, which stop the service the runner started.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    fail(`scenarios: stopped by ${signal}`);
    process.exit(130);
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    fail(`scenarios failed: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(2);
  },
);
