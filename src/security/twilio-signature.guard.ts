import { ForbiddenException, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import type { Logger } from 'pino';
import { AppLogger } from '../logging/app-logger';
import { TwilioSignatureVerifier } from './twilio-signature';

/** Lets a Twilio webhook through only with a valid X-Twilio-Signature (when signatures are enforced). */
@Injectable()
export class TwilioSignatureGuard implements CanActivate {
  private readonly log: Logger;

  constructor(
    private readonly verifier: TwilioSignatureVerifier,
    logger: AppLogger,
  ) {
    this.log = logger.child({ component: 'twilio-signature' });
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.verifier.enforced) return true;
    const req = context.switchToHttp().getRequest<Request>();
    if (this.verifier.isSignedWebhook(req)) return true;
    this.log.warn(
      { method: req.method, path: req.path, remote: req.ip, signature: req.headers['x-twilio-signature'] ? 'invalid' : 'missing' },
      'twilio webhook refused: bad signature',
    );
    throw new ForbiddenException('Invalid Twilio signature.');
  }
}
