import type { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppConfig } from './config/app-config';
import { NestLogger } from './logging/app-logger';
import { StreamUpgradeCheck } from './security/stream-upgrade-check';
import { MediaStreamWsAdapter } from './phone-line/media-stream.adapter';

/** What main.ts and the e2e tests both do to an app before it listens. */
export function configureApp(app: INestApplication): void {
  const config = app.get(AppConfig);
  app.useLogger(app.get(NestLogger));
  // Who the client is behind a proxy: rate limits count by req.ip.
  (app as NestExpressApplication).set('trust proxy', config.security.trustProxy);
  const upgrades = app.get(StreamUpgradeCheck);
  app.useWebSocketAdapter(new MediaStreamWsAdapter(app, config.calls.wsMaxPayloadBytes, (req) => upgrades.allows(req)));
}
