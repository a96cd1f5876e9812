import { plainToInstance, Transform, Type } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsTimeZone,
  IsUrl,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateIf,
  validateSync,
  type ValidationError,
} from 'class-validator';

const toBoolean = ({ value }: { value: unknown }): unknown => {
  if (typeof value !== 'string') return value;
  const v = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off', ''].includes(v)) return false;
  return value; // left as a string so @IsBoolean reports it
};

/** Empty strings in an env file mean "not set". */
const emptyToUndefined = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;

const E164 = /^\+[1-9]\d{6,14}$/;
const HH_MM = /^([01]\d|2[0-3]):[0-5]\d$/;

/**
 * Every environment variable the service reads. Validated once at boot; a bad value
 * stops boot with a message naming the variable.
 */
export class EnvironmentVariables {
  @IsOptional() @IsIn(['development', 'production', 'test'])
  NODE_ENV: 'development' | 'production' | 'test' = 'development';

  @Type(() => Number) @IsInt() @Min(0) @Max(65535)
  PORT = 8080;

  @IsString() @MinLength(1)
  HOST = '0.0.0.0';

  /** Set: GET /metrics is served on this port alone, not on PORT. 0: any free port (tests). */
  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(65535)
  METRICS_PORT?: number;

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' = 'info';

  @Transform(toBoolean) @IsBoolean()
  LOG_PII = false;

  @Transform(emptyToUndefined) @IsOptional() @IsString() @MinLength(8)
  OPENAI_API_KEY?: string;

  @IsUrl({ protocols: ['ws', 'wss'], require_tld: false, require_protocol: true })
  OPENAI_REALTIME_URL = 'wss://api.openai.com/v1/realtime';

  @IsString() @Matches(/^[A-Za-z0-9._:-]{1,100}$/, { message: 'OPENAI_REALTIME_MODEL must be a model name' })
  OPENAI_REALTIME_MODEL = 'gpt-realtime';

  @Transform(emptyToUndefined) @IsOptional() @IsIn(['ga', 'beta'])
  OPENAI_REALTIME_API?: 'ga' | 'beta';

  @IsString() @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'OPENAI_VOICE must be a voice name' })
  OPENAI_VOICE = 'alloy';

  @Transform(emptyToUndefined) @IsOptional() @IsString() @MaxLength(100)
  OPENAI_TRANSCRIPTION_MODEL?: string = 'gpt-4o-mini-transcribe';

  @Type(() => Number) @IsInt() @Min(500) @Max(60_000)
  OPENAI_CONNECT_TIMEOUT_MS = 10_000;

  @Type(() => Number) @IsInt() @Min(5) @Max(24 * 60)
  REALTIME_SESSION_MAX_MINUTES = 60;

  // The written summary of each call (src/summary): three sentences by a text model after the call.

  /** On (with OPENAI_API_KEY): each call with a transcript gets a summary from SUMMARY_MODEL after it ends. */
  @Transform(toBoolean) @IsBoolean()
  SUMMARY_ENABLED = true;

  /** A text model of OpenAI's Responses API, reached at the HTTP(S) base of OPENAI_REALTIME_URL. */
  @IsString() @Matches(/^[A-Za-z0-9._:-]{1,100}$/, { message: 'SUMMARY_MODEL must be a model name' })
  SUMMARY_MODEL = 'gpt-4.1-mini';

  /** How long the summary may take from the call's end; the call.ended webhook waits for it at most this long (plus 5 s). */
  @Type(() => Number) @IsInt() @Min(1000) @Max(120_000)
  SUMMARY_TIMEOUT_MS = 20_000;

  @Type(() => Number) @Min(0) @Max(1)
  VAD_THRESHOLD = 0.5;

  @Type(() => Number) @IsInt() @Min(0) @Max(2000)
  VAD_PREFIX_PADDING_MS = 300;

  @Type(() => Number) @IsInt() @Min(100) @Max(5000)
  VAD_SILENCE_DURATION_MS = 500;

  @IsString() @MinLength(1) @MaxLength(100)
  OPERATOR_COMPANY_NAME = 'Call Operator Pro Plumbing';

  @Transform(emptyToUndefined) @IsOptional() @IsString() @MaxLength(20_000)
  OPERATOR_SYSTEM_PROMPT?: string;

  @Transform(emptyToUndefined) @IsOptional() @IsString() @MaxLength(500)
  OPERATOR_GREETING?: string;

  @Transform(emptyToUndefined) @IsOptional() @IsString() @MaxLength(500)
  OPERATOR_RECONNECT_INSTRUCTION?: string;

  @Transform(emptyToUndefined) @IsOptional() @IsString() @MaxLength(500)
  OPERATOR_SILENCE_PROMPT?: string;

  @Transform(emptyToUndefined) @IsOptional() @IsString() @MaxLength(500)
  OPERATOR_SILENCE_GOODBYE?: string;

  @Type(() => Number) @IsInt() @Min(0) @Max(600)
  SILENCE_PROMPT_SECONDS = 15;

  @Type(() => Number) @Min(1) @Max(24 * 60)
  SESSION_TTL_MINUTES = 30;

  @Type(() => Number) @IsInt() @Min(1) @Max(3600)
  SESSION_SWEEP_INTERVAL_SECONDS = 60;

  @Transform(emptyToUndefined) @IsOptional()
  @IsUrl({ protocols: ['http', 'https'], require_tld: false, require_protocol: true })
  PUBLIC_BASE_URL?: string;

  @Transform(emptyToUndefined) @IsOptional()
  @Matches(E164, { message: 'FALLBACK_PHONE_NUMBER must be an E.164 number such as +15551234567' })
  FALLBACK_PHONE_NUMBER?: string;

  @Type(() => Number) @IsInt() @Min(1) @Max(100_000)
  MAX_CONCURRENT_CALLS = 200;

  @Type(() => Number) @IsInt() @Min(1024) @Max(16 * 1024 * 1024)
  WS_MAX_PAYLOAD_BYTES = 1024 * 1024;

  @Type(() => Number) @IsInt() @Min(1024) @Max(64 * 1024 * 1024)
  TWILIO_SEND_BUFFER_MAX_BYTES = 256 * 1024;

  @Type(() => Number) @IsInt() @Min(100) @Max(300_000)
  TWILIO_SEND_STALL_TIMEOUT_MS = 10_000;

  @Type(() => Number) @IsInt() @Min(0) @Max(3600)
  DRAIN_TIMEOUT_SECONDS = 30;

  @Transform(emptyToUndefined) @IsOptional() @IsString() @MaxLength(500)
  OPERATOR_SHUTDOWN_GOODBYE?: string;

  @IsString() @MinLength(1)
  DATA_DIR = './data';

  @Transform(emptyToUndefined) @IsOptional()
  @Matches(/^postgres(ql)?:\/\/\S+$/, { message: 'DATABASE_URL must be a postgres:// connection string' })
  DATABASE_URL?: string;

  @Transform(emptyToUndefined) @IsOptional()
  @Matches(/^rediss?:\/\/\S*$/, { message: 'REDIS_URL must be a redis:// or rediss:// URL' })
  REDIS_URL?: string;

  @IsString() @Matches(/^[\w:.-]{1,64}$/, { message: 'REDIS_KEY_PREFIX must be 1-64 letters, digits, _ : . or -' })
  REDIS_KEY_PREFIX = 'call-operator:';

  @Transform(emptyToUndefined) @IsOptional()
  @Matches(/^[\w:.-]{1,100}$/, { message: 'INSTANCE_ID must be 1-100 letters, digits, _ : . or -' })
  INSTANCE_ID?: string;

  /** An instance renews its lease in Redis this often / 3; once it lapses, others end its calls' records. */
  @Type(() => Number) @IsInt() @Min(1) @Max(300)
  INSTANCE_LEASE_SECONDS = 15;

  /** Calls the whole fleet carries (counted from the shared sessions); unset, no fleet-wide cap. */
  @Transform(emptyToUndefined) @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(1_000_000)
  MAX_FLEET_CALLS?: number;

  /** An inbound call that ended before a job request was saved gets one callback request. */
  @Transform(toBoolean) @IsBoolean()
  OUTBOUND_AUTO_CALLBACK = false;

  /** A second request for the same number and purpose within this many hours is the first one. */
  @Type(() => Number) @IsInt() @Min(0) @Max(24 * 30)
  OUTBOUND_DEDUPE_HOURS = 24;

  /** How long a hangup, transfer or say sent to another instance waits for its answer (then 504). */
  @Type(() => Number) @IsInt() @Min(100) @Max(30_000)
  CALL_COMMAND_TIMEOUT_MS = 3_000;

  /** PostgreSQL schema of the job queue's tables (pg-boss), in DATABASE_URL's database or the embedded one. */
  @Matches(/^[A-Za-z_][A-Za-z0-9_]{0,49}$/, { message: 'JOBS_SCHEMA must be 1-50 letters, digits or _, not starting with a digit' })
  JOBS_SCHEMA = 'pgboss';

  /** How often workers look for jobs other instances sent; unset: 5 s on PostgreSQL, 1 h on the embedded database. */
  @Transform(emptyToUndefined) @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(24 * 3600)
  JOBS_POLL_SECONDS?: number;

  /** A worker's lease on a job: one held this long (its worker died) is handed out again. */
  @Type(() => Number) @IsInt() @Min(10) @Max(3600)
  JOBS_EXPIRE_SECONDS = 120;

  @Transform(toBoolean) @IsBoolean()
  RECORDING_ENABLED = true;

  @Transform(emptyToUndefined) @IsOptional() @IsString() @MinLength(1)
  RECORDINGS_DIR?: string;

  @Transform(emptyToUndefined) @IsOptional() @IsString()
  @MinLength(16, { message: 'API_TOKEN must be at least 16 characters' })
  API_TOKEN?: string;

  /** Signs the recording links given to the CRM; unset, derived from another shared secret. */
  @Transform(emptyToUndefined) @IsOptional() @IsString()
  @MinLength(32, { message: 'RECORDING_LINK_SECRET must be at least 32 characters' })
  RECORDING_LINK_SECRET?: string;

  @Type(() => Number) @IsInt() @Min(1) @Max(365)
  RECORDING_LINK_TTL_DAYS = 30;

  // Prices in US dollars per million tokens (defaults: gpt-realtime's published rates).
  @Type(() => Number) @Min(0) @Max(10_000)
  PRICE_TEXT_INPUT_PER_MTOK = 4;

  @Type(() => Number) @Min(0) @Max(10_000)
  PRICE_TEXT_CACHED_INPUT_PER_MTOK = 0.4;

  @Type(() => Number) @Min(0) @Max(10_000)
  PRICE_TEXT_OUTPUT_PER_MTOK = 16;

  @Type(() => Number) @Min(0) @Max(10_000)
  PRICE_AUDIO_INPUT_PER_MTOK = 32;

  @Type(() => Number) @Min(0) @Max(10_000)
  PRICE_AUDIO_CACHED_INPUT_PER_MTOK = 0.4;

  @Type(() => Number) @Min(0) @Max(10_000)
  PRICE_AUDIO_OUTPUT_PER_MTOK = 64;

  @Transform(emptyToUndefined) @IsOptional()
  @Matches(/^AC[0-9a-fA-F]{32}$/, { message: 'TWILIO_ACCOUNT_SID must be an Account SID (AC followed by 32 hex digits)' })
  TWILIO_ACCOUNT_SID?: string;

  @Transform(emptyToUndefined) @IsOptional() @IsString() @MinLength(16)
  TWILIO_AUTH_TOKEN?: string;

  @IsUrl({ protocols: ['http', 'https'], require_tld: false, require_protocol: true })
  TWILIO_API_BASE_URL = 'https://api.twilio.com';

  @Transform(emptyToUndefined) @IsOptional()
  @Matches(E164, { message: 'OPERATOR_TRANSFER_NUMBER must be an E.164 number such as +15551234567' })
  OPERATOR_TRANSFER_NUMBER?: string;

  @Matches(/^[A-Z]{2}$/, { message: 'DEFAULT_PHONE_REGION must be a two-letter country code such as US' })
  DEFAULT_PHONE_REGION = 'US';

  @Type(() => Number) @IsInt() @Min(100) @Max(120_000)
  TOOL_TIMEOUT_MS = 10_000;

  /** JSON list of {name, url, headers?}; validated further by parseMcpServers. */
  @Transform(emptyToUndefined) @IsOptional() @IsString() @MaxLength(20_000)
  MCP_SERVERS?: string;

  /** Off only for local work: Twilio webhooks and stream upgrades are then taken unsigned. */
  @Transform(toBoolean) @IsBoolean()
  TWILIO_VALIDATE_SIGNATURE = true;

  @Transform(emptyToUndefined) @IsOptional() @IsString()
  @MinLength(32, { message: 'STREAM_TOKEN_SECRET must be at least 32 characters' })
  STREAM_TOKEN_SECRET?: string;

  @Type(() => Number) @IsInt() @Min(5) @Max(3600)
  STREAM_TOKEN_TTL_SECONDS = 60;

  /** Express 'trust proxy': false, true, a hop count, or a comma-separated list of addresses/subnets. */
  @Matches(/^(true|false|\d{1,2}|[\w.:/]+(\s*,\s*[\w.:/]+)*)$/, {
    message: 'TRUST_PROXY must be true, false, a hop count or a comma-separated list of proxy addresses/subnets',
  })
  TRUST_PROXY = 'false';

  @Type(() => Number) @IsInt() @Min(1) @Max(1_000_000)
  RATE_LIMIT_TWILIO_UNSIGNED_PER_MINUTE = 30;

  @Type(() => Number) @IsInt() @Min(1) @Max(1_000_000)
  RATE_LIMIT_API_PER_MINUTE = 120;

  @Type(() => Number) @IsInt() @Min(1) @Max(1_000_000)
  RATE_LIMIT_API_AUTH_FAILURES_PER_MINUTE = 5;

  // Outbound calls (callbacks, reminders): when a callee may be dialled. Not legal advice: see src/calling-rules.

  /** Zone of a callee whose request gives none and whose number tells none (toll-free, foreign, unknown). */
  @IsString() @IsTimeZone({ message: 'DEFAULT_TIMEZONE must be an IANA time zone such as America/New_York' })
  DEFAULT_TIMEZONE = 'America/New_York';

  /** The calling window in the callee's local time (federal: 08:00-21:00); state rules narrow it, never widen it. */
  @Matches(HH_MM, { message: 'CALLING_WINDOW_START must be a time of day HH:MM' })
  CALLING_WINDOW_START = '08:00';

  @Matches(HH_MM, { message: 'CALLING_WINDOW_END must be a time of day HH:MM' })
  CALLING_WINDOW_END = '21:00';

  /** A dial is allowed only if the call would still start inside the window this much later. */
  @Type(() => Number) @IsInt() @Min(0) @Max(3600)
  CALLING_DIAL_LEAD_SECONDS = 120;

  /** Apply the stricter calling hours of the callee's state (and Canada's) on top of the window. */
  @Transform(toBoolean) @IsBoolean()
  CALLING_STATE_RULES = true;

  /** Local times at which an unanswered (no-answer, busy, failed) outbound call is tried again. */
  @Matches(/^\s*([01]\d|2[0-3]):[0-5]\d(\s*,\s*([01]\d|2[0-3]):[0-5]\d)*\s*$/, {
    message: 'OUTBOUND_RETRY_SLOTS must be a comma-separated list of times HH:MM',
  })
  OUTBOUND_RETRY_SLOTS = '10:00,14:00,18:00';

  /** Days after an outbound request was made during which it is retried; then it is exhausted. */
  @Type(() => Number) @IsInt() @Min(1) @Max(30)
  OUTBOUND_RETRY_DAYS = 5;

  /** The Twilio number (E.164) outbound calls come from; unset, nothing is dialled. */
  @Transform(emptyToUndefined) @IsOptional()
  @Matches(E164, { message: 'OUTBOUND_CALLER_ID must be an E.164 number such as +15551234567' })
  OUTBOUND_CALLER_ID?: string;

  /** Dials per second this instance starts at most (Twilio's default account limit: 1 call per second). */
  @Type(() => Number) @Min(0.01) @Max(100)
  OUTBOUND_DIALS_PER_SECOND = 1;

  /** How long an outbound call rings before Twilio gives up with no-answer. */
  @Type(() => Number) @IsInt() @Min(5) @Max(600)
  OUTBOUND_RING_SECONDS = 30;

  /** What an outbound call an answering machine took does after the greeting: leave OUTBOUND_VOICEMAIL_MESSAGE, or hang up. */
  @IsIn(['message', 'hangup'], { message: 'OUTBOUND_VOICEMAIL must be message or hangup' })
  OUTBOUND_VOICEMAIL: 'message' | 'hangup' = 'message';

  /** The voicemail message, said by Twilio's text-to-speech; {company} and {callback_number} are filled in. */
  @IsString() @MinLength(1) @MaxLength(600)
  @Matches(/^(?:[^{}]|\{(?:company|callback_number)\})*$/, {
    message: 'OUTBOUND_VOICEMAIL_MESSAGE may only use the placeholders {company} and {callback_number}',
  })
  OUTBOUND_VOICEMAIL_MESSAGE =
    'Hello, this is the automated assistant of {company}, sorry we missed you. Please call us back at {callback_number}. ' +
    'If you would rather we did not call you again, call that number and say so, and we will not call again. Goodbye.';
  /** The longest an outbound call may last once answered (Twilio's TimeLimit; its own default and ceiling is 4 hours). */
  @Type(() => Number) @IsInt() @Min(1) @Max(240)
  OUTBOUND_MAX_CALL_MINUTES = 240;

  // Post-call webhooks (src/webhooks): a signed JSON event to each URL when a call ends.

  /** Comma-separated http(s) URLs that receive the events; validated further by parseWebhookUrls. Unset: no webhooks. */
  @Transform(emptyToUndefined) @IsOptional() @IsString() @MaxLength(10_000)
  WEBHOOK_URLS?: string;

  /** Standard Webhooks signing secret, whsec_ and base64 of 24 to 64 random bytes; required with WEBHOOK_URLS. */
  @Transform(emptyToUndefined) @IsOptional() @IsString()
  @Matches(/^whsec_[A-Za-z0-9+/]+={0,2}$/, { message: 'WEBHOOK_SECRET must be whsec_ followed by base64 (24 to 64 random bytes)' })
  WEBHOOK_SECRET?: string;

  /** How long one delivery attempt waits for the receiver's answer. */
  @Type(() => Number) @IsInt() @Min(1000) @Max(60_000)
  WEBHOOK_TIMEOUT_MS = 10_000;

  /** Attempts per event and URL before the delivery is marked failed. */
  @Type(() => Number) @IsInt() @Min(1) @Max(100)
  WEBHOOK_MAX_ATTEMPTS = 20;

  /** An event not delivered this long after the call ended is not tried again: the delivery is failed. */
  @Type(() => Number) @IsInt() @Min(1) @Max(24 * 30)
  WEBHOOK_MAX_AGE_HOURS = 24;

  /** Wait before the first retry; doubled after each failed attempt, up to WEBHOOK_RETRY_MAX_SECONDS. */
  @Type(() => Number) @IsInt() @Min(1) @Max(3600)
  WEBHOOK_RETRY_BASE_SECONDS = 10;

  @Type(() => Number) @IsInt() @Min(1) @Max(24 * 3600)
  WEBHOOK_RETRY_MAX_SECONDS = 3600;

  // On call: who is paged by SMS when a caller has an emergency (src/on-call).

  /** The default rota, as JSON; checked in full at boot by the on-call module. The API's copy in the database wins once saved. */
  @Transform(emptyToUndefined) @IsOptional() @IsString() @MaxLength(100_000)
  ON_CALL_ROTA?: string;

  /** The default rota in a JSON file, instead of ON_CALL_ROTA. */
  @Transform(emptyToUndefined) @IsOptional() @IsString() @MaxLength(1_000)
  ON_CALL_ROTA_FILE?: string;

  /** How long a page waits for its person's YES before the next person on the list is paged. */
  @Type(() => Number) @IsInt() @Min(1) @Max(120)
  ON_CALL_ACK_MINUTES = 5;

  /** What the caller of an emergency is told: the on-call plumber will call back within this many minutes. */
  @Type(() => Number) @IsInt() @Min(1) @Max(24 * 60)
  ON_CALL_CALLBACK_MINUTES = 15;

  /** Warm transfer: how long the on-call person's phone may ring (and the whisper wait for their answer) before the caller is back with the agent. */
  @Type(() => Number) @IsInt() @Min(10) @Max(120)
  WARM_TRANSFER_TIMEOUT_SECONDS = 30;

  /** The Twilio number (E.164) text messages are sent from (pages); unset, nobody is paged. */
  @Transform(emptyToUndefined) @IsOptional()
  @Matches(E164, { message: 'SMS_FROM_NUMBER must be an E.164 number such as +15551234567' })
  SMS_FROM_NUMBER?: string;

  /** A text to the caller when a call ends with a saved job request (from SMS_FROM_NUMBER); false: none. */
  @Transform(toBoolean) @IsBoolean()
  SMS_CONFIRMATIONS = true;

  @Transform(toBoolean) @IsBoolean()
  HUBSPOT_ENABLED = false;

  @IsUrl({ protocols: ['http', 'https'], require_tld: false, require_protocol: true })
  HUBSPOT_BASE_URL = 'https://api.hubapi.com';

  @ValidateIf((env: EnvironmentVariables) => env.HUBSPOT_ENABLED === true)
  @IsString({ message: 'HUBSPOT_ACCESS_TOKEN is required when HUBSPOT_ENABLED=true' })
  @MinLength(10, { message: 'HUBSPOT_ACCESS_TOKEN is required when HUBSPOT_ENABLED=true' })
  HUBSPOT_ACCESS_TOKEN?: string;
}

function describe(errors: ValidationError[]): string[] {
  return errors.flatMap((e) => {
    const messages = Object.values(e.constraints ?? {});
    const value = /KEY|TOKEN|SECRET/.test(e.property) ? '[redacted]' : JSON.stringify(e.value);
    return messages.map((m) => `${e.property}: ${m} (got ${value})`);
  });
}

/** Used as ConfigModule's `validate`: returns the typed, defaulted env or throws naming each bad variable. */
export function validateEnvironment(raw: Record<string, unknown>): EnvironmentVariables {
  // Unset and empty variables fall back to the class defaults.
  const present: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) if (v !== undefined && v !== '') present[k] = v;
  const env = plainToInstance(EnvironmentVariables, present, { exposeDefaultValues: true });
  const errors = validateSync(env, { skipMissingProperties: false, whitelist: false });
  const problems = describe(errors);
  if (env.MCP_SERVERS !== undefined) {
    try {
      parseMcpServers(env.MCP_SERVERS);
    } catch (err) {
      problems.push(`MCP_SERVERS: ${(err as Error).message}`);
    }
  }
  // Redis is how several instances share live calls; several instances each writing an embedded
  // database of their own would split the call log between them.
  if (env.REDIS_URL !== undefined && env.DATABASE_URL === undefined) {
    problems.push('REDIS_URL is set (several instances share live calls) but DATABASE_URL is not: every instance would keep its own embedded database; set DATABASE_URL to one PostgreSQL for all of them');
  }
  if (env.METRICS_PORT !== undefined && env.METRICS_PORT !== 0 && env.METRICS_PORT === env.PORT) {
    problems.push(`METRICS_PORT: must differ from PORT (both ${env.PORT}); leave it unset to serve /metrics on PORT`);
  }
  if (HH_MM.test(env.CALLING_WINDOW_START) && HH_MM.test(env.CALLING_WINDOW_END) && env.CALLING_WINDOW_START >= env.CALLING_WINDOW_END) {
    problems.push(`CALLING_WINDOW_START (${env.CALLING_WINDOW_START}) must be earlier than CALLING_WINDOW_END (${env.CALLING_WINDOW_END})`);
  }
  if (env.WEBHOOK_URLS !== undefined) {
    try {
      parseWebhookUrls(env.WEBHOOK_URLS);
    } catch (err) {
      problems.push(`WEBHOOK_URLS: ${(err as Error).message}`);
    }
    if (env.WEBHOOK_SECRET === undefined) {
      problems.push('WEBHOOK_SECRET: required when WEBHOOK_URLS is set (whsec_ followed by base64 of 24 to 64 random bytes)');
    }
  }
  if (env.WEBHOOK_SECRET !== undefined && /^whsec_[A-Za-z0-9+/]+={0,2}$/.test(env.WEBHOOK_SECRET)) {
    const bytes = webhookSecretBytes(env.WEBHOOK_SECRET);
    if (bytes < 24 || bytes > 64) problems.push(`WEBHOOK_SECRET: must hold 24 to 64 bytes once base64-decoded (it holds ${bytes})`);
  }
  if (env.WEBHOOK_RETRY_BASE_SECONDS > env.WEBHOOK_RETRY_MAX_SECONDS) {
    problems.push(`WEBHOOK_RETRY_BASE_SECONDS (${env.WEBHOOK_RETRY_BASE_SECONDS}) must not exceed WEBHOOK_RETRY_MAX_SECONDS (${env.WEBHOOK_RETRY_MAX_SECONDS})`);
  }
  if (env.ON_CALL_ROTA !== undefined && env.ON_CALL_ROTA_FILE !== undefined) {
    problems.push('ON_CALL_ROTA and ON_CALL_ROTA_FILE are both set: give the default rota one way only');
  }
  if (problems.length > 0) {
    throw new Error(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  return env;
}

export interface McpServerConfig {
  readonly name: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** MCP_SERVERS: a JSON list of {name, url, headers?}; names become tool-name prefixes. */
export function parseMcpServers(json: string | undefined): McpServerConfig[] {
  if (!json) return [];
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new Error('must be a JSON list of {name, url, headers?}');
  }
  if (!Array.isArray(value)) throw new Error('must be a JSON list of {name, url, headers?}');
  const names = new Set<string>();
  return value.map((entry: unknown, i) => {
    const e = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
    if (typeof e.name !== 'string' || !/^[a-zA-Z0-9_-]{1,32}$/.test(e.name)) throw new Error(`entry ${i}: name must be 1-32 letters, digits, _ or -`);
    if (names.has(e.name)) throw new Error(`entry ${i}: name ${e.name} is used twice`);
    names.add(e.name);
    let url: URL;
    try {
      url = new URL(String(e.url));
    } catch {
      throw new Error(`entry ${i} (${e.name}): url must be an http(s) URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`entry ${i} (${e.name}): url must be an http(s) URL`);
    const headers: Record<string, string> = {};
    if (e.headers !== undefined) {
      if (typeof e.headers !== 'object' || e.headers === null || Array.isArray(e.headers)) throw new Error(`entry ${i} (${e.name}): headers must be an object of strings`);
      for (const [k, v] of Object.entries(e.headers as Record<string, unknown>)) {
        if (typeof v !== 'string') throw new Error(`entry ${i} (${e.name}): header ${k} must be a string`);
        headers[k] = v;
      }
    }
    return { name: e.name, url: url.toString(), headers };
  });
}

/** At most this many webhook URLs: each event is one delivery per URL. */
export const MAX_WEBHOOK_URLS = 10;

/**
 * WEBHOOK_URLS: comma-separated http(s) URLs, each once. Errors name the entry by its position,
 * never by its text: a webhook URL often carries a token of the receiver's in its path.
 */
export function parseWebhookUrls(list: string | undefined): string[] {
  if (!list) return [];
  const entries = list.split(',').map((e) => e.trim()).filter((e) => e !== '');
  if (entries.length > MAX_WEBHOOK_URLS) throw new Error(`at most ${MAX_WEBHOOK_URLS} URLs`);
  const urls: string[] = [];
  entries.forEach((entry, i) => {
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      throw new Error(`entry ${i + 1} is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`entry ${i + 1} must be an http:// or https:// URL`);
    if (url.username || url.password) throw new Error(`entry ${i + 1} must not carry credentials (user:password@)`);
    url.hash = '';
    const normalised = url.toString();
    if (urls.includes(normalised)) throw new Error(`entry ${i + 1} repeats an earlier URL`);
    urls.push(normalised);
  });
  return urls;
}

/** How many bytes the base64 after whsec_ decodes to. */
function webhookSecretBytes(secret: string): number {
  return Buffer.from(secret.slice('whsec_'.length), 'base64').length;
}
