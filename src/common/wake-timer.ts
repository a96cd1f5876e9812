import type { Clock } from './clock';
import type { ScheduledTask, Scheduler } from './scheduler';

/**
 * One timer for "wake me at the earliest of these times" (epoch ms on the app's Clock): arming it
 * for a later time than it is set for changes nothing, for an earlier time moves it. A timer the
 * clock has passed without firing (the clock jumped forward, as a test's may) fires at once when
 * armed again.
 */
export class WakeTimer {
  private task: ScheduledTask | undefined;
  private at = Infinity;

  constructor(
    private readonly clock: Clock,
    private readonly scheduler: Scheduler,
    private readonly wake: () => void,
  ) {}

  /** Epoch ms it is set for; Infinity when not set. */
  get armedFor(): number {
    return this.at;
  }

  arm(at: number): void {
    const now = this.clock.epochMs();
    if (this.task && this.at <= at) {
      if (this.at > now) return;
      at = now;
    }
    this.task?.cancel();
    this.at = at;
    this.task = this.scheduler.after(Math.max(0, at - now), () => {
      this.task = undefined;
      this.at = Infinity;
      this.wake();
    });
  }

  clear(): void {
    this.task?.cancel();
    this.task = undefined;
    this.at = Infinity;
  }
}
