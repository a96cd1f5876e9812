import { EventEmitter } from 'node:events';
import WebSocket from 'ws';

/**
 * A `ws` WebSocket without a network, for unit tests of code that owns one: the test plays the
 * peer (emitOpen, receive, peerClose) and reads what was sent. Like ws, it emits 'close' once,
 * and a send on a socket that is not open is dropped (ws reports it to the send callback).
 */
export class FakeSocket extends EventEmitter {
  readyState: number;
  readonly sent: string[] = [];
  /** Sends attempted while the socket was not open. */
  sentWhileClosed = 0;
  closedWith: { code: number; reason: string } | null = null;

  constructor(open = true) {
    super();
    this.readyState = open ? WebSocket.OPEN : WebSocket.CONNECTING;
  }

  /** Typed as the real thing for the code under test. */
  get ws(): WebSocket {
    return this as unknown as WebSocket;
  }

  send(data: string): void {
    if (this.readyState !== WebSocket.OPEN) {
      this.sentWhileClosed++;
      return;
    }
    this.sent.push(data);
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState === WebSocket.CLOSED) return;
    this.finish(code, reason);
  }

  terminate(): void {
    if (this.readyState === WebSocket.CLOSED) return;
    this.finish(1006, '');
  }

  // ---- the peer ----

  emitOpen(): void {
    if (this.readyState !== WebSocket.CONNECTING) return;
    this.readyState = WebSocket.OPEN;
    this.emit('open');
  }

  receive(data: string | Buffer, isBinary = false): void {
    if (this.readyState !== WebSocket.OPEN) return;
    this.emit('message', typeof data === 'string' ? Buffer.from(data) : data, isBinary);
  }

  peerClose(code = 1000): void {
    if (this.readyState === WebSocket.CLOSED) return;
    this.finish(code, '');
  }

  private finish(code: number, reason: string): void {
    this.readyState = WebSocket.CLOSED;
    this.closedWith = { code, reason };
    this.emit('close', code, Buffer.from(reason));
  }
}
