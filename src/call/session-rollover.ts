/** The next session's socket opens this long before the cap, so it is ready when the moment comes. */
export const ROLLOVER_PREPARE_MS = 120_000;
/** The switch happens this long before the cap at the latest, even mid-sentence. */
export const ROLLOVER_MARGIN_MS = 20_000;

export type RolloverStep = 'prepare' | 'switch';

/**
 * When to move a call to a fresh Realtime session before the API's session cap ends the current
 * one: open the next socket ROLLOVER_PREPARE_MS before the cap, switch once it is ready and the
 * agent is quiet, or at ROLLOVER_MARGIN_MS before the cap whatever the agent is doing.
 * Pure: the caller passes the time in.
 */
export class SessionRollover {
  private prepareAt = Number.POSITIVE_INFINITY;
  private latestSwitchAt = Number.POSITIVE_INFINITY;
  private prepared = false;

  constructor(private readonly capMs: number) {}

  /** A session became current at `now`; its cap counts from here. */
  sessionStarted(now: number): void {
    this.prepareAt = now + this.capMs - ROLLOVER_PREPARE_MS;
    this.latestSwitchAt = now + this.capMs - ROLLOVER_MARGIN_MS;
    this.prepared = false;
  }

  /**
   * 'prepare' once per session when the next socket should start opening; 'switch' when it is
   * ready and the agent is quiet, or the margin is reached.
   */
  check(now: number, nextReady: boolean, agentQuiet: boolean): RolloverStep | null {
    if (now < this.prepareAt) return null;
    if (!this.prepared) {
      this.prepared = true;
      return 'prepare';
    }
    if (nextReady && (agentQuiet || now >= this.latestSwitchAt)) return 'switch';
    return null;
  }
}
