import fc from 'fast-check';
import { parseTwilioFrame, TwilioOutbound } from './twilio-protocol';

const STREAM = 'MZ0123456789abcdef0123456789abcdef';
const CALL = 'CA0123456789abcdef0123456789abcdef';

describe('parseTwilioFrame', () => {
  it('reads a start frame with its custom parameters', () => {
    const frame = parseTwilioFrame(
      JSON.stringify({
        event: 'start',
        sequenceNumber: '1',
        streamSid: STREAM,
        start: {
          streamSid: STREAM,
          callSid: CALL,
          accountSid: 'AC0123456789abcdef0123456789abcdef',
          tracks: ['inbound'],
          customParameters: { from: '+15551230000', to: '+15557650000' },
          mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
        },
      }),
    );
    expect(frame).toEqual({
      event: 'start',
      streamSid: STREAM,
      callSid: CALL,
      accountSid: 'AC0123456789abcdef0123456789abcdef',
      customParameters: { from: '+15551230000', to: '+15557650000' },
    });
  });

  it('converts the string timestamp of a media frame to a number', () => {
    const frame = parseTwilioFrame(
      JSON.stringify({ event: 'media', streamSid: STREAM, media: { track: 'inbound', chunk: '3', timestamp: '40', payload: '//8=' } }),
    );
    expect(frame).toEqual({ event: 'media', payload: '//8=', timestamp: 40 });
  });

  it.each([
    ['not JSON', '{nope', 'not JSON'],
    ['a JSON array', '[1,2]', 'not a JSON object'],
    ['an unknown event', '{"event":"close"}', 'unknown event close'],
    ['media without payload', '{"event":"media","media":{"timestamp":"0"}}', 'media with a payload that is not base64'],
    ['media with a quote in the payload', '{"event":"media","media":{"timestamp":"0","payload":"ab\\"c"}}', 'media with a payload that is not base64'],
    ['media with a bad timestamp', '{"event":"media","media":{"timestamp":"soon","payload":"//8="}}', 'media with a malformed timestamp'],
    ['media on the outbound track', '{"event":"media","media":{"track":"outbound","timestamp":"0","payload":"//8="}}', 'media on a track other than inbound'],
    ['a nameless mark', '{"event":"mark","mark":{}}', 'mark without a name'],
    ['start with a malformed callSid', `{"event":"start","start":{"streamSid":"${STREAM}","callSid":"x"}}`, 'start with a malformed callSid'],
    ['start with another encoding', `{"event":"start","start":{"streamSid":"${STREAM}","callSid":"${CALL}","mediaFormat":{"encoding":"audio/l16"}}}`, 'start with unsupported encoding audio/l16'],
    ['dtmf without a digit', '{"event":"dtmf","dtmf":{"digit":"55"}}', 'dtmf without a digit'],
  ])('reports %s as invalid', (_name, text, reason) => {
    expect(parseTwilioFrame(text)).toEqual({ event: 'invalid', reason });
  });

  it('reads mark, dtmf, stop and connected', () => {
    expect(parseTwilioFrame('{"event":"mark","mark":{"name":"0:1"}}')).toEqual({ event: 'mark', name: '0:1' });
    expect(parseTwilioFrame('{"event":"dtmf","dtmf":{"track":"inbound_track","digit":"5"}}')).toEqual({ event: 'dtmf', digit: '5' });
    expect(parseTwilioFrame('{"event":"stop","stop":{}}')).toEqual({ event: 'stop' });
    expect(parseTwilioFrame('{"event":"connected","protocol":"Call"}')).toEqual({ event: 'connected' });
  });

  it('keeps only string custom parameters of a sane size', () => {
    const frame = parseTwilioFrame(
      JSON.stringify({
        event: 'start',
        start: { streamSid: STREAM, callSid: CALL, customParameters: { ok: 'yes', n: 5, long: 'x'.repeat(600) } },
      }),
    );
    expect(frame).toMatchObject({ event: 'start', customParameters: { ok: 'yes' } });
  });
});

describe('TwilioOutbound', () => {
  it('builds valid JSON frames carrying the streamSid', () => {
    const out = new TwilioOutbound(STREAM);
    expect(JSON.parse(out.media('//8='))).toEqual({ event: 'media', streamSid: STREAM, media: { payload: '//8=' } });
    expect(JSON.parse(out.mark('3:"7'))).toEqual({ event: 'mark', streamSid: STREAM, mark: { name: '3:"7' } });
    expect(JSON.parse(out.clear())).toEqual({ event: 'clear', streamSid: STREAM });
  });
});

describe('parseTwilioFrame on media frames as Twilio writes them', () => {
  /** A media frame with Twilio's field order, which the parser reads without a JSON parse. */
  const asTwilioWrites = (payload: string, timestamp: string, track = 'inbound') =>
    `{"event":"media","sequenceNumber":"42","media":{"track":"${track}","chunk":"41","timestamp":"${timestamp}","payload":"${payload}"},"streamSid":"${STREAM}"}`;
  /** The same frame in another field order, which only the full parser reads. */
  const reordered = (payload: string, timestamp: string, track = 'inbound') =>
    JSON.stringify({ streamSid: STREAM, media: { payload, timestamp, chunk: '41', track }, sequenceNumber: '42', event: 'media' });

  it('reads them exactly as the full parser reads the same frame', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 400 }), fc.nat({ max: 10_000_000 }), (bytes, ms) => {
        const payload = Buffer.from(bytes).toString('base64');
        const frame = parseTwilioFrame(asTwilioWrites(payload, String(ms)));
        expect(frame).toEqual({ event: 'media', payload, timestamp: ms });
        expect(frame).toEqual(parseTwilioFrame(reordered(payload, String(ms))));
      }),
      { numRuns: 500 },
    );
  });

  it.each([
    ['a payload whose length is not a multiple of 4', '//8', '20', 'inbound', 'media with a payload that is not base64'],
    ['an empty payload', '', '20', 'inbound', 'media with a payload that is not base64'],
    ['the outbound track', '//8=', '20', 'outbound', 'media on a track other than inbound'],
  ])('refuses %s, fast path or not', (_what, payload, timestamp, track, reason) => {
    expect(parseTwilioFrame(asTwilioWrites(payload, timestamp, track))).toEqual({ event: 'invalid', reason });
  });

  it('leaves anything that is not exactly that shape to the full parser', () => {
    // A quote in the payload: no base64, and the text is no JSON either.
    expect(parseTwilioFrame(asTwilioWrites('AA"A', '20'))).toEqual({ event: 'invalid', reason: 'not JSON' });
    // An extra field is still read, by the full parser.
    const extra = asTwilioWrites('//8=', '20').replace('"streamSid"', '"extra":1,"streamSid"');
    expect(parseTwilioFrame(extra)).toEqual({ event: 'media', payload: '//8=', timestamp: 20 });
  });
});

describe('parseTwilioFrame on mark echoes as Twilio writes them', () => {
  const asTwilioWrites = (nameJson: string) => `{"event":"mark","sequenceNumber":"88","streamSid":"${STREAM}","mark":{"name":${nameJson}}}`;
  const reordered = (name: string) => JSON.stringify({ mark: { name }, streamSid: STREAM, event: 'mark', sequenceNumber: '88' });

  it('reads any name exactly as the full parser reads the same frame (names with escapes through the full parser)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 40 })), (name) => {
        const frame = parseTwilioFrame(asTwilioWrites(JSON.stringify(name)));
        expect(frame).toEqual(parseTwilioFrame(reordered(name)));
        expect(frame).toEqual(name.length <= 256 ? { event: 'mark', name } : { event: 'invalid', reason: 'mark without a name' });
      }),
      { numRuns: 500 },
    );
  });

  it('reads a name without escapes, as this service names its marks, without a JSON parse', () => {
    const parse = jest.spyOn(JSON, 'parse');
    try {
      expect(parseTwilioFrame(asTwilioWrites('"resp_7:960:m12"'))).toEqual({ event: 'mark', name: 'resp_7:960:m12' });
      expect(parse).not.toHaveBeenCalled();
    } finally {
      parse.mockRestore();
    }
  });

  it('refuses a name longer than 256, fast path or not', () => {
    expect(parseTwilioFrame(asTwilioWrites(JSON.stringify('m'.repeat(257))))).toEqual({ event: 'invalid', reason: 'mark without a name' });
    expect(parseTwilioFrame(asTwilioWrites(JSON.stringify('m'.repeat(256))))).toEqual({ event: 'mark', name: 'm'.repeat(256) });
  });
});
