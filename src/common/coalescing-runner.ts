/**
 * Runs an async round one at a time. Asked for while a round runs, it runs once more right after
 * (any number of asks meanwhile make one more round), unless `stopped()` by then. A round that
 * rejects ends the run with that rejection; the rounds given here never reject.
 */
export class CoalescingRunner {
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly round: () => Promise<void>,
    private readonly stopped: () => boolean,
  ) {}

  /** The run in progress, if any. */
  get current(): Promise<void> | undefined {
    return this.running;
  }

  run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.round();
      } while (this.again && !this.stopped());
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }
}
