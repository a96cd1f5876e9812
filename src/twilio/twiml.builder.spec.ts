import { testProfile } from '../../test/support/profiles';
import { streamUrl, TwimlBuilder } from './twiml.builder';

const params = { callSid: 'CA0123456789abcdef0123456789abcdef', from: '+15551230000', to: '+15557650000', direction: 'inbound', streamToken: '1900000000.nonce.mac' };

describe('TwimlBuilder', () => {
  it('connects the call to a bidirectional stream with the call parameters, fallback after </Connect>', () => {
    const xml = new TwimlBuilder().connect('wss://op.example.com/twilio/stream', params, testProfile());
    expect(xml).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Response>' +
        '<Connect><Stream url="wss://op.example.com/twilio/stream">' +
        '<Parameter name="callSid" value="CA0123456789abcdef0123456789abcdef"/>' +
        '<Parameter name="from" value="+15551230000"/>' +
        '<Parameter name="to" value="+15557650000"/>' +
        '<Parameter name="direction" value="inbound"/>' +
        '<Parameter name="streamToken" value="1900000000.nonce.mac"/>' +
        '</Stream></Connect>' +
        "<Say>Sorry, Acme Plumbing can't take your call right now. Please call back in a few minutes.</Say><Hangup/>" +
        '</Response>',
    );
  });

  it('dials the fallback number when one is configured', () => {
    const xml = new TwimlBuilder().fallback(testProfile({ fallbackNumber: '+15550001111' }));
    expect(xml).toBe('<?xml version="1.0" encoding="UTF-8"?><Response><Dial>+15550001111</Dial></Response>');
  });

  it('apologises in the company name and hangs up without a fallback number', () => {
    const xml = new TwimlBuilder().fallback(testProfile());
    expect(xml).toContain("<Say>Sorry, Acme Plumbing can't take your call right now.");
    expect(xml).toContain('<Hangup/>');
    expect(xml).not.toContain('<Connect>');
  });

  it('escapes the company name', () => {
    expect(new TwimlBuilder().fallback(testProfile({ companyName: 'Smith & <Sons>' }))).toContain('Smith &amp; &lt;Sons&gt;');
  });
});

describe('streamUrl', () => {
  it('prefers PUBLIC_BASE_URL and maps https to wss', () => {
    expect(streamUrl('https://op.example.com', { host: 'internal:8080' })).toBe('wss://op.example.com/twilio/stream');
    expect(streamUrl('https://op.example.com/base', {})).toBe('wss://op.example.com/base/twilio/stream');
    expect(streamUrl('http://localhost:8080', {})).toBe('ws://localhost:8080/twilio/stream');
  });

  it('uses the first X-Forwarded-Host, then Host', () => {
    expect(streamUrl(undefined, { 'x-forwarded-host': 'a.example.com, proxy.local', host: 'internal' })).toBe('wss://a.example.com/twilio/stream');
    expect(streamUrl(undefined, { host: 'b.example.com:8443' })).toBe('wss://b.example.com:8443/twilio/stream');
  });

  it('refuses a host header that is not a host name', () => {
    expect(streamUrl(undefined, { host: 'evil.com/"><Hangup/>' })).toBeNull();
    expect(streamUrl(undefined, {})).toBeNull();
  });
});
