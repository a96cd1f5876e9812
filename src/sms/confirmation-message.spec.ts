import { confirmationBody, confirmationReference, helpText, MAX_CONFIRMATION_LENGTH, parseKeyword } from './confirmation-message';
import { textableNumber } from './sms-confirmations';

describe('confirmation message', () => {
  const facts = { business: 'Call Operator Pro Plumbing', reference: 'R-ABC123', callbackMinutes: 20 };

  it('says what was taken, the reference, what happens next, and how to opt out', () => {
    const body = confirmationBody({ ...facts, job: { problem: 'Leaking tap in the kitchen', serviceAddress: '12 Elm Street, Springfield', urgency: 'routine' } });
    expect(body).toBe(
      "Call Operator Pro Plumbing: we have your request (Leaking tap in the kitchen, at 12 Elm Street, Springfield). Ref R-ABC123. We'll call you to confirm a time. Reply STOP to opt out, HELP for help.",
    );
  });

  it('promises the on-call call back for an emergency', () => {
    const body = confirmationBody({ ...facts, job: { problem: 'Burst pipe', urgency: 'emergency' } });
    expect(body).toContain('(Burst pipe).');
    expect(body).toContain('Our on-call plumber will call you back within 20 minutes.');
  });

  it('fits 320 characters however long the job request, and keeps the reference and STOP line', () => {
    const long = { problem: 'water '.repeat(200), serviceAddress: 'Flat 3, '.repeat(60), urgency: 'urgent' as const };
    const body = confirmationBody({ ...facts, business: 'B'.repeat(200), job: long });
    expect(body.length).toBeLessThanOrEqual(MAX_CONFIRMATION_LENGTH);
    expect(body).toContain('Ref R-ABC123.');
    expect(body.endsWith('Reply STOP to opt out, HELP for help.')).toBe(true);
  });

  it('does without the problem and address', () => {
    expect(confirmationBody({ ...facts, job: { callerName: 'Dana' } })).toBe(
      "Call Operator Pro Plumbing: we have your request. Ref R-ABC123. We'll call you to confirm a time. Reply STOP to opt out, HELP for help.",
    );
  });

  it("tells the problem in the summary's words once the summary is made, with the address taken", () => {
    const job = { problem: 'pipe', serviceAddress: '12 Elm Street', urgency: 'emergency' as const };
    const summary = 'Dana Reyes called from 12 Elm Street. A burst pipe under the kitchen sink is flooding the floor, an emergency. The on-call plumber will call back.';
    expect(confirmationBody({ ...facts, job, summary })).toBe(
      'Call Operator Pro Plumbing: we have your request for 12 Elm Street. A burst pipe under the kitchen sink is flooding the floor, an emergency. Ref R-ABC123. Our on-call plumber will call you back within 20 minutes. Reply STOP to opt out, HELP for help.',
    );
    // A summary that is not three sentences, or none, leaves the job's own words.
    expect(confirmationBody({ ...facts, job, summary: 'Dana called.' })).toContain('(pipe, at 12 Elm Street).');
    expect(confirmationBody({ ...facts, job, summary: null })).toContain('(pipe, at 12 Elm Street).');
  });

  it('fits 320 characters with a long summary too', () => {
    const summary = `A caller rang. ${'Water everywhere '.repeat(40)}. Call back.`;
    const body = confirmationBody({ ...facts, job: { serviceAddress: 'Flat 3, '.repeat(60), urgency: 'urgent' }, summary });
    expect(body.length).toBeLessThanOrEqual(MAX_CONFIRMATION_LENGTH);
    expect(body).toContain('Water everywhere');
    expect(body.endsWith('Ref R-ABC123. We\'ll call you to confirm a time. Reply STOP to opt out, HELP for help.')).toBe(true);
  });

  it('derives a short reference from the call SID', () => {
    expect(confirmationReference('CA0123456789abcdef0123456789abcdef')).toBe('R-ABCDEF');
  });

  it('answers HELP with the business and its number', () => {
    expect(helpText('Pro Plumbing', '+15557650000')).toBe('Pro Plumbing: texts about your plumbing requests. Call us on +15557650000. Reply STOP to opt out, START to opt back in.');
  });
});

describe('keywords', () => {
  it.each(['STOP', 'stop', ' Stop. ', 'STOPALL', 'unsubscribe', 'CANCEL', 'end', 'QUIT!'])('%s opts out', (body) => {
    expect(parseKeyword(body)?.kind).toBe('opt-out');
  });
  it.each(['START', 'yes', 'UNSTOP'])('%s opts in', (body) => {
    expect(parseKeyword(body)?.kind).toBe('opt-in');
  });
  it.each(['HELP', 'info'])('%s asks for help', (body) => {
    expect(parseKeyword(body)?.kind).toBe('help');
  });
  it.each(['please stop texting me', 'STOP IT', '', 'thanks'])('%s is no keyword', (body) => {
    expect(parseKeyword(body)).toBeNull();
  });
  it('names the keyword in capitals', () => {
    expect(parseKeyword(' quit ')).toEqual({ kind: 'opt-out', keyword: 'QUIT' });
  });
});

describe('textable numbers', () => {
  it('takes a valid mobile-capable number, as E.164', () => {
    expect(textableNumber('(415) 555-2671', 'US')).toBe('+14155552671');
    expect(textableNumber('+447700900123', 'US')).toBeNull();
    expect(textableNumber('+447911123456', 'US')).toBe('+447911123456');
  });
  it('refuses a landline, an invalid number, none', () => {
    expect(textableNumber('+442079460000', 'US')).toBeNull();
    expect(textableNumber('12345', 'US')).toBeNull();
    expect(textableNumber(undefined, 'US')).toBeNull();
    expect(textableNumber('anonymous', 'US')).toBeNull();
  });
});
