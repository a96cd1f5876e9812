import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app-config';
import { parseRetryAfter, type AttemptResult } from './delivery-policy';
import type { WebhookHeaders } from './webhook-signer';

/** The part of a URL that logs may show: a webhook URL's path and query often carry the receiver's token. */
export function receiverOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
}

/**
 * One HTTP attempt: POST the body with its signature headers, with Node's fetch, waiting at most
 * WEBHOOK_TIMEOUT_MS for the answer's status. Redirects are not followed; the answer's body is not
 * read. Never throws: what went wrong is the result.
 */
@Injectable()
export class WebhookSender {
  private readonly timeoutMs: number;
  private readonly userAgent: string;

  constructor(
    config: AppConfig,
    private readonly clock: Clock,
  ) {
    this.timeoutMs = config.webhooks.timeoutMs;
    this.userAgent = `call-operator/${config.version} (Standard Webhooks)`;
  }

  /** `cancel`: aborted when the attempt is given up (shutdown). */
  async send(url: string, headers: WebhookHeaders, body: string, cancel?: AbortSignal): Promise<AttemptResult> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', 'user-agent': this.userAgent },
        body,
        redirect: 'manual',
        signal: cancel ? AbortSignal.any([timeout, cancel]) : timeout,
      });
      // Only the status counts; the body is dropped unread so the connection is freed.
      await res.body?.cancel().catch(() => undefined);
      return { kind: 'response', status: res.status, retryAfterMs: parseRetryAfter(res.headers.get('retry-after'), this.clock.epochMs()) };
    } catch (err) {
      if (cancel?.aborted) return { kind: 'error', error: 'given up at shutdown' };
      return { kind: 'error', error: timeout.aborted ? `timed out after ${this.timeoutMs} ms` : describeFetchError(err) };
    }
  }
}

/** Why fetch got no answer, without the URL (undici's causes name the address, not the path). */
function describeFetchError(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (typeof cause?.code === 'string') return `no answer: ${cause.code}`;
  const message = err instanceof Error ? err.message : String(err);
  return `no answer: ${message.slice(0, 200)}`;
}
