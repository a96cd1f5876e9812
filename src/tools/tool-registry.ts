import Ajv, { type ValidateFunction } from 'ajv';
import type { Clock } from '../common/clock';
import { raceTimeout, TIMED_OUT } from '../common/race-timeout';
import type { Scheduler } from '../common/scheduler';
import type { CallProfile } from '../profile/call-profile';
import type { ToolCallContext, ToolDefinition, ToolProvider } from './tool';

export const DEFAULT_TOOL_TIMEOUT_MS = 10_000;
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/** What the model gets back, and what the call log keeps. */
export interface ToolOutcome {
  readonly ok: boolean;
  /** JSON text for the function_call_output. */
  readonly output: string;
  readonly error?: 'unknown_tool' | 'invalid_arguments' | 'timeout' | 'failed';
  readonly durationMs: number;
}

/** The session.update / response tool entry. */
export interface RealtimeTool {
  readonly type: 'function';
  readonly name: string;
  readonly description: string;
  readonly parameters: Record<string, unknown>;
}


/**
 * Every tool the model may call during a call: built-ins and those of MCP servers. Validates the
 * model's arguments against each tool's JSON schema, enforces the timeout, and never throws:
 * failures become an error output the model can apologise for or retry.
 */
export class ToolRegistry {
  constructor(
    private readonly clock: Clock,
    private readonly scheduler: Scheduler,
    private readonly defaultTimeoutMs = DEFAULT_TOOL_TIMEOUT_MS,
  ) {}

  private readonly ajv = new Ajv({ allErrors: true, strict: false, coerceTypes: false });
  private readonly tools = new Map<string, ToolDefinition>();
  private readonly providers: ToolProvider[] = [];
  private readonly validators = new WeakMap<ToolDefinition, ValidateFunction>();

  /** Registers a tool; a later registration under the same name replaces the earlier one. */
  register(tool: ToolDefinition): void {
    this.check(tool);
    this.tools.set(tool.name, tool);
  }

  /** A source whose tools are read afresh at each call start (MCP tools come and go with their server). */
  addProvider(provider: ToolProvider): void {
    this.providers.push(provider);
  }

  /** The tools to offer the model now, on a call answered for `profile`. */
  available(profile: CallProfile): RealtimeTool[] {
    return [...this.all().values()].filter((tool) => tool.offeredTo?.(profile) ?? true).map((tool) => ({
      type: 'function',
      name: tool.name,
      description: tool.description,
      parameters: tool.parameters,
    }));
  }

  async run(name: string, argumentsJson: string, ctx: ToolCallContext): Promise<ToolOutcome> {
    const started = this.clock.now();
    const done = (ok: boolean, body: unknown, error?: ToolOutcome['error']): ToolOutcome => ({
      ok,
      output: safeJson(body),
      ...(error ? { error } : {}),
      durationMs: Math.round(this.clock.now() - started),
    });
    const tool = this.all().get(name);
    if (!tool || !(tool.offeredTo?.(ctx.profile) ?? true)) return done(false, { error: `There is no tool named ${name}.` }, 'unknown_tool');
    const validate = this.check(tool);
    let args: unknown;
    try {
      args = argumentsJson.trim() === '' ? {} : JSON.parse(argumentsJson);
    } catch {
      return done(false, { error: 'The arguments were not valid JSON. Please call the tool again.' }, 'invalid_arguments');
    }
    if (!validate(args)) {
      const problems = (validate.errors ?? []).map((e) => `${e.instancePath || '(arguments)'} ${e.message ?? 'is invalid'}`);
      return done(false, { error: 'Invalid arguments.', problems }, 'invalid_arguments');
    }
    const timeoutMs = tool.timeoutMs ?? this.defaultTimeoutMs;
    try {
      const result = await raceTimeout(tool.handler(args as Record<string, unknown>, ctx), timeoutMs, this.scheduler);
      if (result === TIMED_OUT) {
        return done(false, { error: `The tool did not answer within ${timeoutMs} ms. Tell the caller and carry on.` }, 'timeout');
      }
      return done(true, result ?? { ok: true });
    } catch (err) {
      return done(false, { error: err instanceof Error ? err.message.slice(0, 300) : 'The tool failed.' }, 'failed');
    }
  }

  /** Built-ins win over a provider's tool of the same name. */
  private all(): Map<string, ToolDefinition> {
    const all = new Map<string, ToolDefinition>();
    for (const provider of this.providers) {
      for (const tool of provider.tools()) if (TOOL_NAME.test(tool.name)) all.set(tool.name, tool);
    }
    for (const [name, tool] of this.tools) all.set(name, tool);
    return all;
  }

  /** Validates the definition once and returns its compiled argument validator. */
  private check(tool: ToolDefinition): ValidateFunction {
    let validate = this.validators.get(tool);
    if (!validate) {
      if (!TOOL_NAME.test(tool.name)) throw new Error(`tool name "${tool.name}" is not allowed`);
      validate = this.ajv.compile(tool.parameters);
      this.validators.set(tool, validate);
    }
    return validate;
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? '{}';
  } catch {
    return JSON.stringify({ error: 'The tool result could not be serialised.' });
  }
}
