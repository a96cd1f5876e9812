/**
 * Caller scenarios: what the caller says turn by turn (and, for the mock model, what the model
 * answers), and what must be true once the call has ended. YAML or JSON files, checked against a
 * JSON Schema (ajv) when loaded, so that a typo is an error naming the file and field, never a
 * check silently skipped.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, extname, join, resolve } from 'node:path';
import Ajv, { type JSONSchemaType } from 'ajv';
import { parse as parseYaml } from 'yaml';
import type { MockReply } from './mock-model';

export interface ScenarioTurn {
  /** What the caller says (spoken by espeak-ng, or the text the mock model "hears"). */
  readonly say: string;
  /** A recording to play instead of speaking `say`, relative to the scenario file. */
  readonly wav?: string;
  /** Talk over the agent: start this long after it starts speaking ("1.5s"). */
  readonly bargeInAfter?: string;
  /** Silence before speaking, after the agent has finished ("2s"). */
  readonly pauseBefore?: string;
  /** The mock model's answer to this turn (ignored with a real model). */
  readonly mock?: MockReply;
}

export interface ScenarioExpect {
  /** The saved job request's fields (strings match case-insensitively as contained text); null: none saved. */
  readonly jobRequest?: Record<string, string | boolean> | null;
  /** Whether the on-call person was paged. */
  readonly paged?: boolean;
  /** Whether the call was transferred to a person. */
  readonly transferred?: boolean;
  /** The call record's endReason, or one of several. */
  readonly endReason?: string | string[];
  /** The agent's last words were a goodbye and the call ended normally. */
  readonly endedPolitely?: boolean;
  /** Whether the caller cut the agent off (an agent turn recorded as interrupted). */
  readonly interrupted?: boolean;
  /** Phrases the agent must have said (case-insensitive, anywhere in its turns). */
  readonly agentSaid?: string[];
  /** Bound on the time from the stream's start to the agent's first audio ("3s"). */
  readonly maxFirstAudio?: string;
  /** Bound on every turn's time from the end of the caller's speech to the agent's first audio. */
  readonly maxResponseLatency?: string;
}

export interface Scenario {
  readonly name: string;
  readonly description?: string;
  /** The caller's number (caller ID). */
  readonly from?: string;
  /** The espeak-ng voice the caller speaks with ("es" for Spanish); default en-us. */
  readonly language?: string;
  readonly caller: readonly ScenarioTurn[];
  /** Who ends the call: the caller once the agent is quiet after the last turn (default), or the agent. */
  readonly hangUp?: 'caller' | 'agent';
  /** The longest the call may last ("60s", the default). */
  readonly timeout?: string;
  readonly expect: ScenarioExpect;
}

/** A scenario as loaded: where it came from. */
export interface LoadedScenario extends Scenario {
  readonly file: string;
}

const DURATION = '^\\d+(\\.\\d+)?(ms|s)?$';
const duration = { type: 'string', pattern: DURATION } as const;

const mockReplySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    say: { type: 'string', minLength: 1, nullable: true },
    tools: {
      type: 'array',
      nullable: true,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: { name: { type: 'string', minLength: 1 }, arguments: { type: 'object', nullable: true, required: [] } },
      },
    },
    then: { type: 'string', minLength: 1, nullable: true },
  },
} as const;

const schema: JSONSchemaType<Scenario> = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'caller', 'expect'],
  properties: {
    name: { type: 'string', minLength: 1 },
    description: { type: 'string', nullable: true },
    from: { type: 'string', pattern: '^\\+[1-9]\\d{6,14}$', nullable: true },
    language: { type: 'string', pattern: '^[a-z]{2,3}(-[a-z0-9]{2,8})*$', nullable: true },
    caller: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['say'],
        properties: {
          say: { type: 'string', minLength: 1 },
          wav: { type: 'string', minLength: 1, nullable: true },
          bargeInAfter: { ...duration, nullable: true },
          pauseBefore: { ...duration, nullable: true },
          mock: { ...mockReplySchema, nullable: true },
        },
      },
    },
    hangUp: { type: 'string', enum: ['caller', 'agent'], nullable: true },
    timeout: { ...duration, nullable: true },
    expect: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      properties: {
        jobRequest: {
          type: 'object',
          nullable: true,
          required: [],
          additionalProperties: { type: ['string', 'boolean'] },
        },
        paged: { type: 'boolean', nullable: true },
        transferred: { type: 'boolean', nullable: true },
        endReason: { type: ['string', 'array'], items: { type: 'string' }, nullable: true },
        endedPolitely: { type: 'boolean', nullable: true },
        interrupted: { type: 'boolean', nullable: true },
        agentSaid: { type: 'array', items: { type: 'string', minLength: 1 }, nullable: true },
        maxFirstAudio: { ...duration, nullable: true },
        maxResponseLatency: { ...duration, nullable: true },
      },
    },
  },
} as unknown as JSONSchemaType<Scenario>;

const validate = new Ajv({ allErrors: true, allowUnionTypes: true }).compile(schema);

/** A scenario file that is not a valid scenario; the message names the file and every problem. */
export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';
}

/** Parses and validates one scenario's text. */
export function parseScenario(text: string, file: string): LoadedScenario {
  let data: unknown;
  try {
    data = extname(file) === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ScenarioError(`${file}: not valid ${extname(file) === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
  }
  if (!validate(data)) {
    const problems = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`);
    throw new ScenarioError(`${file}: not a valid scenario:\n  ${problems.join('\n  ')}`);
  }
  return { ...data, file };
}

const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** The scenarios of the given files and folders (each folder's YAML and JSON files, by name). */
export async function loadScenarios(paths: readonly string[]): Promise<LoadedScenario[]> {
  const files: string[] = [];
  for (const path of paths) {
    let info;
    try {
      info = await stat(path);
    } catch {
      throw new ScenarioError(`${path}: no such file or folder`);
    }
    if (info.isDirectory()) {
      const names = (await readdir(path)).filter((n) => EXTENSIONS.has(extname(n))).sort();
      files.push(...names.map((n) => join(path, n)));
    } else {
      files.push(path);
    }
  }
  if (files.length === 0) throw new ScenarioError(`no scenario files (.yaml, .yml, .json) in ${paths.join(', ')}`);
  return Promise.all(files.map(async (file) => parseScenario(await readFile(file, 'utf8'), file)));
}

/** A turn's recording, resolved against its scenario's folder. */
export function turnWavPath(scenario: LoadedScenario, turn: ScenarioTurn): string | undefined {
  return turn.wav ? resolve(dirname(scenario.file), turn.wav) : undefined;
}
