import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app-config';
import { ExpiringMap } from './expiring-map';

const WINDOW_MS = 60_000;
/** Clients tracked at once; beyond it the oldest windows are dropped first. */
const MAX_CLIENTS = 10_000;

/**
 * Failed API authentications per client IP in a one-minute window from the first failure. Past
 * RATE_LIMIT_API_AUTH_FAILURES_PER_MINUTE the client is refused until the window ends, right
 * token or not, so a token cannot be guessed at the API's general rate.
 */
@Injectable()
export class ApiAuthFailures {
  private readonly failures = new ExpiringMap<{ count: number; resetAt: number }>(MAX_CLIENTS);
  private readonly limit: number;

  constructor(
    config: AppConfig,
    private readonly clock: Clock,
  ) {
    this.limit = config.security.rateLimits.apiAuthFailuresPerMinute;
  }

  /** Seconds until `client` may try again; 0 when it may now. */
  retryAfterSeconds(client: string): number {
    const now = this.clock.now();
    const window = this.failures.get(client, now);
    return window && window.count >= this.limit ? Math.ceil((window.resetAt - now) / 1000) : 0;
  }

  record(client: string): void {
    const now = this.clock.now();
    const window = this.failures.get(client, now);
    if (window) window.count++;
    else this.failures.set(client, { count: 1, resetAt: now + WINDOW_MS }, now + WINDOW_MS, now);
  }
}
