import pino from 'pino';
import { ManualClock } from '../common/clock';
import { ManualScheduler } from '../common/scheduler';
import { CallMetrics } from '../metrics/call-metrics';
import type { ToolCallContext } from '../tools/tool';
import { ToolRegistry } from '../tools/tool-registry';
import { LogCapture } from '../../test/support/log-capture';
import { metricValue } from '../../test/support/metric-value';
import { testToolContext } from '../../test/support/tool-context';
import { deferred, type Deferred } from '../../test/support/wait';
import type { CallRecords } from './call-records';
import { MAX_PENDING_TOOL_CALLS, ToolCalls } from './tool-calls';

const CALL_SID = 'CA' + 'a'.repeat(32);
const REFUSING = 'too many tool calls pending; refusing more';
const DROPPED = 'tool output dropped: the session that asked for it is gone';

/** Lets every promise chain that can settle now settle. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('ToolCalls', () => {
  let clock: ManualClock;
  let scheduler: ManualScheduler;
  let logs: LogCapture;
  /** What the call log was told of each tool call. */
  let recorded: Array<Readonly<Record<string, unknown>>>;
  /** What reached the Realtime session. */
  let results: Array<{ responseId: string; callId: string; output: unknown }>;
  /** Answers of the `wait` tool still outstanding, oldest first. */
  let waiting: Array<Deferred<unknown>>;
  let calls: ToolCalls;
  let context: ToolCallContext;
  let seenBy: string[];
  let metrics: CallMetrics;

  beforeEach(() => {
    clock = new ManualClock();
    scheduler = new ManualScheduler(clock);
    logs = new LogCapture();
    recorded = [];
    results = [];
    waiting = [];
    seenBy = [];
    const registry = new ToolRegistry(clock, scheduler);
    registry.register({
      name: 'check_availability',
      description: 'says when a plumber can come, after a lookup of 250 ms',
      parameters: { type: 'object', properties: { day: { type: 'string' } }, required: ['day'] },
      handler: (args, ctx) => {
        seenBy.push(`${ctx.callSid} from ${ctx.from} for ${ctx.profile.companyName}`);
        return new Promise((resolve) => scheduler.after(250, () => resolve({ day: args.day, slots: ['9:00', '14:00'] })));
      },
    });
    registry.register({
      name: 'wait',
      description: 'answers when the test says',
      parameters: { type: 'object' },
      handler: () => {
        const answer = deferred<unknown>();
        waiting.push(answer);
        return answer.promise;
      },
    });
    registry.register({
      name: 'broken',
      description: 'always fails',
      parameters: { type: 'object' },
      handler: () => Promise.reject(new Error('CRM unreachable')),
    });
    context = testToolContext({ callSid: CALL_SID });
    // ToolCalls only ever tells the records of a finished tool call.
    const records = { toolCalled: (entry: Readonly<Record<string, unknown>>) => void recorded.push(entry) } satisfies Pick<CallRecords, 'toolCalled'>;
    metrics = new CallMetrics();
    calls = new ToolCalls(registry, context, records, pino({ level: 'info' }, logs), metrics, (responseId, callId, output) =>
      results.push({ responseId, callId, output: JSON.parse(output) }),
    );
  });

  it("runs the tool with the call's context and gives its result to the session that asked", async () => {
    expect(calls.run('resp-1', 'call-1', 'check_availability', '{"day":"Tuesday"}', 0)).toBe(true);
    expect(calls.runningCount).toBe(1);
    scheduler.advance(250);
    await settle();

    expect(seenBy).toEqual([`${CALL_SID} from +15551230000 for Acme Plumbing`]);
    expect(results).toEqual([{ responseId: 'resp-1', callId: 'call-1', output: { day: 'Tuesday', slots: ['9:00', '14:00'] } }]);
    expect(calls.runningCount).toBe(0);
  });

  it('records each call with its arguments, result and how long it took', async () => {
    calls.run('resp-1', 'call-1', 'check_availability', '{"day":"Tuesday"}', 0);
    scheduler.advance(250);
    await settle();

    expect(recorded).toEqual([
      { name: 'check_availability', callId: 'call-1', arguments: { day: 'Tuesday' }, ok: true, error: undefined, output: { day: 'Tuesday', slots: ['9:00', '14:00'] }, durationMs: 250 },
    ]);
    expect(logs.find('tool called', { tool: 'check_availability', callId: 'call-1' })).toBeDefined();
    expect(logs.find('tool finished', { tool: 'check_availability', callId: 'call-1', ok: true, durationMs: 250 })).toBeDefined();
  });

  it('records a failed tool call and still gives the session the error to answer with', async () => {
    calls.run('resp-1', 'call-1', 'broken', '{}', 0);
    await settle();

    expect(recorded).toEqual([
      { name: 'broken', callId: 'call-1', arguments: {}, ok: false, error: 'failed', output: { error: 'CRM unreachable' }, durationMs: 0 },
    ]);
    expect(results).toEqual([{ responseId: 'resp-1', callId: 'call-1', output: { error: 'CRM unreachable' } }]);
  });

  it('counts failures by tool and error, with a name no tool has as "unknown"', async () => {
    const failures = (labels: Record<string, string>) => metricValue(metrics.registry, 'call_operator_tool_failures_total', labels);
    calls.run('resp-1', 'call-1', 'broken', '{}', 0);
    calls.run('resp-1', 'call-2', 'check_availability', '{}', 0);
    calls.run('resp-1', 'call-3', 'made_up_by_the_model_+15551230000', '{}', 0);
    calls.run('resp-1', 'call-4', 'check_availability', '{"day":"Monday"}', 0);
    scheduler.advance(250);
    await settle();

    expect(await failures({ tool: 'broken', error: 'failed' })).toBe(1);
    expect(await failures({ tool: 'check_availability', error: 'invalid_arguments' })).toBe(1);
    expect(await failures({ tool: 'unknown', error: 'unknown_tool' })).toBe(1);
    const text = await metrics.registry.metrics();
    expect(text).not.toContain('made_up');
    expect(text.match(/^call_operator_tool_failures_total\{/gm)).toHaveLength(3);
  });

  it('records arguments that are not JSON as they came', async () => {
    calls.run('resp-1', 'call-1', 'check_availability', '{"day": Tuesday', 0);
    await settle();

    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({ arguments: '{"day": Tuesday', ok: false, error: 'invalid_arguments' });
    expect(seenBy).toEqual([]);
  });

  describe('the bound on pending tool calls', () => {
    it('refuses a call once those running and the outputs waiting reach the bound', () => {
      // 15 outputs waiting: room for one more running.
      expect(calls.run('resp-1', 'call-a', 'wait', '{}', MAX_PENDING_TOOL_CALLS - 1)).toBe(true);
      expect(calls.run('resp-1', 'call-b', 'wait', '{}', MAX_PENDING_TOOL_CALLS - 1)).toBe(false);
      // One output fewer waiting: room for one more again.
      expect(calls.run('resp-1', 'call-c', 'wait', '{}', MAX_PENDING_TOOL_CALLS - 2)).toBe(true);
      expect(calls.run('resp-1', 'call-d', 'wait', '{}', MAX_PENDING_TOOL_CALLS - 2)).toBe(false);
      expect(calls.runningCount).toBe(2);
      expect(calls.refusedCount).toBe(2);
      expect(waiting).toHaveLength(2);
    });

    it('refuses the call after 16 running, runs none of the refused, and logs the refusal once', () => {
      for (let i = 0; i < MAX_PENDING_TOOL_CALLS; i++) expect(calls.run('resp-1', `call-${i}`, 'wait', '{}', 0)).toBe(true);
      expect(calls.run('resp-1', 'call-16', 'wait', '{}', 0)).toBe(false);
      expect(calls.run('resp-1', 'call-17', 'wait', '{}', 0)).toBe(false);

      expect(MAX_PENDING_TOOL_CALLS).toBe(16);
      expect(waiting).toHaveLength(16);
      expect(calls.refusedCount).toBe(2);
      expect(logs.all(REFUSING)).toHaveLength(1);
      expect(logs.all(REFUSING)[0]).toMatchObject({ tool: 'wait', callId: 'call-16', max: 16 });
    });

    it('takes calls again once running ones have finished', async () => {
      for (let i = 0; i < MAX_PENDING_TOOL_CALLS; i++) calls.run('resp-1', `call-${i}`, 'wait', '{}', 0);
      expect(calls.run('resp-1', 'call-16', 'wait', '{}', 0)).toBe(false);
      waiting[0].resolve({ ok: true });
      await settle();

      expect(calls.runningCount).toBe(MAX_PENDING_TOOL_CALLS - 1);
      expect(calls.run('resp-1', 'call-17', 'wait', '{}', 0)).toBe(true);
    });
  });

  describe('when the session or the call is gone', () => {
    it('drops the results of tools a replaced session asked for, and says so', async () => {
      calls.run('resp-1', 'call-old', 'wait', '{}', 0);
      calls.sessionReplaced();
      calls.run('resp-2', 'call-new', 'wait', '{}', 0);
      waiting[0].resolve({ found: 'old' });
      waiting[1].resolve({ found: 'new' });
      await settle();

      expect(results).toEqual([{ responseId: 'resp-2', callId: 'call-new', output: { found: 'new' } }]);
      expect(logs.all(DROPPED)).toEqual([expect.objectContaining({ tool: 'wait', callId: 'call-old' })]);
      expect(recorded.map((r) => [r.callId, r.output])).toEqual([
        ['call-old', { found: 'old' }],
        ['call-new', { found: 'new' }],
      ]);
    });

    it('drops results across more than one replacement', async () => {
      calls.run('resp-1', 'call-1', 'wait', '{}', 0);
      calls.sessionReplaced();
      calls.sessionReplaced();
      waiting[0].resolve({});
      await settle();
      expect(results).toEqual([]);
    });

    it('gives the results of tools still running at the end of the call to nobody, but records them', async () => {
      calls.run('resp-1', 'call-1', 'wait', '{}', 0);
      calls.callEnded();
      waiting[0].resolve({ saved: true });
      await settle();

      expect(results).toEqual([]);
      expect(recorded).toEqual([expect.objectContaining({ name: 'wait', callId: 'call-1', ok: true, output: { saved: true } })]);
      expect(calls.runningCount).toBe(0);
    });
  });
});
