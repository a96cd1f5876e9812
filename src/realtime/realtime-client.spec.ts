import WebSocket from 'ws';
import { FakeSocket } from '../../test/support/fake-socket';
import { ManualScheduler } from '../common/scheduler';
import { RealtimeClient, type RealtimeListener } from './realtime-client';
import { buildResponseCreate, type RealtimeServerEvent } from './realtime-protocol';

const CONNECT_TIMEOUT_MS = 5_000;

describe('RealtimeClient', () => {
  let scheduler: ManualScheduler;
  let socket: FakeSocket;
  let opens: number;
  let events: RealtimeServerEvent[];
  let closes: Array<Parameters<RealtimeListener['onClosed']>[0]>;
  let client: RealtimeClient;

  beforeEach(() => {
    scheduler = new ManualScheduler();
    socket = new FakeSocket(false);
    opens = 0;
    events = [];
    closes = [];
    client = new RealtimeClient(
      socket.ws,
      'ga',
      { onOpen: () => opens++, onEvent: (event) => events.push(event), onClosed: (info) => closes.push(info) },
      CONNECT_TIMEOUT_MS,
      scheduler,
    );
  });

  it('opens within the connect timeout, and the timeout no longer applies', () => {
    scheduler.advance(CONNECT_TIMEOUT_MS - 1);
    socket.emitOpen();
    expect(opens).toBe(1);
    expect(client.isOpen).toBe(true);
    expect(scheduler.pending).toBe(0);
    scheduler.advance(CONNECT_TIMEOUT_MS);
    expect(closes).toEqual([]);
    expect(client.send(buildResponseCreate())).toBe(true);
    expect(socket.sent).toEqual(['{"type":"response.create"}']);
  });

  it('gives up when the socket has not opened by the connect timeout: terminated, reported closed, never opened', () => {
    scheduler.advance(CONNECT_TIMEOUT_MS - 1);
    expect(closes).toEqual([]);
    scheduler.advance(1);
    expect(socket.readyState).toBe(WebSocket.CLOSED);
    expect(closes).toEqual([{ code: 4000, reason: 'connect timeout', opened: false }]);
    expect(opens).toBe(0);
    expect(client.send(buildResponseCreate())).toBe(false);
  });

  it('terminates a socket closed before it opened, reports that once, and cancels the connect timeout', () => {
    client.close();
    expect(socket.readyState).toBe(WebSocket.CLOSED);
    expect(closes).toEqual([{ code: 1006, reason: '', opened: false }]);
    expect(scheduler.pending).toBe(0);
    scheduler.advance(CONNECT_TIMEOUT_MS);
    expect(closes).toHaveLength(1);
  });

  it('closes an open socket with the code and reason given, and reports it when the peer answers', () => {
    socket.emitOpen();
    client.close(1000, 'call ended');
    expect(closes).toEqual([]);
    socket.peerClose();
    expect(closes).toEqual([{ code: 1000, reason: 'call ended', opened: true }]);
  });

  it('reports a socket error once, with its message, though the socket closes after it', () => {
    socket.emitOpen();
    socket.emit('error', new Error('read ECONNRESET'));
    socket.peerClose(1006);
    socket.emit('error', new Error('again'));
    scheduler.advance(CONNECT_TIMEOUT_MS);
    expect(closes).toEqual([{ code: 1006, reason: 'read ECONNRESET', opened: true }]);
  });

  it('reports a refused upgrade with the HTTP status, once', () => {
    socket.emit('unexpected-response', {}, { statusCode: 503 });
    scheduler.advance(CONNECT_TIMEOUT_MS);
    expect(closes).toEqual([{ code: 4503, reason: 'upgrade refused with HTTP 503', opened: false }]);
    expect(scheduler.pending).toBe(0);
  });

  it('passes text frames on parsed and binary frames on as invalid, in arrival order', () => {
    socket.emitOpen();
    socket.receive('{"type":"session.created","session":{}}');
    socket.receive(Buffer.from([1, 2, 3]), true);
    expect(events.map((e) => e.type)).toEqual(['session.created', 'invalid']);
    expect(events[1]).toEqual({ type: 'invalid', reason: 'binary frame' });
  });
});
