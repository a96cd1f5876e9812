import { type OnGatewayConnection, WebSocketGateway } from '@nestjs/websockets';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type WebSocket from 'ws';
import { CallFactory } from '../call/call-factory';
import { CallRegistry } from '../call/call-registry';
import { Scheduler } from '../common/scheduler';
import { AppLogger } from '../logging/app-logger';
import { CallMetrics } from '../metrics/call-metrics';
import { StreamTokens } from '../security/stream-tokens';
import { STREAM_PATH } from '../twilio/twiml.builder';
import { MediaStreamHandshake } from './media-stream-handshake';

/** "Try again later": the close code for a stream refused while the service cannot take calls. */
export const CLOSE_TRY_AGAIN_LATER = 1013;

/** The Twilio Media Streams endpoint. Holds no call logic: each connection starts with its handshake. */
@WebSocketGateway({ path: STREAM_PATH })
export class MediaStreamGateway implements OnGatewayConnection {
  private readonly log: Logger;

  constructor(
    private readonly calls: CallFactory,
    private readonly registry: CallRegistry,
    private readonly tokens: StreamTokens,
    private readonly scheduler: Scheduler,
    private readonly metrics: CallMetrics,
    logger: AppLogger,
  ) {
    this.log = logger.child({ component: 'media-stream' });
  }

  handleConnection(socket: WebSocket, request: IncomingMessage): void {
    // Every stream's close, refused, failed in its handshake or ended as a call.
    socket.on('close', (code: number) => {
      this.metrics.webSocketClosed('twilio', code);
      this.log.debug({ code }, 'media stream closed');
    });
    const refusal = this.registry.refusal();
    if (refusal) {
      this.log.warn({ refusal, remote: request.socket.remoteAddress }, 'media stream refused');
      socket.close(CLOSE_TRY_AGAIN_LATER, refusal);
      return;
    }
    // The TCP socket lets a delta's frames leave in one write (corked).
    new MediaStreamHandshake(socket, request.socket, {
      calls: this.calls,
      tokens: this.tokens,
      registry: this.registry,
      scheduler: this.scheduler,
      log: this.log,
    });
  }
}
