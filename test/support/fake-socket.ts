import { EventEmitter } from 'node:events';
import WebSocket from 'ws';

/**
 * A `ws` WebSocket without a network, for unit tests of code that owns one: the test plays the
 * peer (emitOpen, receive, peerClose) and reads what was sent. Like ws: close() only starts the
 * closing handshake (messages may still arrive until the peer answers with peerClose()), 'close'
 * is emitted once, and a send on a socket that is not open is dropped (ws reports it to the send
 * callback).
 */
export class FakeSocket extends EventEmitter {
  readyState: number;
  /** Always 0: nothing here waits for a network. */
  readonly bufferedAmount: number = 0;
  readonly sent: string[] = [];
  /** As a TCP transport: how deep the cork is, and the messages sent while it was corked. */
  corks = 0;
  sentCorked = 0;
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
    if (this.corks > 0) this.sentCorked++;
  }

  cork(): void {
    this.corks++;
  }

  uncork(): void {
    this.corks--;
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState === WebSocket.CONNECTING) {
      this.finish(1006, '');
      return;
    }
    if (this.readyState !== WebSocket.OPEN) return;
    this.readyState = WebSocket.CLOSING;
    this.closedWith = { code, reason };
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

  /** A message from the peer; also while our close is in flight, as on a real connection. */
  receive(data: string | Buffer, isBinary = false): void {
    if (this.readyState !== WebSocket.OPEN && this.readyState !== WebSocket.CLOSING) return;
    this.emit('message', typeof data === 'string' ? Buffer.from(data) : data, isBinary);
  }

  /** The peer closes, or answers our close: either way the connection is gone. */
  peerClose(code = 1000): void {
    if (this.readyState === WebSocket.CLOSED) return;
    const ours = this.closedWith;
    this.finish(ours?.code ?? code, ours?.reason ?? '');
  }

  private finish(code: number, reason: string): void {
    this.readyState = WebSocket.CLOSED;
    this.closedWith ??= { code, reason };
    this.emit('close', code, Buffer.from(reason));
  }
}
