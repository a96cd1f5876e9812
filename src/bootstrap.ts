import type { INestApplication } from '@nestjs/common';
import { AppConfig } from './config/app-config';
import { NestLogger } from './logging/app-logger';
import { MediaStreamWsAdapter } from './twilio/media-stream.adapter';

/** What main.ts and the e2e tests both do to an app before it listens. */
export function configureApp(app: INestApplication): void {
  const config = app.get(AppConfig);
  app.useLogger(app.get(NestLogger));
  app.useWebSocketAdapter(new MediaStreamWsAdapter(app, config.calls.wsMaxPayloadBytes));
}
