/**
 * Checks a Calls create request (the form body of POST /2010-04-01/Accounts/{AccountSid}/Calls.json)
 * against Twilio's own OpenAPI definition of it, vendored in create-call.json (see README.md).
 */
import Ajv, { type ErrorObject } from 'ajv';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

interface PropertySchema {
  type: 'string' | 'integer' | 'boolean' | 'array';
  format?: string;
  enum?: string[];
  items?: PropertySchema;
  description?: string;
  [keyword: string]: unknown;
}

interface VendoredCreateCall {
  readonly source: { readonly repository: string; readonly file: string; readonly commit: string };
  readonly path: string;
  readonly operationId: string;
  readonly requestSchema: { readonly properties: Record<string, PropertySchema>; readonly required: string[] };
  readonly callStatus: { readonly enum: string[] };
  readonly responseStatus: string[];
}

export const CREATE_CALL: VendoredCreateCall = JSON.parse(readFileSync(join(__dirname, 'create-call.json'), 'utf8')) as VendoredCreateCall;

/**
 * The values a description lists as "Can be: `a`, `b` and `c`" (or "… or `c`"), for parameters the
 * definition gives no enum; undefined when it lists none.
 */
export function valuesFromDescription(description: string | undefined): string[] | undefined {
  const match = /Can be:? ((?:`[^`]+`(?:,? and |,? or |, )?)+)/.exec(description ?? '');
  return match ? [...match[1].matchAll(/`([^`]+)`/g)].map((m) => m[1]) : undefined;
}

/** The vendored schema, closed (no parameter it does not define), with the description-only enums applied. */
function strictSchema(): object {
  const properties: Record<string, PropertySchema> = {};
  for (const [name, property] of Object.entries(CREATE_CALL.requestSchema.properties)) {
    const copy: PropertySchema = { ...property, items: property.items && { ...property.items } };
    const target = copy.type === 'array' ? copy.items! : copy;
    if (target.type === 'string' && !target.enum) {
      const values = valuesFromDescription(property.description);
      if (values) target.enum = values;
    }
    properties[name] = copy;
  }
  return {
    type: 'object',
    properties,
    required: CREATE_CALL.requestSchema.required,
    additionalProperties: false,
    // The schema's required list has To and From only; the descriptions require TwiML from one of these.
    anyOf: [{ required: ['Url'] }, { required: ['Twiml'] }, { required: ['ApplicationSid'] }],
  };
}

const absoluteHttpUrl = (value: string): boolean => {
  try {
    const url = new URL(value);
    // "URLs must contain a valid hostname (underscores are not permitted)."
    return (url.protocol === 'https:' || url.protocol === 'http:') && !url.hostname.includes('_');
  } catch {
    return false;
  }
};

const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
ajv.addFormat('uri', absoluteHttpUrl);
ajv.addFormat('endpoint', (value: string) => value.trim().length > 0);
ajv.addFormat('http-method', true);
ajv.addFormat('twiml', true);
const validate = ajv.compile(strictSchema());

/** Form values typed as the definition declares them (form bodies carry only strings). */
function typedForm(pairs: ReadonlyArray<readonly [string, string]>): { value: Record<string, unknown>; problems: string[] } {
  const properties = CREATE_CALL.requestSchema.properties;
  const value: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, raw] of pairs) {
    const type = properties[name]?.type;
    if (type === 'array') {
      ((value[name] ??= []) as string[]).push(raw);
      continue;
    }
    if (name in value) problems.push(`${name} is given more than once`);
    value[name] = type === 'integer' && /^-?\d+$/.test(raw) ? Number(raw) : type === 'boolean' && (raw === 'true' || raw === 'false') ? raw === 'true' : raw;
  }
  return { value, problems };
}

function describe(error: ErrorObject): string {
  // /StatusCallbackEvent/1 -> StatusCallbackEvent[1]
  const where = error.instancePath ? error.instancePath.slice(1).replace(/\/(\d+)/g, '[$1]') : 'the request';
  if (error.keyword === 'additionalProperties') return `${String(error.params.additionalProperty)} is not a parameter of ${CREATE_CALL.operationId}`;
  if (error.keyword === 'enum') return `${where} must be one of ${(error.params.allowedValues as string[]).join(', ')}`;
  return `${where} ${error.message ?? 'is invalid'}`;
}

/**
 * What is wrong with a Calls create form by Twilio's definition: a parameter it does not define, a
 * value of the wrong type or outside the listed values, a required one missing. Empty when none.
 */
export function createCallProblems(pairs: ReadonlyArray<readonly [string, string]>): string[] {
  const { value, problems } = typedForm(pairs);
  if (!validate(value)) {
    for (const error of validate.errors ?? []) {
      // anyOf reports each branch too; one line says it.
      if (error.schemaPath.startsWith('#/anyOf/')) continue;
      problems.push(error.keyword === 'anyOf' ? 'one of Url, Twiml or ApplicationSid is required' : describe(error));
    }
  }
  return problems;
}
