import WebSocket from 'ws';
import { callHarness, CALL_SID, STREAM_SID } from '../../test/support/call-harness';
import { deferred } from '../../test/support/wait';
import type { StreamTokenRefusal } from '../security/stream-tokens';
import { START_TIMEOUT_MS } from './media-stream-handshake';

const start = JSON.stringify({ event: 'start', start: { streamSid: STREAM_SID, callSid: CALL_SID, customParameters: {} } });

describe('MediaStreamHandshake', () => {
  it('holds a call slot from the first byte, and hands it to the call at a valid start', () => {
    const h = callHarness();
    expect(h.registry.activeCalls).toBe(1);
    expect(h.registry.find(CALL_SID)).toBeUndefined();
    h.twilio.receive(JSON.stringify({ event: 'connected' }));
    h.twilio.receive(start);
    expect(h.call).not.toBeNull();
    expect(h.registry.activeCalls).toBe(1);
    expect(h.registry.find(CALL_SID)).toBe(h.call);
    expect(h.connector.sockets).toHaveLength(1);
  });

  it('ignores and counts what comes before the start, however long after the connection', () => {
    const h = callHarness();
    h.scheduler.advance(START_TIMEOUT_MS - 1);
    expect(() => h.twilio.receive(JSON.stringify({ event: 'dtmf', dtmf: { digit: '5' } }))).not.toThrow();
    h.twilio.receive(JSON.stringify({ event: 'media', media: { timestamp: '0', payload: '//8=' } }));
    h.twilio.receive('{nope');
    expect(h.logs.filter((l) => l.msg === 'ignored a malformed Twilio frame').map((l) => l.reason)).toEqual([
      'dtmf before start',
      'media before start',
      'not JSON',
    ]);
    expect(h.connector.sockets).toHaveLength(0);
    h.twilio.receive(start);
    h.twilio.receive(start);
    expect(h.logs.filter((l) => l.msg === 'ignored a malformed Twilio frame').at(-1)).toMatchObject({ reason: 'second start', count: 4, callSid: CALL_SID });
    h.twilio.peerClose();
    expect(h.logs.find((l) => l.msg === 'call ended')).toMatchObject({ malformedFrames: 4 });
  });

  it('closes a connection that sends no start frame in time, freeing its slot', () => {
    const h = callHarness();
    h.twilio.receive(JSON.stringify({ event: 'connected' }));
    h.scheduler.advance(START_TIMEOUT_MS - 1);
    expect(h.twilio.readyState).toBe(WebSocket.OPEN);
    h.scheduler.advance(1);
    expect(h.twilio.closedWith).toMatchObject({ code: 1011, reason: 'no_start' });
    expect(h.registry.activeCalls).toBe(0);
    expect(h.connector.sockets).toHaveLength(0);
    expect(h.call).toBeNull();
    expect(h.logs.find((l) => l.msg === 'media stream sent no start frame: closing it')).toBeDefined();
    // What a closing socket still delivers is not read any more.
    h.twilio.receive(start);
    expect(h.call).toBeNull();
  });

  it('keeps a call whose start frame came in time, with no timer left behind', () => {
    const h = callHarness();
    h.twilio.receive(start);
    h.scheduler.advance(START_TIMEOUT_MS * 2);
    expect(h.twilio.readyState).toBe(WebSocket.OPEN);
    expect(h.registry.activeCalls).toBe(1);
    // The Realtime connect timeout is the one task left, until its socket opens.
    expect(h.scheduler.pending).toBe(1);
    h.connector.sockets[0].emitOpen();
    expect(h.scheduler.pending).toBe(0);
  });

  it('frees the slot when Twilio goes away before the start', () => {
    const h = callHarness();
    h.twilio.peerClose(1006);
    expect(h.registry.activeCalls).toBe(0);
    expect(h.call).toBeNull();
    expect(h.scheduler.pending).toBe(0);
  });

  it('closes at once, without a goodbye, when shutdown reaches it before the start', async () => {
    const h = callHarness();
    const [handshake] = h.registry.live();
    await handshake.endWithGoodbye();
    expect(h.twilio.closedWith).toMatchObject({ code: 1000, reason: 'shutdown' });
    expect(h.registry.activeCalls).toBe(0);
  });

  describe('while the stream token is checked (in Redis, for a fleet)', () => {
    /** A harness whose token check answers when the test says. */
    function checking() {
      const answer = deferred<StreamTokenRefusal | null>();
      const h = callHarness({}, { tokens: { redeem: () => answer.promise } });
      h.twilio.receive(start);
      return { h, answer };
    }
    const media = (n: number) => JSON.stringify({ event: 'media', media: { timestamp: String(n * 20), payload: Buffer.alloc(160, n).toString('base64') } });

    it('holds the frames that follow the start, and the call reads them first, in order', async () => {
      const { h, answer } = checking();
      for (let n = 1; n <= 3; n++) h.twilio.receive(media(n));
      expect(h.call).toBeNull();
      expect(h.connector.sockets).toHaveLength(0);

      answer.resolve(null);
      await answer.promise;
      expect(h.call).not.toBeNull();
      h.twilio.receive(media(4));
      h.connector.sockets[0].emitOpen();
      const appended = h.connector.sockets[0].sent
        .map((s) => JSON.parse(s) as { type: string; audio?: string })
        .filter((e) => e.type === 'input_audio_buffer.append')
        .map((e) => Buffer.from(e.audio!, 'base64')[0]);
      expect(appended).toEqual([1, 2, 3, 4]);
      expect(h.logs.filter((l) => l.msg === 'ignored a malformed Twilio frame')).toEqual([]);
    });

    it('refuses the stream when the token was used on another instance, opening no Realtime session', async () => {
      const { h, answer } = checking();
      h.twilio.receive(media(1));
      answer.resolve('stream_token_replayed');
      await answer.promise;
      expect(h.twilio.closedWith).toMatchObject({ code: 1011, reason: 'stream_token_replayed' });
      expect(h.call).toBeNull();
      expect(h.connector.sockets).toHaveLength(0);
      expect(h.registry.activeCalls).toBe(0);
    });

    it('builds no call when Twilio went away meanwhile', async () => {
      const { h, answer } = checking();
      h.twilio.peerClose(1006);
      answer.resolve(null);
      await answer.promise;
      expect(h.call).toBeNull();
      expect(h.connector.sockets).toHaveLength(0);
      expect(h.registry.activeCalls).toBe(0);
    });

    it('closes the stream when the check itself fails', async () => {
      const { h, answer } = checking();
      answer.reject(new Error('boom'));
      await answer.promise.catch(() => undefined);
      expect(h.twilio.closedWith).toMatchObject({ code: 1011, reason: 'stream_token_unchecked' });
      expect(h.registry.activeCalls).toBe(0);
    });
  });
});
