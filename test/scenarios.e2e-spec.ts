/**
 * `npm run scenarios` end to end, as CI runs it: the built command starts its own service with the
 * mock model and a stand-in for Twilio's REST API, places each call through the simulator, and
 * checks the outcome through the call API. One of the shipped scenarios (each streams real-time
 * audio; .ci/run runs them all), and one whose expectations are wrong: a failed check must fail
 * the run, readably.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ensureBuilt } from './support/service-process';

const ROOT = join(__dirname, '..');
const running = new Set<ChildProcess>();

function runScenarios(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  ensureBuilt();
  // No OPENAI_API_KEY in the environment: the mock model answers.
  const child = spawn(process.execPath, ['dist/src/simulator/scenarios-cli.js', '--voice', 'tones', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      running.delete(child);
      resolve({ code, stdout, stderr });
    }),
  );
}

// A run a failed test left going stops, and takes its service with it.
afterAll(() => {
  for (const child of running) child.kill('SIGTERM');
});

describe('npm run scenarios', () => {
  it('passes a shipped scenario against the mock model: an emergency paged', async () => {
    const { code, stdout, stderr } = await runScenarios(['scenarios/01-burst-pipe-at-night.yaml']);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toContain('with the mock model (no OPENAI_API_KEY)');
    expect(stdout).toMatch(/\| Burst pipe at night +\| PASS +\| 10\/10 +\|/);
    expect(stdout).toContain('1 of 1 scenarios passed');
  }, 120_000);

  it('exits non-zero on a failed check, with a table and each failed check saying what was found', async () => {
    const { code, stdout } = await runScenarios(['test/fixtures/scenarios/failing-check.yaml']);
    expect(code).toBe(1);
    expect(stdout).toMatch(/\| Expects what did not happen \| FAIL +\| 1\/3 +\|/);
    expect(stdout).toContain('Expects what did not happen (test/fixtures/scenarios/failing-check.yaml): jobRequest.callerName: no job request saved');
    expect(stdout).toContain('Expects what did not happen (test/fixtures/scenarios/failing-check.yaml): endReason: "hangup", expected twilio_stop');
    expect(stdout).toContain('0 of 1 scenarios passed');
  }, 60_000);

  it('exits 2 naming the problem when a scenario is not valid, before any call', async () => {
    const { code, stderr } = await runScenarios(['test/fixtures']);
    expect(code).toBe(2);
    expect(stderr).toContain('no scenario files');
  }, 30_000);
});
