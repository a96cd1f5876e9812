/**
 * `npm run call`: one simulated phone call against a running service, as Twilio would place it.
 * Prints what happens as it happens, the transcript (with API_TOKEN) and the timings.
 */
import { parseArgs } from 'node:util';
import { SystemClock } from '../common/clock';
import { SystemScheduler } from '../common/scheduler';
import { AudioError, loadAudioFile, speak, writeMuLawWav } from './audio';
import { CallApi, TranscriptFollower, type ApiTranscriptTurn } from './call-api';
import { fail, out, parseDuration, seconds } from './cli-options';
import { SimulatedCall, type CallEvent } from './simulated-call';
import { SimulatorError } from './voice-webhook';

const HELP = `Places a simulated call against a running Call Operator service, as Twilio would.

  npm run call -- [--url http://localhost:8080] [--wav input.wav | --say "text"] [--out agent.wav]
                  [--barge-in-after 1.5s] [--from +15551230000] [--to +15557650000]
                  [--hang-up-after 3s] [--max-duration 120s]

  --url              the service (default http://localhost:8080)
  --wav FILE         what the caller says: any WAV (any sound file when sox is installed)
  --say TEXT         what the caller says, spoken by espeak-ng
  --out FILE         save the agent's audio, as the caller heard it, to a WAV file
  --barge-in-after D start talking D after the agent starts speaking (over its greeting)
  --hang-up-after D  hang up once the agent has been quiet this long after the caller spoke (default 3s)
  --max-duration D   hang up after this long in any case (default 120s)

Environment: TWILIO_AUTH_TOKEN (the service's: requests are signed as Twilio signs them),
API_TOKEN (the service's: the live transcript is read from /api/calls/:callSid).
`;

interface Options {
  url: string;
  wav?: string;
  say?: string;
  out?: string;
  bargeInAfterMs?: number;
  hangUpAfterMs: number;
  maxDurationMs: number;
  from?: string;
  to?: string;
}

function options(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string', default: 'http://localhost:8080' },
      wav: { type: 'string' },
      say: { type: 'string' },
      out: { type: 'string' },
      'barge-in-after': { type: 'string' },
      'hang-up-after': { type: 'string', default: '3s' },
      'max-duration': { type: 'string', default: '120s' },
      from: { type: 'string' },
      to: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return null;
  if (values.wav && values.say) throw new Error('give --wav or --say, not both');
  if (values['barge-in-after'] !== undefined && !values.wav && !values.say) throw new Error('--barge-in-after needs something to say: --wav or --say');
  return {
    url: values.url,
    wav: values.wav,
    say: values.say,
    out: values.out,
    bargeInAfterMs: values['barge-in-after'] === undefined ? undefined : parseDuration(values['barge-in-after'], '--barge-in-after'),
    hangUpAfterMs: parseDuration(values['hang-up-after'], '--hang-up-after'),
    maxDurationMs: parseDuration(values['max-duration'], '--max-duration'),
    from: values.from,
    to: values.to,
  };
}

function describe(event: CallEvent): string | null {
  const at = 'atMs' in event ? `${seconds(event.atMs).padStart(7)}  ` : '';
  switch (event.type) {
    case 'answered': {
      const params = Object.keys(event.answer.stream?.parameters ?? {});
      return `webhook answered in ${event.webhookMs} ms: <Stream url="${event.answer.stream?.url}"> with ${params.length} parameters (${params.join(', ')})\nstream opened at ${event.streamUrl}`;
    }
    case 'caller-speaking':
      return `${at}caller  speaks (turn ${event.turn}, ${seconds(event.durationMs)} of audio)`;
    case 'caller-done':
      return null;
    case 'agent-speaking':
      return `${at}agent   speaks${event.latencyMs !== null ? ` (${event.latencyMs} ms after the caller's turn ${event.turn} ended)` : ''}`;
    case 'cleared':
      return `${at}agent   cut off: the service cleared its audio (barge-in)`;
    case 'closed':
      return `${at}call    ended by the ${event.by} (code ${event.code})`;
  }
}

async function main(argv: string[]): Promise<number> {
  let opts: Options | null;
  try {
    opts = options(argv);
  } catch (err) {
    fail(`${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (!opts) {
    out(HELP);
    return 0;
  }
  const clock = new SystemClock();
  const scheduler = new SystemScheduler();
  const callerAudio = opts.wav ? await loadAudioFile(opts.wav) : opts.say ? await speak(opts.say) : null;
  const apiToken = process.env.API_TOKEN || undefined;
  const api = apiToken ? new CallApi(opts.url, apiToken, clock, scheduler) : null;
  const printTurn = (t: ApiTranscriptTurn): void => out(`${seconds(t.startMs).padStart(7)}  ${t.speaker.padEnd(6)}  "${t.text}"${t.interrupted ? ' (interrupted)' : ''}`);

  const call = await SimulatedCall.place({
    url: opts.url,
    from: opts.from,
    to: opts.to,
    authToken: process.env.TWILIO_AUTH_TOKEN || undefined,
    clock,
    scheduler,
    onEvent: (e) => {
      const line = describe(e);
      if (line) out(line);
    },
  });
  out(`call ${call.callSid}${api ? '' : ' (set API_TOKEN to see the transcript)'}`);
  const follower = api ? new TranscriptFollower(api, call.callSid, printTurn) : null;
  const polling = follower ? scheduler.every(1000, () => void follower.poll()) : null;
  const limit = scheduler.after(opts.maxDurationMs, () => {
    out(`${seconds(call.streamMs()).padStart(7)}  call    --max-duration reached: hanging up`);
    void call.hangUp();
  });
  try {
    if (callerAudio) {
      // Without a barge-in the caller waits for the greeting to finish, as people do.
      if (opts.bargeInAfterMs === undefined) {
        await call.waitForReply();
        await call.waitForQuiet(700);
      }
      await call.say(callerAudio, { bargeInAfterMs: opts.bargeInAfterMs });
    } else {
      await call.waitForReply();
    }
    // A reply that never comes is reported as such, not waited for to the end.
    await call.waitForReply(20_000).catch(() => undefined);
    await call.waitForQuiet(opts.hangUpAfterMs, opts.maxDurationMs);
    await call.hangUp();
  } finally {
    limit.cancel();
    polling?.cancel();
  }

  if (api && follower) {
    try {
      await follower.poll(await api.ended(call.callSid));
    } catch (err) {
      fail(`transcript: ${(err as Error).message}`);
    }
  }
  const report = call.report();
  out('');
  out(`first agent audio: ${report.firstAudioMs === null ? 'none' : `${report.firstAudioMs} ms after the stream started`} (webhook ${report.webhookMs} ms)`);
  for (const t of report.turns) out(`turn ${t.turn}: ${t.latencyMs === null ? 'no reply' : `${t.latencyMs} ms from the end of the caller's speech to the agent's first audio`}`);
  out(`agent audio heard: ${seconds(report.agentAudioMs)}; clears: ${report.clears}; marks echoed: ${report.marksEchoed}`);
  if (opts.out) {
    await writeMuLawWav(opts.out, call.agentAudio());
    out(`agent audio saved to ${opts.out}`);
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    fail(err instanceof SimulatorError || err instanceof AudioError ? `call: ${err.message}` : `call failed: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  },
);
