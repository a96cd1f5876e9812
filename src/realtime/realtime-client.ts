import { Injectable } from '@nestjs/common';
import WebSocket from 'ws';
import { Scheduler, type ScheduledTask } from '../common/scheduler';
import { wsText } from '../common/ws-text';
import { AppConfig, type RealtimeApiShape } from '../config/app-config';
import { parseRealtimeEvent, type RealtimeClientEvent, type RealtimeServerEvent } from './realtime-protocol';

export interface RealtimeListener {
  onOpen(): void;
  /** Called synchronously for each server event, in arrival order. */
  onEvent(event: RealtimeServerEvent): void;
  /** Called once, when the connection is gone: closed, failed to open, or timed out. */
  onClosed(info: { code: number; reason: string; opened: boolean }): void;
}

/** One call's WebSocket to the OpenAI Realtime API. */
export class RealtimeClient {
  private opened = false;
  private closedReported = false;
  private readonly connectDeadline: ScheduledTask;

  constructor(
    private readonly socket: WebSocket,
    readonly shape: RealtimeApiShape,
    private readonly listener: RealtimeListener,
    connectTimeoutMs: number,
    scheduler: Scheduler,
  ) {
    this.connectDeadline = scheduler.after(connectTimeoutMs, () => this.fail(4000, 'connect timeout'));
    socket.on('open', () => {
      this.connectDeadline.cancel();
      this.opened = true;
      listener.onOpen();
    });
    socket.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      if (isBinary) {
        listener.onEvent({ type: 'invalid', reason: 'binary frame' });
        return;
      }
      listener.onEvent(parseRealtimeEvent(wsText(data)));
    });
    socket.on('unexpected-response', (_req, res) => this.fail(4000 + (res.statusCode ?? 0), `upgrade refused with HTTP ${res.statusCode}`));
    // Errors are always followed by 'close' (or handled by fail): the reason is reported there.
    socket.on('error', (err) => this.fail(1006, err.message));
    socket.on('close', (code, reason) => this.reportClosed(code, reason.toString()));
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /** Sends a prepared JSON string (hot path) or an event object. Dropped if the socket is not open. */
  send(event: string | RealtimeClientEvent): boolean {
    if (this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(typeof event === 'string' ? event : JSON.stringify(event));
    return true;
  }

  close(code = 1000, reason = 'call ended'): void {
    this.connectDeadline.cancel();
    if (this.socket.readyState === WebSocket.CONNECTING) {
      this.socket.terminate();
    } else if (this.socket.readyState === WebSocket.OPEN) {
      this.socket.close(code, reason);
    }
  }

  private fail(code: number, reason: string): void {
    this.connectDeadline.cancel();
    // Claimed before terminate(), which may emit 'close' at once: the cause is reported, not the 1006 that follows.
    const report = !this.closedReported;
    this.closedReported = true;
    this.socket.terminate();
    if (report) this.listener.onClosed({ code, reason, opened: this.opened });
  }

  private reportClosed(code: number, reason: string): void {
    this.connectDeadline.cancel();
    if (this.closedReported) return;
    this.closedReported = true;
    this.listener.onClosed({ code, reason, opened: this.opened });
  }
}

/** Opens Realtime connections with the configured URL, model, key and API shape. */
@Injectable()
export class RealtimeConnector {
  constructor(
    private readonly config: AppConfig,
    protected readonly scheduler: Scheduler,
  ) {}

  connect(listener: RealtimeListener): RealtimeClient {
    const { realtimeUrl, model, apiKey, api, connectTimeoutMs } = this.config.openai;
    const url = new URL(realtimeUrl);
    url.searchParams.set('model', model);
    const headers: Record<string, string> = { Authorization: `Bearer ${apiKey ?? ''}` };
    if (api === 'beta') headers['OpenAI-Beta'] = 'realtime=v1';
    const socket = new WebSocket(url, { headers, perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 });
    return new RealtimeClient(socket, api, listener, connectTimeoutMs, this.scheduler);
  }
}
