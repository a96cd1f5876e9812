import { callHarness, CALL_SID, STREAM_SID, type CallHarness } from '../../test/support/call-harness';
import { metricValue } from '../../test/support/metric-value';

/** What every queue inside a call holds at most, and what happens when a peer pushes past it. */

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function start(h: CallHarness): void {
  h.twilio.receive(JSON.stringify({ event: 'connected' }));
  h.twilio.receive(JSON.stringify({ event: 'start', start: { streamSid: STREAM_SID, callSid: CALL_SID, customParameters: {} } }));
}

function media(h: CallHarness, k: number): void {
  const payload = Buffer.alloc(160, k % 256).toString('base64');
  h.twilio.receive(JSON.stringify({ event: 'media', streamSid: STREAM_SID, media: { track: 'inbound', timestamp: String(k * 20), payload } }));
}

function sentTo(socket: { sent: string[] }, type: string): Array<Record<string, any>> {
  return socket.sent.map((s) => JSON.parse(s) as Record<string, any>).filter((e) => e.type === type);
}

describe('Call bounds', () => {
  it('keeps only the newest early caller audio, as much as the connect timeout allows, logged once and counted', async () => {
    // OPENAI_CONNECT_TIMEOUT_MS=1000: room for a connect, its retry and the pause between
    // (1000 + 500 + 1000) plus 2000 ms of audio: 225 frames.
    const h = callHarness();
    start(h);
    for (let k = 0; k < 400; k++) media(h, k);
    const rt = h.connector.sockets[0];
    rt.emitOpen();
    const appended = sentTo(rt, 'input_audio_buffer.append');
    expect(appended).toHaveLength(225);
    expect(Buffer.from(appended[0].audio as string, 'base64')[0]).toBe(175 % 256);
    expect(Buffer.from(appended[224].audio as string, 'base64')[0]).toBe(399 % 256);
    expect(h.logs.filter((l) => l.msg === 'early caller audio over its bound; dropping the oldest')).toHaveLength(1);
    h.twilio.peerClose();
    expect(h.logs.find((l) => l.msg === 'call ended')).toMatchObject({ earlyAudioDropped: 175 });
    expect(await metricValue(h.metrics.registry, 'call_operator_backpressure_drops_total', { where: 'realtime_early_audio' })).toBe(175);
  });

  it('refuses tool calls beyond its bound while outputs wait for their response, logged once and counted', async () => {
    const h = callHarness();
    start(h);
    const rt = h.connector.sockets[0];
    rt.emitOpen();
    rt.receive(JSON.stringify({ type: 'response.created', response: { id: 'r1' } }));
    for (let k = 0; k < 40; k++) {
      rt.receive(JSON.stringify({ type: 'response.function_call_arguments.done', response_id: 'r1', call_id: `c${k}`, name: 'note', arguments: '{}' }));
    }
    await settle();
    expect(h.call?.['sequencer'].pendingOutputs).toBe(16);
    rt.receive(JSON.stringify({ type: 'response.done', response: { id: 'r1', status: 'completed' } }));
    expect(sentTo(rt, 'conversation.item.create').map((e) => e.item.call_id)).toEqual(Array.from({ length: 16 }, (_, k) => `c${k}`));

    // Room again once the outputs are out.
    rt.receive(JSON.stringify({ type: 'response.created', response: { id: 'r2' } }));
    rt.receive(JSON.stringify({ type: 'response.function_call_arguments.done', response_id: 'r2', call_id: 'later', name: 'note', arguments: '{}' }));
    rt.receive(JSON.stringify({ type: 'response.done', response: { id: 'r2', status: 'completed' } }));
    await settle();
    expect(sentTo(rt, 'conversation.item.create').map((e) => e.item.call_id)).toContain('later');
    expect(h.logs.filter((l) => l.msg === 'too many tool calls pending; refusing more')).toHaveLength(1);
    h.twilio.peerClose();
    expect(h.logs.find((l) => l.msg === 'call ended')).toMatchObject({ toolCallsRefused: 24 });
  });
});
