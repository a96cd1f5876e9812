import twilio from 'twilio';
import { testProfile } from '../../test/support/profiles';
import { TwimlBuilder } from '../twilio/twiml.builder';
import { incomingCallForm, parseTwiml, reachableStreamUrl, streamUpgradeHeaders } from './voice-webhook';

describe('the voice webhook as the simulator reads it', () => {
  const builder = new TwimlBuilder();
  const params = { callSid: 'CA0123456789abcdef0123456789abcdef', from: '+14155552671', to: '+15557650000', direction: 'inbound', streamToken: 'v1.abc.def' };

  it('finds the stream and its parameters in the service TwiML, and the fallback after it', () => {
    const answer = parseTwiml(builder.connect('wss://example.com/twilio/stream', params, testProfile({ fallbackNumber: '+15550001111' })));
    expect(answer.stream).toEqual({ url: 'wss://example.com/twilio/stream', parameters: params });
    expect(answer.verbs).toEqual(['Connect', 'Dial']);
  });

  it('reads the fallback as no stream, with what Twilio would do instead', () => {
    const answer = parseTwiml(builder.fallback(testProfile()));
    expect(answer.stream).toBeNull();
    expect(answer.verbs).toEqual(['Say', 'Hangup']);
  });

  it('unescapes attribute values as XML does', () => {
    const answer = parseTwiml('<?xml version="1.0"?><Response><Connect><Stream url="wss://h/s?a=1&amp;b=2"><Parameter name="q" value="&lt;x&gt; &quot;y&quot;"/></Stream></Connect></Response>');
    expect(answer.stream).toEqual({ url: 'wss://h/s?a=1&b=2', parameters: { q: '<x> "y"' } });
  });

  it('says clearly when the answer is not TwiML', () => {
    expect(() => parseTwiml('{"ok":true}')).toThrow(/did not answer with XML/);
    expect(() => parseTwiml('<html><body>502 Bad Gateway</body></html>')).toThrow(/not TwiML \(no <Response>\)/);
  });

  it('signs the form and the stream URL as Twilio does', () => {
    const form = incomingCallForm({ callSid: params.callSid, accountSid: 'AC0123456789abcdef0123456789abcdef', from: params.from, to: params.to });
    expect(form).toMatchObject({ CallSid: params.callSid, From: params.from, To: params.to, CallStatus: 'ringing', Direction: 'inbound' });
    const headers = streamUpgradeHeaders('wss://example.com/twilio/stream', 'token');
    expect(twilio.validateRequest('token', headers['x-twilio-signature'], 'wss://example.com/twilio/stream', {})).toBe(true);
    expect(streamUpgradeHeaders('wss://example.com/twilio/stream', undefined)).toEqual({});
  });

  it('opens a wss:// stream on a plain-http local service without TLS, and any other as named', () => {
    expect(reachableStreamUrl('wss://localhost:8080/twilio/stream', 'http://localhost:8080')).toBe('ws://localhost:8080/twilio/stream');
    expect(reachableStreamUrl('wss://example.com/twilio/stream', 'http://localhost:8080')).toBe('wss://example.com/twilio/stream');
    expect(reachableStreamUrl('wss://example.com/twilio/stream', 'https://example.com')).toBe('wss://example.com/twilio/stream');
  });
});
