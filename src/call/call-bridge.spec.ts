import WebSocket from 'ws';
import { bridgeHarness, CALL_SID, STREAM_SID } from '../../test/support/bridge-harness';
import { START_TIMEOUT_MS } from './call-bridge';

describe('CallBridge', () => {
  it('sends all the frames and the mark cut from one delta while the socket is corked, then uncorks it', () => {
    const h = bridgeHarness();
    h.twilio.receive(JSON.stringify({ event: 'start', start: { streamSid: STREAM_SID, callSid: CALL_SID, customParameters: {} } }));
    const rt = h.connector.sockets[0];
    rt.emitOpen();
    rt.receive(JSON.stringify({ type: 'response.created', response: { id: 'r1' } }));
    // 100 ms of audio: five 20 ms frames and one mark, which must leave in one write.
    const delta = Buffer.alloc(800, 0xff).toString('base64');
    rt.receive(JSON.stringify({ type: 'response.output_audio.delta', response_id: 'r1', item_id: 'i1', output_index: 0, content_index: 0, delta }));

    const events = h.twilio.sent.map((s) => (JSON.parse(s) as { event: string }).event);
    expect(events.filter((e) => e === 'media')).toHaveLength(5);
    expect(events.filter((e) => e === 'mark')).toHaveLength(1);
    expect(h.twilio.sentCorked).toBe(6);
    expect(h.twilio.corks).toBe(0);
  });

  it('ignores a keypress that comes before the start frame, however long after the connection', () => {
    const h = bridgeHarness();
    h.clock.advance(10_000);
    expect(() => h.twilio.receive(JSON.stringify({ event: 'dtmf', dtmf: { digit: '5' } }))).not.toThrow();
    expect(h.logs.find((l) => l.msg === 'ignored a malformed Twilio frame')).toMatchObject({ reason: 'dtmf before start' });
  });

  it('closes a connection that sends no start frame in time, freeing its call slot', () => {
    const h = bridgeHarness();
    h.twilio.receive(JSON.stringify({ event: 'connected' }));
    expect(h.registry.activeCalls).toBe(1);
    h.scheduler.advance(START_TIMEOUT_MS - 1);
    expect(h.twilio.readyState).toBe(WebSocket.OPEN);
    h.scheduler.advance(1);
    expect(h.twilio.closedWith).toMatchObject({ code: 1011, reason: 'no_start' });
    expect(h.registry.activeCalls).toBe(0);
    expect(h.connector.sockets).toHaveLength(0);
    expect(h.logs.find((l) => l.msg === 'media stream sent no start frame: closing it')).toBeDefined();
  });

  it('keeps a call whose start frame came in time', () => {
    const h = bridgeHarness();
    h.twilio.receive(JSON.stringify({ event: 'start', start: { streamSid: STREAM_SID, callSid: CALL_SID, customParameters: {} } }));
    h.scheduler.advance(START_TIMEOUT_MS * 2);
    expect(h.twilio.readyState).toBe(WebSocket.OPEN);
    expect(h.registry.activeCalls).toBe(1);
    expect(h.scheduler.pending).toBe(0);
  });
});
