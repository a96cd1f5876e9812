import type { CallProfile } from '../profile/call-profile';

/** What a tool can do to the live call besides returning a result to the model. */
export interface LiveCallControl {
  /** Resolves once the agent's audio sent so far has played to the caller (its last mark echoed). */
  agentFinishedSpeaking(): Promise<void>;
  /** The call is leaving the agent on purpose (hung up, transferred); null takes that back. */
  markOutcome(outcome: 'hangup' | 'transferred' | null): void;
  /**
   * Asks the agent to speak to an instruction at the next right moment (as an operator's message
   * is); false when it cannot take one now (saying goodbye, leaving, messages waiting).
   */
  instruct(text: string): boolean;
  /** The caller is on hold (waiting for a warm transfer): their silence is expected, the agent does not prompt them. */
  hold(on: boolean): void;
  /** Resolves once the call has ended (caller hung up, transferred, failed). */
  whenEnded(): Promise<void>;
}

export interface ToolCallContext {
  readonly callSid: string;
  readonly streamSid: string;
  readonly from: string;
  readonly to: string;
  /** The business the call is answered for. */
  readonly profile: CallProfile;
  readonly call: LiveCallControl;
  /** Attaches a fact to the call record's details (e.g. the job request). */
  setDetail(key: string, value: unknown): void;
  getDetail(key: string): unknown;
}

/** A JSON Schema for a tool's arguments (an object schema). */
export type JsonSchema = Record<string, unknown>;

export interface ToolDefinition {
  readonly name: string;
  readonly description: string;
  readonly parameters: JsonSchema;
  /** Default 10 s. */
  readonly timeoutMs?: number;
  /** Whether calls answered for `profile` are offered this tool; unset, every call is. */
  offeredTo?(profile: CallProfile): boolean;
  /** Arguments are already validated against `parameters`. The result is sent to the model as JSON. */
  handler(args: Record<string, unknown>, ctx: ToolCallContext): Promise<unknown>;
}

/** A source of tools that may come and go (built-ins, MCP servers). */
export interface ToolProvider {
  tools(): readonly ToolDefinition[];
}
