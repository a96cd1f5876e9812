/**
 * Checks a Call resource as the fake Twilio REST server answers it (GET
 * /2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json, FetchCall) against Twilio's own OpenAPI
 * definition of it, vendored in fetch-call.json (see README.md).
 */
import Ajv from 'ajv';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

interface VendoredFetchCall {
  readonly source: { readonly repository: string; readonly file: string; readonly commit: string };
  readonly path: string;
  readonly method: string;
  readonly operationId: string;
  readonly pathParameters: ReadonlyArray<{ readonly name: string; readonly schema: { readonly pattern: string } }>;
  readonly responseStatus: string[];
  readonly responseSchema: { readonly type: 'object'; readonly properties: Record<string, Record<string, unknown>> };
  readonly callStatus: { readonly type: 'string'; readonly enum: string[] };
}

export const FETCH_CALL: VendoredFetchCall = JSON.parse(readFileSync(join(__dirname, 'fetch-call.json'), 'utf8')) as VendoredFetchCall;

/**
 * The response schema with call_enum_status in place of its $ref, closed: every property present
 * (Twilio sends each, null when empty) and none it does not define, so that the fake's resource
 * is neither missing a field nor inventing one.
 */
function strictSchema(): object {
  const properties = Object.fromEntries(
    Object.entries(FETCH_CALL.responseSchema.properties).map(([name, schema]) => [name, name === 'status' ? FETCH_CALL.callStatus : schema]),
  );
  return { type: 'object', properties, required: Object.keys(properties), additionalProperties: false };
}

// strictTypes off: Twilio gives the object subresource_uris a format (uri-map), which JSON Schema has for strings only.
const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false });
// Twilio's own annotations (PII handling); nothing to check.
ajv.addKeyword('x-twilio');
// What twilio-node's deserializer parses ("ddd, DD MMM YYYY HH:mm:ss [+0000]"); anything else it hands back as a string.
ajv.addFormat('date-time-rfc-2822', /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
ajv.addFormat('currency', /^[A-Z]{3}$/);
ajv.addFormat('uri-map', true);
const validate = ajv.compile(strictSchema());

/** What is wrong with a Call resource by Twilio's definition of FetchCall's answer; empty when nothing. */
export function callResourceProblems(body: unknown): string[] {
  if (validate(body)) return [];
  return (validate.errors ?? []).map((e) => {
    const where = e.instancePath ? e.instancePath.slice(1) : 'the resource';
    if (e.keyword === 'additionalProperties') return `${String(e.params.additionalProperty)} is not a property of a Call`;
    if (e.keyword === 'enum') return `${where} must be one of ${(e.params.allowedValues as string[]).join(', ')}`;
    return `${where} ${e.message ?? 'is invalid'}`;
  });
}
