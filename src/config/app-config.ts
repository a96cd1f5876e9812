import { hostname } from 'node:os';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { CallingWindowConfig } from '../calling-rules/calling-window';
import { parseLocalTime } from '../calling-rules/local-time';
import type { RetryConfig } from '../calling-rules/retry-schedule';
import { parseMcpServers, parseWebhookUrls, type EnvironmentVariables, type McpServerConfig } from './env.schema';

export type RealtimeApiShape = 'ga' | 'beta';

/** US dollars per million tokens. */
export interface TokenPrices {
  readonly textInput: number;
  readonly textCachedInput: number;
  readonly textOutput: number;
  readonly audioInput: number;
  readonly audioCachedInput: number;
  readonly audioOutput: number;
}

const PROMPT_FILE = 'plumbing_operator_system_prompt.txt';
/** The text model's instructions for a call's written summary (src/summary). */
const SUMMARY_PROMPT_FILE = 'call_summary_prompt.txt';

/** Twilio may ring an outbound call up to 5 s beyond its Timeout. */
const TWILIO_RING_BUFFER_SECONDS = 5;
/**
 * Beyond the longest call, before an attempt still without its final status counts as overdue: a
 * call queued at Twilio starts late, and a final callback in flight must not be raced.
 */
export const OUTBOUND_RECONCILE_MARGIN_MS = 10 * 60_000;

/** The nearest folder at or above `from` holding `relative`: the project root, from src/ or dist/src/. */
function findUp(from: string, relative: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, relative))) return join(dir, relative);
    if (dirname(dir) === dir) return undefined;
  }
}

function findPromptsDir(from: string): string {
  const file = findUp(from, join('prompts', PROMPT_FILE));
  if (!file) throw new Error(`prompts/${PROMPT_FILE} not found above ${from}`);
  return dirname(file);
}

/**
 * OpenAI's HTTP API beside its Realtime endpoint: the same host, ws → http and wss → https, the
 * path without its last `/realtime` (wss://api.openai.com/v1/realtime → https://api.openai.com/v1).
 * So one setting points both at a proxy or, in tests, at a fake.
 */
export function openAiHttpBase(realtimeUrl: string): string {
  const url = new URL(realtimeUrl);
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  url.search = '';
  url.hash = '';
  url.pathname = url.pathname.replace(/\/+$/, '').replace(/\/realtime$/, '');
  return url.toString().replace(/\/+$/, '');
}

export function fillCompanyName(template: string, company: string): string {
  return template.replace(/\{\{\s*COMPANY_NAME\s*\}\}/g, company);
}

/**
 * The service's configuration after validation, in the shapes the code uses.
 * Injected wherever settings are needed; built once at boot.
 */
export class AppConfig {
  readonly env: EnvironmentVariables['NODE_ENV'];
  readonly port: number;
  readonly host: string;
  /** Set: /metrics is served on this port (on host) and not on `port`. */
  readonly metricsPort: number | undefined;
  readonly logLevel: EnvironmentVariables['LOG_LEVEL'];
  /** Phone numbers appear in logs unmasked (for debugging a deployment, never by default). */
  readonly logPii: boolean;
  readonly version: string;

  readonly openai: {
    readonly apiKey: string | undefined;
    readonly realtimeUrl: string;
    readonly model: string;
    readonly api: RealtimeApiShape;
    readonly transcriptionModel: string | undefined;
    readonly connectTimeoutMs: number;
    /** The Realtime API ends a session at this age; calls move to a fresh session before it. */
    readonly sessionMaxMs: number;
    readonly vad: { threshold: number; prefixPaddingMs: number; silenceDurationMs: number };
  };

  /** Each call's written summary (src/summary): three sentences by a text model, after the call. */
  readonly summary: {
    /** SUMMARY_ENABLED, and an OpenAI key to call the model with. */
    readonly enabled: boolean;
    readonly model: string;
    /** From the call's end: the model's answer, and the call.ended webhook's wait for it. */
    readonly timeoutMs: number;
    /** OpenAI's HTTP API, derived from OPENAI_REALTIME_URL (openAiHttpBase). */
    readonly baseUrl: string;
    /** prompts/call_summary_prompt.txt. */
    readonly instructions: string;
  };

  /** The business the agent speaks for: read only by the profile resolver (src/profile). */
  readonly operator: {
    readonly companyName: string;
    readonly voice: string;
    readonly transferNumber: string | undefined;
    readonly fallbackNumber: string | undefined;
    readonly instructions: string;
    readonly greeting: string;
    /** Said when shutdown ends a call in progress. */
    readonly shutdownGoodbye: string;
    /** How the agent picks up again on a reopened connection, instead of greeting anew. */
    readonly reconnectInstruction: string;
    readonly silencePrompt: string;
    readonly silenceGoodbye: string;
  };

  readonly sessions: { readonly ttlMinutes: number; readonly sweepIntervalMs: number };

  readonly calls: {
    readonly publicBaseUrl: string | undefined;
    readonly maxConcurrent: number;
    readonly wsMaxPayloadBytes: number;
    /** Agent audio is dropped while this much is waiting to be sent to Twilio. */
    readonly sendBufferMaxBytes: number;
    /** A call whose Twilio socket stays over sendBufferMaxBytes this long is ended. */
    readonly sendStallTimeoutMs: number;
    /** On shutdown, how long calls in progress may go on before the agent says goodbye. */
    readonly drainTimeoutMs: number;
    /** Caller silence before the agent asks whether they are still there; 0: never. */
    readonly silencePromptMs: number;
  };

  readonly hubspot: { readonly enabled: boolean; readonly accessToken: string | undefined; readonly baseUrl: string };

  readonly twilio: {
    readonly accountSid: string | undefined;
    readonly authToken: string | undefined;
    readonly apiBaseUrl: string;
  };

  readonly tools: {
    readonly timeoutMs: number;
    readonly defaultPhoneRegion: string;
    readonly mcpServers: readonly McpServerConfig[];
  };

  /** Absolute path of the embedded database, spool and (by default) recordings. */
  readonly dataDir: string;
  /** Set: PostgreSQL through pg. Unset: embedded PGlite in dataDir. */
  readonly databaseUrl: string | undefined;
  /** Set: what instances share (sessions) lives in Redis under keyPrefix. Unset: in this process. */
  readonly redis: { readonly url: string | undefined; readonly keyPrefix: string };
  /** Names this process in what instances share: INSTANCE_ID, else host name and process id. */
  readonly instanceId: string;
  /** Outbound calls: requests, their deduplication, and how they are dialled. */
  readonly outbound: {
    readonly dedupeWindowMs: number;
    readonly autoCallback: boolean;
    /** OUTBOUND_CALLER_ID: the Twilio number calls come from; unset, dialling is refused. */
    readonly callerId: string | undefined;
    /** Dials per second this instance starts at most. */
    readonly dialsPerSecond: number;
    /** Seconds a call rings before it is no-answer (Twilio's Timeout). */
    readonly ringSeconds: number;
    /** An answering machine: leave `message` (placeholders not yet filled in) after the greeting, or hang up. */
    readonly voicemail: { readonly action: 'message' | 'hangup'; readonly message: string };
    /** Seconds an answered call may last before Twilio ends it (Twilio's TimeLimit). */
    readonly maxCallSeconds: number;
    /**
     * An attempt whose call started this long ago and has no final status must have ended without
     * its final callback reaching us: ringing, the longest call, and margin (see OUTBOUND_RECONCILE_MARGIN_MS).
     */
    readonly overdueAfterMs: number;
  };
  /** How the instances of a fleet know each other: leases, a fleet-wide cap, commands to the holder of a call. */
  readonly fleet: { readonly leaseMs: number; readonly maxCalls: number | undefined; readonly commandTimeoutMs: number };
  /** The durable job queue (src/jobs). pollMs unset: the default of the database in use. */
  readonly jobs: { readonly schema: string; readonly pollMs: number | undefined; readonly expireSeconds: number };
  readonly recording: { readonly enabled: boolean; readonly dir: string };
  readonly apiToken: string | undefined;
  /** Signed links that play a call's recording without the API token (for the CRM). */
  readonly recordingLinks: {
    /** RECORDING_LINK_SECRET; unset, RecordingLinks derives one from another shared secret. */
    readonly secret: string | undefined;
    readonly ttlMs: number;
  };
  /** Post-call webhooks (src/webhooks): where each call.ended event goes, how it is signed and retried. */
  readonly webhooks: {
    /** Empty: no events are made. */
    readonly urls: readonly string[];
    /** whsec_…: the Standard Webhooks signing secret; set whenever urls is not empty. */
    readonly secret: string | undefined;
    readonly timeoutMs: number;
    readonly maxAttempts: number;
    readonly maxAgeMs: number;
    readonly retryBaseMs: number;
    readonly retryMaxMs: number;
  };
  /** When outbound calls may be dialled and retried (src/calling-rules). */
  readonly callingRules: { readonly window: CallingWindowConfig; readonly retry: RetryConfig };
  readonly prices: TokenPrices;
  /** Emergency paging (src/on-call). */
  readonly onCall: {
    /** The default rota's JSON and where it came from (ON_CALL_ROTA, or the file of ON_CALL_ROTA_FILE); undefined: none. */
    readonly defaultRota: { readonly json: string; readonly source: string } | undefined;
    /** The zone of a rota that names none: DEFAULT_TIMEZONE. */
    readonly defaultTimeZone: string;
    /** A page unanswered this long moves on to the next person. */
    readonly ackTimeoutMs: number;
    /** Promised to the caller: a call back within this many minutes. */
    readonly callbackMinutes: number;
    /** WARM_TRANSFER_TIMEOUT_SECONDS: a warm transfer not taken within this long goes back to the agent. */
    readonly warmTransferTimeoutMs: number;
    /** SMS_FROM_NUMBER: where pages come from; unset, nobody is paged. */
    readonly smsFrom: string | undefined;
  };
  /** Texts to callers (src/sms): the confirmation of a saved job request, STOP/HELP. */
  readonly sms: {
    /** SMS_CONFIRMATIONS: a confirmation text when a call ends with a saved job request. */
    readonly confirmations: boolean;
  };
  readonly security: {
    /** False: TWILIO_VALIDATE_SIGNATURE=false. Signatures are checked only with an auth token as well. */
    readonly validateTwilioSignature: boolean;
    readonly streamTokenSecret: string | undefined;
    readonly streamTokenTtlMs: number;
    /** Express 'trust proxy', which decides the client IP rate limits count by. */
    readonly trustProxy: boolean | number | string;
    readonly rateLimits: { readonly twilioUnsignedPerMinute: number; readonly apiPerMinute: number; readonly apiAuthFailuresPerMinute: number };
  };

  constructor(env: EnvironmentVariables, promptsDir = findPromptsDir(__dirname)) {
    this.env = env.NODE_ENV;
    this.port = env.PORT;
    this.host = env.HOST;
    this.metricsPort = env.METRICS_PORT;
    this.logLevel = env.LOG_LEVEL;
    this.logPii = env.LOG_PII;
    this.version = readVersion();
    const company = env.OPERATOR_COMPANY_NAME.trim();
    const promptTemplate = env.OPERATOR_SYSTEM_PROMPT ?? readFileSync(join(promptsDir, PROMPT_FILE), 'utf8');
    this.openai = {
      apiKey: env.OPENAI_API_KEY,
      realtimeUrl: env.OPENAI_REALTIME_URL,
      model: env.OPENAI_REALTIME_MODEL,
      // Preview models only speak the beta shape; everything else defaults to GA.
      api: env.OPENAI_REALTIME_API ?? (env.OPENAI_REALTIME_MODEL.includes('preview') ? 'beta' : 'ga'),
      transcriptionModel:
        env.OPENAI_TRANSCRIPTION_MODEL && env.OPENAI_TRANSCRIPTION_MODEL !== 'none'
          ? env.OPENAI_TRANSCRIPTION_MODEL
          : undefined,
      connectTimeoutMs: env.OPENAI_CONNECT_TIMEOUT_MS,
      sessionMaxMs: env.REALTIME_SESSION_MAX_MINUTES * 60_000,
      vad: {
        threshold: env.VAD_THRESHOLD,
        prefixPaddingMs: env.VAD_PREFIX_PADDING_MS,
        silenceDurationMs: env.VAD_SILENCE_DURATION_MS,
      },
    };
    this.summary = {
      enabled: env.SUMMARY_ENABLED && env.OPENAI_API_KEY !== undefined,
      model: env.SUMMARY_MODEL,
      timeoutMs: env.SUMMARY_TIMEOUT_MS,
      baseUrl: openAiHttpBase(env.OPENAI_REALTIME_URL),
      instructions: readFileSync(join(promptsDir, SUMMARY_PROMPT_FILE), 'utf8').trim(),
    };
    this.operator = {
      companyName: company,
      voice: env.OPENAI_VOICE,
      transferNumber: env.OPERATOR_TRANSFER_NUMBER,
      fallbackNumber: env.FALLBACK_PHONE_NUMBER,
      instructions: fillCompanyName(promptTemplate, company).trim(),
      greeting: fillCompanyName(
        env.OPERATOR_GREETING ??
          "Thanks for calling {{COMPANY_NAME}}, this is the after-hours line. Is this a plumbing emergency, or can I help you book a visit?",
        company,
      ),
      shutdownGoodbye: fillCompanyName(
        env.OPERATOR_SHUTDOWN_GOODBYE ?? "I'm sorry, I have to end this call now. Please call {{COMPANY_NAME}} back in a minute. Goodbye.",
        company,
      ),
      reconnectInstruction:
        env.OPERATOR_RECONNECT_INSTRUCTION ??
        'The line dropped for a moment. Say briefly "Sorry, I lost you for a moment", then carry on from where the conversation left off.',
      silencePrompt:
        env.OPERATOR_SILENCE_PROMPT ?? 'The caller has said nothing for a while. Ask briefly whether they are still there.',
      silenceGoodbye:
        env.OPERATOR_SILENCE_GOODBYE ??
        'The caller has still said nothing. Say a short, friendly goodbye and that they are welcome to call back. Ask nothing more.',
    };
    this.sessions = {
      ttlMinutes: env.SESSION_TTL_MINUTES,
      sweepIntervalMs: env.SESSION_SWEEP_INTERVAL_SECONDS * 1000,
    };
    this.calls = {
      publicBaseUrl: env.PUBLIC_BASE_URL?.replace(/\/+$/, ''),
      maxConcurrent: env.MAX_CONCURRENT_CALLS,
      wsMaxPayloadBytes: env.WS_MAX_PAYLOAD_BYTES,
      sendBufferMaxBytes: env.TWILIO_SEND_BUFFER_MAX_BYTES,
      sendStallTimeoutMs: env.TWILIO_SEND_STALL_TIMEOUT_MS,
      drainTimeoutMs: env.DRAIN_TIMEOUT_SECONDS * 1000,
      silencePromptMs: env.SILENCE_PROMPT_SECONDS * 1000,
    };
    this.hubspot = { enabled: env.HUBSPOT_ENABLED, accessToken: env.HUBSPOT_ACCESS_TOKEN, baseUrl: env.HUBSPOT_BASE_URL.replace(/\/+$/, '') };
    this.twilio = {
      accountSid: env.TWILIO_ACCOUNT_SID,
      authToken: env.TWILIO_AUTH_TOKEN,
      apiBaseUrl: env.TWILIO_API_BASE_URL.replace(/\/+$/, ''),
    };
    this.tools = {
      timeoutMs: env.TOOL_TIMEOUT_MS,
      defaultPhoneRegion: env.DEFAULT_PHONE_REGION,
      mcpServers: parseMcpServers(env.MCP_SERVERS),
    };
    this.dataDir = resolve(env.DATA_DIR);
    this.databaseUrl = env.DATABASE_URL;
    this.redis = { url: env.REDIS_URL, keyPrefix: env.REDIS_KEY_PREFIX };
    // A restarted process is another instance: the sessions of the one before are not its own.
    this.instanceId = env.INSTANCE_ID ?? `${hostname()}:${process.pid}`;
    this.outbound = {
      dedupeWindowMs: env.OUTBOUND_DEDUPE_HOURS * 3_600_000,
      autoCallback: env.OUTBOUND_AUTO_CALLBACK,
      callerId: env.OUTBOUND_CALLER_ID,
      dialsPerSecond: env.OUTBOUND_DIALS_PER_SECOND,
      ringSeconds: env.OUTBOUND_RING_SECONDS,
      voicemail: { action: env.OUTBOUND_VOICEMAIL, message: env.OUTBOUND_VOICEMAIL_MESSAGE },
      maxCallSeconds: env.OUTBOUND_MAX_CALL_MINUTES * 60,
      overdueAfterMs: (env.OUTBOUND_RING_SECONDS + TWILIO_RING_BUFFER_SECONDS + env.OUTBOUND_MAX_CALL_MINUTES * 60) * 1000 + OUTBOUND_RECONCILE_MARGIN_MS,
    };
    this.fleet = { leaseMs: env.INSTANCE_LEASE_SECONDS * 1000, maxCalls: env.MAX_FLEET_CALLS, commandTimeoutMs: env.CALL_COMMAND_TIMEOUT_MS };
    this.jobs = {
      schema: env.JOBS_SCHEMA,
      pollMs: env.JOBS_POLL_SECONDS === undefined ? undefined : env.JOBS_POLL_SECONDS * 1000,
      expireSeconds: env.JOBS_EXPIRE_SECONDS,
    };
    this.recording = {
      enabled: env.RECORDING_ENABLED,
      dir: resolve(env.RECORDINGS_DIR ?? join(this.dataDir, 'recordings')),
    };
    this.apiToken = env.API_TOKEN;
    this.recordingLinks = { secret: env.RECORDING_LINK_SECRET, ttlMs: env.RECORDING_LINK_TTL_DAYS * 24 * 60 * 60 * 1000 };
    this.webhooks = {
      urls: parseWebhookUrls(env.WEBHOOK_URLS),
      secret: env.WEBHOOK_SECRET,
      timeoutMs: env.WEBHOOK_TIMEOUT_MS,
      maxAttempts: env.WEBHOOK_MAX_ATTEMPTS,
      maxAgeMs: env.WEBHOOK_MAX_AGE_HOURS * 3_600_000,
      retryBaseMs: env.WEBHOOK_RETRY_BASE_SECONDS * 1000,
      retryMaxMs: env.WEBHOOK_RETRY_MAX_SECONDS * 1000,
    };
    this.callingRules = {
      window: {
        defaultTimeZone: env.DEFAULT_TIMEZONE,
        startMinute: parseLocalTime(env.CALLING_WINDOW_START),
        endMinute: parseLocalTime(env.CALLING_WINDOW_END),
        dialLeadMs: env.CALLING_DIAL_LEAD_SECONDS * 1000,
        applyJurisdictionRules: env.CALLING_STATE_RULES,
      },
      retry: {
        slotMinutes: [...new Set(env.OUTBOUND_RETRY_SLOTS.split(',').map(parseLocalTime))].sort((a, b) => a - b),
        horizonMs: env.OUTBOUND_RETRY_DAYS * 24 * 60 * 60 * 1000,
      },
    };
    this.prices = {
      textInput: env.PRICE_TEXT_INPUT_PER_MTOK,
      textCachedInput: env.PRICE_TEXT_CACHED_INPUT_PER_MTOK,
      textOutput: env.PRICE_TEXT_OUTPUT_PER_MTOK,
      audioInput: env.PRICE_AUDIO_INPUT_PER_MTOK,
      audioCachedInput: env.PRICE_AUDIO_CACHED_INPUT_PER_MTOK,
      audioOutput: env.PRICE_AUDIO_OUTPUT_PER_MTOK,
    };
    this.onCall = {
      defaultRota: readDefaultRota(env),
      defaultTimeZone: env.DEFAULT_TIMEZONE,
      ackTimeoutMs: env.ON_CALL_ACK_MINUTES * 60_000,
      callbackMinutes: env.ON_CALL_CALLBACK_MINUTES,
      warmTransferTimeoutMs: env.WARM_TRANSFER_TIMEOUT_SECONDS * 1000,
      smsFrom: env.SMS_FROM_NUMBER,
    };
    this.sms = { confirmations: env.SMS_CONFIRMATIONS };
    this.security = {
      validateTwilioSignature: env.TWILIO_VALIDATE_SIGNATURE,
      streamTokenSecret: env.STREAM_TOKEN_SECRET,
      streamTokenTtlMs: env.STREAM_TOKEN_TTL_SECONDS * 1000,
      trustProxy: parseTrustProxy(env.TRUST_PROXY),
      rateLimits: {
        twilioUnsignedPerMinute: env.RATE_LIMIT_TWILIO_UNSIGNED_PER_MINUTE,
        apiPerMinute: env.RATE_LIMIT_API_PER_MINUTE,
        apiAuthFailuresPerMinute: env.RATE_LIMIT_API_AUTH_FAILURES_PER_MINUTE,
      },
    };
  }
}

/** ON_CALL_ROTA as given, or ON_CALL_ROTA_FILE's content (an unreadable file stops boot, naming it). */
function readDefaultRota(env: EnvironmentVariables): AppConfig['onCall']['defaultRota'] {
  if (env.ON_CALL_ROTA !== undefined) return { json: env.ON_CALL_ROTA, source: 'ON_CALL_ROTA' };
  if (env.ON_CALL_ROTA_FILE === undefined) return undefined;
  const path = resolve(env.ON_CALL_ROTA_FILE);
  try {
    return { json: readFileSync(path, 'utf8'), source: `ON_CALL_ROTA_FILE (${path})` };
  } catch (err) {
    throw new Error(`Invalid configuration:\n  ON_CALL_ROTA_FILE: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
  }
}

function parseTrustProxy(value: string): boolean | number | string {
  if (value === 'true' || value === 'false') return value === 'true';
  return /^\d+$/.test(value) ? Number(value) : value;
}

function readVersion(): string {
  const file = findUp(__dirname, 'package.json');
  return (file && (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version) || '0.0.0';
}
