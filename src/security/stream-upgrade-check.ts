import { Injectable } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { AppLogger } from '../logging/app-logger';
import { TwilioSignatureVerifier } from './twilio-signature';

/** Lets a media stream upgrade through only with Twilio's signature (when signatures are enforced). */
@Injectable()
export class StreamUpgradeCheck {
  private readonly log: Logger;

  constructor(
    private readonly verifier: TwilioSignatureVerifier,
    logger: AppLogger,
  ) {
    this.log = logger.child({ component: 'twilio-signature' });
  }

  allows(req: IncomingMessage): boolean {
    if (!this.verifier.enforced || this.verifier.isSignedUpgrade(req)) return true;
    this.log.warn(
      { path: req.url?.split('?')[0], remote: req.socket.remoteAddress, signature: req.headers['x-twilio-signature'] ? 'invalid' : 'missing' },
      'media stream upgrade refused: bad signature',
    );
    return false;
  }
}
