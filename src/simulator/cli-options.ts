/** Small helpers shared by the simulator's command-line tools. */

/** "1.5s", "1500ms", "2" (seconds) as milliseconds; throws on anything else. */
export function parseDuration(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s)?$/.exec(text.trim());
  if (!m) throw new Error(`${what}: "${text}" is not a duration (e.g. 1.5s or 1500ms)`);
  const value = Number(m[1]);
  return Math.round(m[2] === 'ms' ? value : value * 1000);
}

/** Seconds with two decimals, for timings people read. */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)}s`;
}

/** Output goes through here: the tools print to the terminal on purpose. */
export function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}

export function fail(line: string): void {
  process.stderr.write(`${line}\n`);
}
