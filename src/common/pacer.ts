import { Clock } from './clock';
import { Scheduler, type ScheduledTask } from './scheduler';

/**
 * Spaces actions at most `perSecond` a second, in the order they asked: slot() resolves at once
 * when the last slot was handed out at least 1000/perSecond ms ago, else when that much time has
 * passed since it. No bursts: the interval holds between every two slots, as Twilio's calls-per-second
 * limit counts them. Time comes from the injected Clock and Scheduler only.
 */
export class Pacer {
  private readonly intervalMs: number;
  /** Clock time of the last slot handed out (or reserved for a waiter); -Infinity before the first. */
  private lastSlotAt = Number.NEGATIVE_INFINITY;
  private readonly timers = new Set<ScheduledTask>();

  constructor(
    perSecond: number,
    private readonly clock: Clock,
    private readonly scheduler: Scheduler,
  ) {
    if (!(perSecond > 0) || !Number.isFinite(perSecond)) throw new RangeError(`a pacer needs a rate above 0 per second, not ${perSecond}`);
    this.intervalMs = 1000 / perSecond;
  }

  /** Resolves when the caller may act; callers are served in the order they called. */
  slot(): Promise<void> {
    const now = this.clock.now();
    // Each caller reserves the next free slot at once, so the order is the order of the calls.
    const at = Math.max(now, this.lastSlotAt + this.intervalMs);
    this.lastSlotAt = at;
    if (at <= now) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const task = this.scheduler.after(at - now, () => {
        this.timers.delete(task);
        resolve();
      });
      this.timers.add(task);
    });
  }

  /** Slots reserved and not yet reached. */
  get waiting(): number {
    return this.timers.size;
  }

  /** Cancels the waiting timers (at shutdown); their slot() promises then never resolve. */
  stop(): void {
    for (const task of this.timers) task.cancel();
    this.timers.clear();
  }
}
