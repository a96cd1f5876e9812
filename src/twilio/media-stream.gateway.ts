import { type OnGatewayConnection, WebSocketGateway } from '@nestjs/websockets';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type WebSocket from 'ws';
import { CallBridgeFactory } from '../call/call-bridge.factory';
import { CallRegistry } from '../call/call-registry';
import { AppLogger } from '../logging/app-logger';
import { STREAM_PATH } from './twiml.builder';

/** "Try again later": the close code for a stream refused while the service cannot take calls. */
export const CLOSE_TRY_AGAIN_LATER = 1013;

/** The Twilio Media Streams endpoint. Holds no call logic: each connection goes to its own CallBridge. */
@WebSocketGateway({ path: STREAM_PATH })
export class MediaStreamGateway implements OnGatewayConnection {
  private readonly log: Logger;

  constructor(
    private readonly bridges: CallBridgeFactory,
    private readonly registry: CallRegistry,
    logger: AppLogger,
  ) {
    this.log = logger.child({ component: 'media-stream' });
  }

  handleConnection(socket: WebSocket, request: IncomingMessage): void {
    const refusal = this.registry.refusal();
    if (refusal) {
      this.log.warn({ refusal, remote: request.socket.remoteAddress }, 'media stream refused');
      socket.close(CLOSE_TRY_AGAIN_LATER, refusal);
      return;
    }
    this.bridges.create().attach(socket, request.socket);
  }
}
