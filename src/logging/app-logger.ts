import { Inject, Injectable, Optional, type LoggerService } from '@nestjs/common';
import pino, { type DestinationStream, type Logger } from 'pino';
import { AppConfig } from '../config/app-config';
import { LogScrubber } from './log-scrubber';

/** Where log lines go; stdout unless a test provides a stream to read them from. */
export const LOG_DESTINATION = Symbol('LOG_DESTINATION');

export type CallLogger = Logger;

/**
 * The root structured (JSON) logger. Call code logs through `child()` loggers that carry
 * callSid and streamSid. The code never passes keys, tokens or audio payloads to a logger; as
 * a second line of defence secrets are redacted by path, and every log call's arguments go
 * through the LogScrubber (configured secrets, base64 runs, phone numbers unless LOG_PII).
 */
@Injectable()
export class AppLogger {
  readonly root: Logger;
  private readonly scrubber: LogScrubber;

  constructor(config: AppConfig, @Optional() @Inject(LOG_DESTINATION) destination?: DestinationStream | null) {
    const scrubber = new LogScrubber(
      [
        config.openai.apiKey,
        config.apiToken,
        config.twilio.authToken,
        config.hubspot.accessToken,
        config.security.streamTokenSecret,
        config.recordingLinks.secret,
        config.webhooks.secret,
        // The key alone, as a receiver's configuration might show it.
        config.webhooks.secret?.slice('whsec_'.length),
        databasePassword(config.databaseUrl),
      ],
      !config.logPii,
    );
    this.scrubber = scrubber;
    this.root = pino(
      {
        level: config.logLevel,
        base: { service: 'call-operator', version: config.version },
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
        // The hook below has already turned errors into scrubbed plain objects.
        serializers: { err: (err: unknown) => (err instanceof Error ? pino.stdSerializers.err(err) : err) },
        redact: {
          paths: ['authorization', 'headers.authorization', '*.authorization', 'apiKey', '*.apiKey', 'token', '*.token', 'payload', '*.payload'],
          censor: '[redacted]',
        },
        hooks: {
          logMethod(args, method) {
            method.apply(this, args.map((arg) => scrubber.value(arg)) as Parameters<typeof method>);
          },
        },
      },
      // Synchronous: lines are few (none per audio frame) and none may be lost when the process exits.
      destination ?? pino.destination({ dest: 1, sync: true }),
    );
  }

  /** Bindings are scrubbed here: pino passes child bindings through no hook. */
  child(bindings: Record<string, unknown>): Logger {
    return this.root.child(this.scrubber.value(bindings) as Record<string, unknown>);
  }

  /** Writes out buffered lines; called on shutdown so the last lines are not lost. */
  flush(): void {
    this.root.flush();
  }
}

function databasePassword(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
}

/** Routes Nest's own framework logs into the same JSON stream. */
@Injectable()
export class NestLogger implements LoggerService {
  private readonly logger: Logger;

  constructor(appLogger: AppLogger) {
    this.logger = appLogger.child({ component: 'nest' });
  }

  log(message: unknown, context?: string): void {
    this.logger.debug({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string): void {
    this.logger.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string): void {
    this.logger.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string): void {
    this.logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string): void {
    this.logger.trace({ context }, String(message));
  }
  fatal(message: unknown, context?: string): void {
    this.logger.fatal({ context }, String(message));
  }
}
