import { callHarness, CALL_SID, STREAM_SID } from '../../test/support/call-harness';

describe('Call', () => {
  it('sends all the frames and the mark cut from one delta while the socket is corked, then uncorks it', () => {
    const h = callHarness();
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
});
