import { Injectable } from '@nestjs/common';

/** Time as the service sees it: a port so that decisions can be tested without waiting. */
export abstract class Clock {
  /** Monotonic milliseconds, for measuring intervals. */
  abstract now(): number;
  /** Wall-clock epoch milliseconds, for timestamps people read. */
  abstract epochMs(): number;
}

@Injectable()
export class SystemClock extends Clock {
  now(): number {
    return performance.now();
  }
  epochMs(): number {
    return Date.now();
  }
}

/** A clock the test moves by hand. */
export class ManualClock extends Clock {
  constructor(
    private t = 0,
    private readonly epochBase = Date.UTC(2026, 0, 1),
  ) {
    super();
  }
  now(): number {
    return this.t;
  }
  epochMs(): number {
    return this.epochBase + this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
  set(ms: number): void {
    this.t = ms;
  }
}
