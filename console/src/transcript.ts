/** A turn of the transcript as the call record keeps it; startMs is on the recording's timeline. */
export interface Turn {
  readonly speaker: 'caller' | 'agent';
  readonly text: string;
  readonly startMs: number;
  readonly interrupted?: boolean;
}

/**
 * The turn being heard at `positionMs` of the recording: the last one that has started (turns are
 * in start order); -1 before the first.
 */
export function activeTurnIndex(turns: readonly Turn[], positionMs: number): number {
  let lo = 0;
  let hi = turns.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (turns[mid].startMs <= positionMs) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}
