import { deferred } from '../../test/support/wait';
import { testToolContext } from '../../test/support/tool-context';
import { ManualClock } from '../common/clock';
import { ManualScheduler } from '../common/scheduler';
import { ToolRegistry } from './tool-registry';

const ctx = testToolContext();

describe('ToolRegistry timing', () => {
  let clock: ManualClock;
  let scheduler: ManualScheduler;
  let registry: ToolRegistry;
  let answer: ReturnType<typeof deferred<unknown>>;

  beforeEach(() => {
    clock = new ManualClock();
    scheduler = new ManualScheduler(clock);
    registry = new ToolRegistry(clock, scheduler, 1_000);
    answer = deferred<unknown>();
    registry.register({ name: 'lookup', description: 'answers when the test says', parameters: { type: 'object' }, handler: () => answer.promise });
  });

  it('gives the answer that comes just inside the timeout, timed by the clock, and cancels the timer', async () => {
    const outcome = registry.run('lookup', '{}', ctx);
    scheduler.advance(999);
    answer.resolve({ found: true });
    expect(await outcome).toEqual({ ok: true, output: '{"found":true}', durationMs: 999 });
    expect(scheduler.pending).toBe(0);
  });

  it('gives a timeout outcome once the default timeout has passed', async () => {
    const outcome = registry.run('lookup', '{}', ctx);
    scheduler.advance(1_000);
    expect(await outcome).toMatchObject({ ok: false, error: 'timeout', durationMs: 1_000 });
  });

  it("applies a tool's own timeout over the default", async () => {
    registry.register({ name: 'slow', description: 'has longer', parameters: { type: 'object' }, timeoutMs: 3_000, handler: () => answer.promise });
    const outcome = registry.run('slow', '{}', ctx);
    scheduler.advance(2_999);
    expect(scheduler.pending).toBe(1);
    scheduler.advance(1);
    expect(await outcome).toMatchObject({ ok: false, error: 'timeout', durationMs: 3_000 });
    expect(JSON.parse((await outcome).output)).toEqual({ error: 'The tool did not answer within 3000 ms. Tell the caller and carry on.' });
  });
});
