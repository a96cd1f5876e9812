import { PAGE_MAX_CHARS, pageMessage } from './page-message';

const LINK = 'https://calls.example.com/console/#/calls/CA0123456789abcdef0123456789abcdef';

describe('pageMessage', () => {
  it('says whose emergency, where to call back, the address, the problem, how to answer, and links the call', () => {
    const text = pageMessage(
      'Acme Plumbing',
      { callerName: 'Dana Smith', callbackNumber: '+14155552671', serviceAddress: '12 Elm Street, Springfield.', problem: 'Burst pipe in the basement!', callerNumber: '+15551230000' },
      LINK,
    );
    expect(text).toBe(`EMERGENCY Acme Plumbing: Dana Smith, call back +14155552671. 12 Elm Street, Springfield. Burst pipe in the basement. Reply YES to take it, NO to pass it on. ${LINK}`);
    expect(text.length).toBeLessThanOrEqual(PAGE_MAX_CHARS);
  });

  it('falls back on the caller ID, says what is missing, and flags an unverified number', () => {
    expect(pageMessage('Acme', { callerNumber: '+15551230000' }, undefined)).toBe(
      'EMERGENCY Acme: Caller (name not given), call back +15551230000. Address not given yet. Problem not described yet. Reply YES to take it, NO to pass it on.',
    );
    expect(pageMessage('Acme', { callbackNumber: '2225550100', callbackNumberUnverified: true, callerNumber: '+15551230000' }, undefined)).toContain(
      'call back 2225550100 (unverified, caller ID +15551230000).',
    );
  });

  it('keeps within two SMS segments by shortening the problem, then the address, never the link', () => {
    const text = pageMessage(
      'Acme Plumbing & Heating of Springfield',
      { callerName: 'Dana Smith-Johnson', callbackNumber: '+14155552671', serviceAddress: 'Flat 9, ' + 'Long Road '.repeat(20), problem: 'water '.repeat(100), callerNumber: '+15551230000' },
      LINK,
    );
    expect(text.length).toBeLessThanOrEqual(PAGE_MAX_CHARS);
    expect(text.endsWith(LINK)).toBe(true);
    expect(text).toContain('Flat 9');
    expect(text).toContain('water water');
    expect(text).toContain('…');
    expect(text).toContain('EMERGENCY Acme Plumbing & Heating of Sp…: Dana Smith-Johnson, call back +14155552671.');
  });

  it('leaves out a link that cannot fit with the rest', () => {
    const text = pageMessage('Acme', { callerName: 'Dana', problem: 'Leak', callerNumber: '+15551230000' }, `https://example.com/${'x'.repeat(400)}`);
    expect(text.length).toBeLessThanOrEqual(PAGE_MAX_CHARS);
    expect(text).not.toContain('https://');
  });
});
