import { Injectable, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerException,
  ThrottlerGuard,
  type ThrottlerLimitDetail,
  type ThrottlerModuleOptions,
  type ThrottlerRequest,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import type { Request, Response } from 'express';
import type { AppConfig } from '../config/app-config';
import { TwilioSignatureVerifier } from './twilio-signature';

/** Twilio routes reached without a valid signature, per client IP. */
export const TWILIO_UNSIGNED = 'twilio-unsigned';
/** The bearer-token API, per client IP. */
export const API = 'api';

const MINUTE_MS = 60_000;

export function throttlers(config: AppConfig): ThrottlerModuleOptions {
  const limits = config.security.rateLimits;
  return {
    // Retry-After is set by the guard under its plain name (the library would suffix the throttler's).
    setHeaders: false,
    throttlers: [
      { name: TWILIO_UNSIGNED, ttl: MINUTE_MS, limit: limits.twilioUnsignedPerMinute },
      { name: API, ttl: MINUTE_MS, limit: limits.apiPerMinute },
    ],
  };
}

/** 429 with Retry-After (seconds). */
export function tooManyRequests(res: Response, retryAfterSeconds: number): ThrottlerException {
  res.header('Retry-After', String(Math.max(1, retryAfterSeconds)));
  return new ThrottlerException();
}

/**
 * Rate limits by client IP (req.ip, so TRUST_PROXY decides who the client is behind a proxy).
 * Genuine Twilio traffic, validly signed, is never limited: a busy line sends webhooks by the
 * hundred per minute from a few addresses. Only unsigned Twilio requests and the API are; health
 * and readiness probes never are.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    private readonly signatures: TwilioSignatureVerifier,
  ) {
    super(options, storage, reflector);
  }

  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    return context.getType() !== 'http';
  }

  protected override async handleRequest(props: ThrottlerRequest): Promise<boolean> {
    const req = props.context.switchToHttp().getRequest<Request>();
    return this.limits(props.throttler.name, req) ? super.handleRequest(props) : true;
  }

  /** One count per client across the routes a throttler covers (the library counts per route). */
  protected override generateKey(_context: ExecutionContext, tracker: string, throttlerName: string): string {
    return `${throttlerName}:${tracker}`;
  }

  protected override async throwThrottlingException(context: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    throw tooManyRequests(context.switchToHttp().getResponse<Response>(), detail.timeToBlockExpire);
  }

  private limits(throttler: string | undefined, req: Request): boolean {
    if (throttler === API) return req.path.startsWith('/api/');
    return req.path.startsWith('/twilio/') && !this.signatures.isSignedWebhook(req);
  }
}
