import { deferred, type Deferred } from '../../test/support/wait';
import { CoalescingRunner } from './coalescing-runner';

describe('CoalescingRunner', () => {
  let rounds: Array<Deferred<void>>;
  let stopped: boolean;
  let runner: CoalescingRunner;
  /** Resolved when the next round starts. */
  let roundStarted: Deferred<void>;

  beforeEach(() => {
    rounds = [];
    stopped = false;
    roundStarted = deferred();
    runner = new CoalescingRunner(
      () => {
        const d = deferred();
        rounds.push(d);
        const started = roundStarted;
        roundStarted = deferred();
        started.resolve();
        return d.promise;
      },
      () => stopped,
    );
  });

  it('runs one round at a time, and asks made meanwhile make one more round right after', async () => {
    const first = runner.run();
    expect(rounds).toHaveLength(1);
    expect(runner.run()).toBe(first);
    expect(runner.run()).toBe(first);
    expect(rounds).toHaveLength(1);
    const secondStarted = roundStarted.promise;
    rounds[0].resolve();
    // The second round starts once the first has ended.
    await secondStarted;
    expect(runner.current).toBe(first);
    rounds[1].resolve();
    await first;
    expect(rounds).toHaveLength(2);
    expect(runner.current).toBeUndefined();
  });

  it('runs no further round once stopped', async () => {
    const run = runner.run();
    void runner.run();
    stopped = true;
    rounds[0].resolve();
    await run;
    expect(rounds).toHaveLength(1);
  });

  it('starts afresh after a run has ended', async () => {
    const first = runner.run();
    rounds[0].resolve();
    await first;
    const second = runner.run();
    expect(second).not.toBe(first);
    expect(rounds).toHaveLength(2);
    rounds[1].resolve();
    await second;
  });
});
