import type { INestApplicationContext } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import type { MessageMappingProperties } from '@nestjs/websockets';
import { WsAdapter } from '@nestjs/platform-ws';
import type { Observable } from 'rxjs';

/** Decides whether a WebSocket upgrade may become a socket; refused ones get 403 and no socket. */
export type UpgradeCheck = (request: IncomingMessage) => boolean;

/**
 * The `ws` adapter with three changes for media streams: every server gets the configured
 * maxPayload, every upgrade must pass `upgradeCheck` (Twilio's signature) before it becomes a
 * socket, and gateways without @SubscribeMessage handlers get no message pipeline (the
 * default one would JSON-parse every audio frame a second time just to find no handler).
 */
export class MediaStreamWsAdapter extends WsAdapter {
  constructor(
    app: INestApplicationContext,
    private readonly maxPayload: number,
    private readonly upgradeCheck: UpgradeCheck,
  ) {
    super(app);
  }

  override create(port: number, options: Record<string, unknown> = {}): unknown {
    const verifyClient = (info: { req: IncomingMessage }, done: (ok: boolean, code?: number) => void): void =>
      this.upgradeCheck(info.req) ? done(true) : done(false, 403);
    return super.create(port, { ...options, maxPayload: this.maxPayload, verifyClient });
  }

  override bindMessageHandlers(
    client: unknown,
    handlers: MessageMappingProperties[],
    transform: (data: unknown) => Observable<unknown>,
  ): void {
    if (handlers.length === 0) return;
    super.bindMessageHandlers(client, handlers, transform);
  }
}
