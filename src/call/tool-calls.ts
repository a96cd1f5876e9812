import type { Logger } from 'pino';
import type { CallMetrics } from '../metrics/call-metrics';
import type { ToolCallContext } from '../tools/tool';
import type { ToolRegistry } from '../tools/tool-registry';
import type { CallRecords } from './call-records';

/**
 * Tool calls running, or with their output waiting for the response that asked for them; more are
 * refused (no output), so a model calling tools in a loop cannot pile up work or outputs.
 */
export const MAX_PENDING_TOOL_CALLS = 16;

/** A tool's result, for the session that asked for it. */
export type ToolResultSink = (responseId: string, callId: string, output: string) => void;

/**
 * The model's tool calls on one call. Each runs off the event handler, so audio keeps flowing;
 * every call and its result go into the call's records. A result reaches `onResult` only if the
 * session that asked for it is still the call's: a replaced session cannot be answered.
 */
export class ToolCalls {
  private running = 0;
  private refused = 0;
  private generation = 0;
  private ended = false;

  constructor(
    private readonly registry: ToolRegistry,
    private readonly context: ToolCallContext,
    private readonly records: Pick<CallRecords, 'toolCalled'>,
    private readonly log: Logger,
    private readonly metrics: CallMetrics,
    private readonly onResult: ToolResultSink,
  ) {}

  get runningCount(): number {
    return this.running;
  }

  get refusedCount(): number {
    return this.refused;
  }

  /** Runs the tool unless `waiting` outputs plus those running reach the bound; false when refused. */
  run(responseId: string, callId: string, name: string, args: string, waiting: number): boolean {
    if (this.running + waiting >= MAX_PENDING_TOOL_CALLS) {
      if (this.refused++ === 0) this.log.warn({ tool: name, callId, max: MAX_PENDING_TOOL_CALLS }, 'too many tool calls pending; refusing more');
      return false;
    }
    this.log.info({ tool: name, callId }, 'tool called');
    const generation = this.generation;
    this.running++;
    void this.registry.run(name, args, this.context).then((outcome) => {
      this.running--;
      this.records.toolCalled({
        name,
        callId,
        arguments: parseOrRaw(args),
        ok: outcome.ok,
        error: outcome.error,
        output: JSON.parse(outcome.output) as unknown,
        durationMs: outcome.durationMs,
      });
      this.log.info({ tool: name, callId, ok: outcome.ok, error: outcome.error, durationMs: outcome.durationMs }, 'tool finished');
      // The model may name any tool: only registered names (bounded) become labels.
      if (outcome.error) this.metrics.toolFailure(outcome.error === 'unknown_tool' ? 'unknown' : name, outcome.error);
      if (this.ended) return;
      if (generation !== this.generation) {
        this.log.info({ tool: name, callId }, 'tool output dropped: the session that asked for it is gone');
        return;
      }
      this.onResult(responseId, callId, outcome.output);
    });
    return true;
  }

  /** The Realtime session was replaced: results of tools it asked for are dropped. */
  sessionReplaced(): void {
    this.generation++;
  }

  /** Tools still running finish into the records, but their results go nowhere. */
  callEnded(): void {
    this.ended = true;
  }
}

function parseOrRaw(args: string): unknown {
  try {
    return JSON.parse(args) as unknown;
  } catch {
    return args;
  }
}
