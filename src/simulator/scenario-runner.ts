/**
 * Runs caller scenarios through the simulator and checks each call's outcome through the
 * service's call API. Without a URL it starts its own service (the build, on a temporary
 * DATA_DIR) with a local stand-in for Twilio's REST API and, without OPENAI_API_KEY, the mock
 * model following each scenario's script; with OPENAI_API_KEY the real model answers and the
 * scripts are ignored.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../common/clock';
import type { Scheduler } from '../common/scheduler';
import { installed, loadAudioFile, speak, toneSpeech } from './audio';
import { CallApi } from './call-api';
import { parseDuration, seconds } from './cli-options';
import { MockModel } from './mock-model';
import { loadScenarios, turnWavPath, type LoadedScenario, type ScenarioTurn } from './scenario';
import { checkScenario, sentPages, type CheckResult } from './scenario-checks';
import { freePort, ServiceChild } from './service-child';
import { SimulatedCall, type CallReport } from './simulated-call';
import { TwilioRestStandIn } from './twilio-rest-stand-in';
import { newSid, SimulatorError } from './voice-webhook';

export type CallerVoice = 'auto' | 'espeak' | 'tones';

export interface RunOptions {
  /** Scenario files and folders. */
  readonly paths: readonly string[];
  /** A running service to call instead of starting one. */
  readonly url?: string;
  /** OPENAI_API_KEY, API_TOKEN, TWILIO_AUTH_TOKEN and OPENAI_* settings are read from here. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** How the caller's lines are voiced: espeak-ng, tone bursts, or espeak-ng when installed. */
  readonly voice: CallerVoice;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly print: (line: string) => void;
}

export interface ScenarioResult {
  readonly scenario: LoadedScenario;
  readonly checks: readonly CheckResult[];
  /** Why the scenario could not be run to its checks. */
  readonly error: string | null;
  readonly report: CallReport | null;
}

export const passed = (r: ScenarioResult): boolean => r.error === null && r.checks.every((c) => c.ok);

/** Who is on call in the runner's own service: the page of an emergency goes to them. */
const ON_CALL_MOBILE = '+15551230001';
const ON_CALL_ROTA = JSON.stringify({
  timezone: 'UTC',
  people: [{ id: 'oncall', name: 'Sam Rivera', mobile: ON_CALL_MOBILE }],
  windows: [{ days: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'], start: '00:00', end: '00:00', people: ['oncall'] }],
});
const BUSINESS_LINE = '+15557650000';
/** Short, so that a silent caller's scenario ends in seconds. */
const SILENCE_PROMPT_SECONDS = '4';

interface Target {
  readonly url: string;
  readonly apiToken: string;
  readonly authToken: string | undefined;
  readonly standIn: TwilioRestStandIn | null;
  readonly mock: MockModel | null;
  stop(): Promise<void>;
}

/** The runner's own service: the build, a stand-in for Twilio's REST API, and the mock model unless a key is given. */
async function startLocal(opts: RunOptions): Promise<Target> {
  const accountSid = newSid('AC');
  const authToken = randomBytes(16).toString('hex');
  const apiToken = randomBytes(24).toString('hex');
  const standIn = await TwilioRestStandIn.start(accountSid, authToken, opts.clock);
  const apiKey = opts.env.OPENAI_API_KEY;
  const mock = apiKey ? null : await MockModel.start(opts.scheduler);
  const dataDir = mkdtempSync(join(tmpdir(), 'call-operator-scenarios-'));
  const removeDataDir = (): void => rmSync(dataDir, { recursive: true, force: true });
  process.once('exit', removeDataDir);
  const port = await freePort();
  const passThrough = Object.fromEntries(Object.entries(opts.env).filter((e): e is [string, string] => e[0].startsWith('OPENAI_') && e[1] !== undefined));
  let service: ServiceChild;
  try {
    service = await ServiceChild.start(
      {
        LOG_LEVEL: 'info',
        DATA_DIR: dataDir,
        PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
        ...(mock ? { OPENAI_API_KEY: 'sk-mock-model', OPENAI_REALTIME_URL: mock.url } : passThrough),
        TWILIO_ACCOUNT_SID: accountSid,
        TWILIO_AUTH_TOKEN: authToken,
        TWILIO_API_BASE_URL: standIn.baseUrl,
        API_TOKEN: apiToken,
        SMS_FROM_NUMBER: BUSINESS_LINE,
        OPERATOR_TRANSFER_NUMBER: '+15557650001',
        ON_CALL_ROTA,
        SILENCE_PROMPT_SECONDS,
        SUMMARY_ENABLED: 'false',
        DRAIN_TIMEOUT_SECONDS: '0',
        RATE_LIMIT_API_PER_MINUTE: '100000',
      },
      port,
      opts.scheduler,
    );
  } catch (err) {
    await Promise.all([standIn.close(), mock?.close()]);
    removeDataDir();
    process.off('exit', removeDataDir);
    throw err;
  }
  return {
    url: service.url,
    apiToken,
    authToken,
    standIn,
    mock,
    stop: async () => {
      await service.stop(opts.scheduler);
      await Promise.all([standIn.close(), mock?.close()]);
      removeDataDir();
      process.off('exit', removeDataDir);
    },
  };
}

async function callerAudio(scenario: LoadedScenario, turn: ScenarioTurn, voice: 'espeak' | 'tones'): Promise<Buffer> {
  const wav = turnWavPath(scenario, turn);
  if (wav) return loadAudioFile(wav);
  return voice === 'espeak' ? speak(turn.say, { voice: scenario.language }) : toneSpeech(turn.say, 440, 120);
}

async function runOne(scenario: LoadedScenario, target: Target, voice: 'espeak' | 'tones', opts: RunOptions): Promise<ScenarioResult> {
  const { clock, scheduler } = opts;
  if (target.mock) target.mock.script = { turns: scenario.caller.map((t) => ({ heard: t.say, reply: t.mock ?? {} })) };
  const audio = await Promise.all(scenario.caller.map((t) => callerAudio(scenario, t, voice)));
  const call = await SimulatedCall.place({ url: target.url, from: scenario.from, to: BUSINESS_LINE, authToken: target.authToken, clock, scheduler });
  if (target.standIn) {
    // Twilio ends the stream of a call the service hung up or transferred through its REST API.
    target.standIn.onCallUpdate = (update) => {
      if (update.callSid === call.callSid) void call.endedByService();
    };
  }
  const timeoutMs = parseDuration(scenario.timeout ?? '60s', 'timeout');
  let timedOut = false;
  const limit = scheduler.after(timeoutMs, () => {
    timedOut = true;
    void call.hangUp();
  });
  try {
    for (const [i, turn] of scenario.caller.entries()) {
      if (!call.open) break;
      if (turn.bargeInAfter === undefined) {
        // The caller waits for the agent to answer and finish, as people do.
        await call.waitForReply(20_000).catch(() => undefined);
        await call.waitForQuiet(600, timeoutMs);
      }
      if (turn.pauseBefore) await call.waitForQuiet(parseDuration(turn.pauseBefore, 'pauseBefore'), timeoutMs);
      await call.say(audio[i], { bargeInAfterMs: turn.bargeInAfter === undefined ? undefined : parseDuration(turn.bargeInAfter, 'bargeInAfter') });
    }
    if ((scenario.hangUp ?? 'caller') === 'caller') {
      await call.waitForReply(20_000).catch(() => undefined);
      await call.waitForQuiet(1500, timeoutMs);
      await call.hangUp();
    } else {
      await call.ended;
    }
  } finally {
    limit.cancel();
    if (target.standIn) target.standIn.onCallUpdate = () => undefined;
  }
  const report = call.report();
  if (timedOut) return { scenario, checks: [], error: `the call was still going after ${seconds(timeoutMs)} (timeout)`, report };
  const api = new CallApi(target.url, target.apiToken, clock, scheduler);
  // Pages go out in the background after the tool saved the emergency: waited for when expected.
  const record = await api.ended(call.callSid, 15_000, (r) => !scenario.expect.paged || sentPages(r) > 0);
  return { scenario, checks: checkScenario(scenario.expect, record, report), error: null, report };
}

/** Loads every scenario first (a bad file stops the run before any call), then runs them one by one. */
export async function runScenarios(opts: RunOptions): Promise<ScenarioResult[]> {
  const scenarios = await loadScenarios(opts.paths);
  const real = opts.url !== undefined || Boolean(opts.env.OPENAI_API_KEY);
  const voice = opts.voice === 'auto' ? ((await installed('espeak-ng')) ? 'espeak' : 'tones') : opts.voice;
  if (real && voice === 'tones' && opts.voice === 'auto') {
    throw new SimulatorError('a real model needs the caller to speak words: install espeak-ng (apt-get install espeak-ng)');
  }
  let target: Target;
  if (opts.url) {
    const apiToken = opts.env.API_TOKEN;
    if (!apiToken) throw new SimulatorError('checking a running service needs its API_TOKEN in the environment: the checks read the call API');
    target = { url: opts.url, apiToken, authToken: opts.env.TWILIO_AUTH_TOKEN || undefined, standIn: null, mock: null, stop: async () => undefined };
    opts.print(`Calling ${opts.url}: the service's own model answers; the scenarios' mock scripts are not used.`);
  } else {
    target = await startLocal(opts);
    opts.print(
      target.mock
        ? `Service started at ${target.url} with the mock model (no OPENAI_API_KEY): the plumbing is checked, not the agent.`
        : `Service started at ${target.url} with the real model (OPENAI_API_KEY): the agent and its prompt are checked.`,
    );
  }
  opts.print(`Caller voice: ${voice === 'espeak' ? 'espeak-ng' : 'tone bursts'}.`);
  const results: ScenarioResult[] = [];
  try {
    for (const scenario of scenarios) {
      let result: ScenarioResult;
      try {
        result = await runOne(scenario, target, voice, opts);
      } catch (err) {
        result = { scenario, checks: [], error: (err as Error).message, report: null };
      }
      results.push(result);
      const failed = result.checks.filter((c) => !c.ok).length;
      opts.print(`${passed(result) ? 'PASS' : 'FAIL'}  ${scenario.name}${result.error ? `: ${result.error}` : failed ? `: ${failed} check(s) failed` : ''}`);
    }
  } finally {
    await target.stop();
  }
  return results;
}

/** The results as a table, then every failed check with what was found. */
export function formatResults(results: readonly ScenarioResult[]): string {
  const rows = results.map((r) => {
    const ok = r.checks.filter((c) => c.ok).length;
    const latencies = (r.report?.turns ?? []).map((t) => t.latencyMs).filter((l): l is number => l !== null);
    return [
      r.scenario.name,
      passed(r) ? 'PASS' : 'FAIL',
      r.error ? 'error' : `${ok}/${r.checks.length}`,
      r.report?.firstAudioMs == null ? '-' : seconds(r.report.firstAudioMs),
      latencies.length ? seconds(Math.max(...latencies)) : '-',
    ];
  });
  const header = ['Scenario', 'Result', 'Checks', 'First audio', 'Slowest reply'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  const out = [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)];
  const failures = results.filter((r) => !passed(r));
  if (failures.length > 0) {
    out.push('', 'Failed:');
    for (const r of failures) {
      if (r.error) out.push(`  ${r.scenario.name} (${r.scenario.file}): ${r.error}`);
      for (const c of r.checks.filter((check) => !check.ok)) out.push(`  ${r.scenario.name} (${r.scenario.file}): ${c.name}: ${c.detail}`);
    }
  }
  const passedCount = results.filter(passed).length;
  out.push('', `${passedCount} of ${results.length} scenarios passed`);
  return out.join('\n');
}
