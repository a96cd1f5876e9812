import { Injectable, ServiceUnavailableException, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import { AppConfig } from '../config/app-config';
import { ApiAuthFailures } from '../security/api-auth-failures';
import { tooManyRequests } from '../security/rate-limit.guard';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Bearer API_TOKEN for the call log API; the API stays closed until a token is configured. */
@Injectable()
export class ApiTokenGuard implements CanActivate {
  private readonly expected: Buffer | null;

  constructor(
    config: AppConfig,
    private readonly failures: ApiAuthFailures,
  ) {
    this.expected = config.apiToken ? digest(config.apiToken) : null;
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.expected) {
      throw new ServiceUnavailableException('The call log API is disabled: set API_TOKEN to enable it.');
    }
    const req = context.switchToHttp().getRequest<Request>();
    const client = req.ip ?? '';
    const retryAfter = this.failures.retryAfterSeconds(client);
    if (retryAfter > 0) throw tooManyRequests(context.switchToHttp().getResponse<Response>(), retryAfter);
    const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    // Compared as digests: constant time, whatever the length of what was sent.
    if (!match || !timingSafeEqual(digest(match[1]), this.expected)) {
      this.failures.record(client);
      throw new UnauthorizedException('A valid bearer token is required.');
    }
    return true;
  }
}
