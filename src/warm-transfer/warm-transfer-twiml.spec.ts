import { conferenceTwiml, goodbyeTwiml, transferUrl, WARM_TRANSFER_PATHS, whisperTwiml } from './warm-transfer-twiml';

const BASE = 'https://calls.example.com';
const ID = 'a'.repeat(24);
const CALL = 'CA' + 'b'.repeat(32);

describe('warm transfer TwiML', () => {
  it('whispers the summary inside a one-key Gather that posts to the answer URL, then says goodbye', () => {
    expect(whisperTwiml(BASE, CALL, ID, 'Emergency call from Dana at 12 Elm Street: burst pipe.')).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Response>' +
        `<Gather numDigits="1" action="${BASE}/twilio/warm-transfer/answer?call=${CALL}&amp;transfer=${ID}" method="POST" timeout="8">` +
        '<Say>Emergency call from Dana at 12 Elm Street: burst pipe. Press 1 to take the call, 2 to decline.</Say></Gather>' +
        '<Say>No answer received. Goodbye.</Say><Hangup/></Response>',
    );
  });

  it('escapes what the model wrote', () => {
    expect(whisperTwiml(BASE, CALL, ID, 'Pipe <burst> & "leaking"')).toContain('<Say>Pipe &lt;burst&gt; &amp; "leaking" Press 1');
  });

  it('bridges both legs into a conference that ends when either leaves, without a beep', () => {
    expect(conferenceTwiml(ID)).toBe(
      `<?xml version="1.0" encoding="UTF-8"?><Response><Dial><Conference endConferenceOnExit="true" beep="false">transfer-${ID}</Conference></Dial></Response>`,
    );
  });

  it('says goodbye and hangs up', () => {
    expect(goodbyeTwiml('Goodbye.')).toBe('<?xml version="1.0" encoding="UTF-8"?><Response><Say>Goodbye.</Say><Hangup/></Response>');
  });

  it('names the call and the transfer in the URL query', () => {
    expect(transferUrl(BASE, WARM_TRANSFER_PATHS.status, CALL, ID)).toBe(`${BASE}/twilio/warm-transfer/status?call=${CALL}&transfer=${ID}`);
  });
});
