import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import { AppLogger } from '../logging/app-logger';
import { CallProfileResolver } from '../profile/call-profile.resolver';
import type { CallProfile } from '../profile/call-profile';
import { TwilioCallControlError } from '../twilio/twilio-call-control';
import { FakeCallControl } from '../../test/support/fake-call-control';
import { LogCapture } from '../../test/support/log-capture';
import { testProfile } from '../../test/support/profiles';
import { AnsweringMachines, spokenNumber, voicemailText } from './answering-machine';
import { OutboundAttempts, type AttemptRef, type AttemptState, type MachineAction, type StatusReport } from './outbound-attempts';

const CALL_SID = 'CA0123456789abcdef0123456789abcdef';
const CALLER_ID = '+12125550123';

describe('spokenNumber', () => {
  it.each([
    ['+12125550123', '2 1 2, 5 5 5, 0 1 2 3'],
    ['+442071838750', '0 2 0, 7 1 8 3, 8 7 5 0'],
    // An unassigned area code still reads in its country's groups.
    ['+15551234567', '5 5 5, 1 2 3, 4 5 6 7'],
  ])('reads %s as %s', (number, spoken) => {
    expect(spokenNumber(number)).toBe(spoken);
  });
});

describe('voicemailText', () => {
  it('fills in every placeholder, and leaves the rest of the text as written', () => {
    expect(voicemailText('{company} here. Call {callback_number}; again: {callback_number}. {company}!', { company: 'Acme Plumbing', callbackNumber: CALLER_ID })).toBe(
      'Acme Plumbing here. Call 2 1 2, 5 5 5, 0 1 2 3; again: 2 1 2, 5 5 5, 0 1 2 3. Acme Plumbing!',
    );
  });
});

/** The attempts of one call, as AnsweringMachines sees them: the first answer stands, as in SQL. */
class OneCallAttempts extends OutboundAttempts {
  answered: { value: string; action?: MachineAction } | null = null;
  actionError: string | null = null;
  constructor(private readonly callSid: string) {
    super();
  }
  private state(applied: boolean): AttemptState {
    return {
      requestId: 'ob_0001',
      attempt: 1,
      callSid: this.callSid,
      status: 'in-progress',
      answeredBy: this.answered?.value ?? null,
      endedAt: null,
      applied,
      outcome: null,
      outcomeChanged: false,
    };
  }
  async answeredBy(callSid: string, value: string, _at: string, _link?: AttemptRef, action?: MachineAction): Promise<AttemptState | undefined> {
    if (callSid !== this.callSid) return undefined;
    if (this.answered) return this.state(false);
    this.answered = { value, action };
    return this.state(true);
  }
  async machineActionFailed(callSid: string, reason: string): Promise<AttemptState | undefined> {
    this.actionError = reason;
    return callSid === this.callSid ? { ...this.state(false), status: 'completed' } : undefined;
  }
  started(): Promise<boolean> {
    throw new Error('not used');
  }
  dialed(): Promise<void> {
    throw new Error('not used');
  }
  dialFailed(): Promise<AttemptState | undefined> {
    throw new Error('not used');
  }
  statusReported(_report: StatusReport): Promise<AttemptState | undefined> {
    throw new Error('not used');
  }
  recentAttempts(): Promise<number[]> {
    throw new Error('not used');
  }
}

class FixedProfile extends CallProfileResolver {
  readonly asked: string[] = [];
  resolve(to: string): CallProfile {
    this.asked.push(to);
    return testProfile({ companyName: 'Acme Plumbing' });
  }
}

describe('AnsweringMachines', () => {
  let attempts: OneCallAttempts;
  let control: FakeCallControl;
  let profiles: FixedProfile;
  let logs: LogCapture;

  const machines = (env: Record<string, string> = {}) => {
    const config = new AppConfig(validateEnvironment({ OUTBOUND_CALLER_ID: CALLER_ID, ...env }));
    return new AnsweringMachines(attempts, control, profiles, config, new AppLogger(config, logs));
  };
  const answer = (answeredBy: string) => ({ callSid: CALL_SID, answeredBy, at: '2026-12-02T15:00:30.000Z' });

  beforeEach(() => {
    attempts = new OneCallAttempts(CALL_SID);
    control = new FakeCallControl();
    profiles = new FixedProfile();
    logs = new LogCapture();
  });

  it.each(['machine_end_beep', 'machine_end_silence', 'machine_end_other'])(
    'after a greeting (%s) records the message as the action, then has Twilio say it and hang up',
    async (answeredBy) => {
      expect(await machines().answered(answer(answeredBy))).toMatchObject({ answeredBy, applied: true });
      expect(attempts.answered).toEqual({ value: answeredBy, action: 'message' });
      expect(control.said).toEqual([{ callSid: CALL_SID, text: expect.stringContaining('Acme Plumbing') }]);
      expect(control.said[0].text).toContain('call us back at 2 1 2, 5 5 5, 0 1 2 3.');
      expect(control.said[0].text).toContain('we will not call again');
      // The business is the one whose line the call came from.
      expect(profiles.asked).toEqual([CALLER_ID]);
      expect(control.hungUp).toEqual([]);
      expect(logs.find('answering machine: leaving the voicemail message', { callSid: CALL_SID, action: 'message' })).toBeDefined();
    },
  );

  it('says the configured message', async () => {
    await machines({ OUTBOUND_VOICEMAIL_MESSAGE: 'This is {company}. Ring {callback_number}.' }).answered(answer('machine_end_beep'));
    expect(control.said.map((s) => s.text)).toEqual(['This is Acme Plumbing. Ring 2 1 2, 5 5 5, 0 1 2 3.']);
  });

  it('only hangs up on a machine with OUTBOUND_VOICEMAIL=hangup', async () => {
    await machines({ OUTBOUND_VOICEMAIL: 'hangup' }).answered(answer('machine_end_silence'));
    expect(attempts.answered).toEqual({ value: 'machine_end_silence', action: 'hangup' });
    expect(control.hungUp).toEqual([CALL_SID]);
    expect(control.said).toEqual([]);
  });

  it.each(['fax', 'machine_start'])('hangs up on %s without a message', async (answeredBy) => {
    await machines().answered(answer(answeredBy));
    expect(attempts.answered).toEqual({ value: answeredBy, action: 'hangup' });
    expect(control.hungUp).toEqual([CALL_SID]);
    expect(control.said).toEqual([]);
  });

  it.each(['human', 'unknown'])('leaves a call answered by %s with the agent', async (answeredBy) => {
    expect(await machines().answered(answer(answeredBy))).toMatchObject({ answeredBy, applied: true });
    expect(attempts.answered).toEqual({ value: answeredBy, action: undefined });
    expect(control.hungUp).toEqual([]);
    expect(control.said).toEqual([]);
  });

  it('acts once: a repeated callback finds the answer recorded', async () => {
    const m = machines();
    await m.answered(answer('machine_end_beep'));
    expect(await m.answered(answer('machine_end_beep'))).toMatchObject({ applied: false });
    expect(control.said).toHaveLength(1);
  });

  it('records why when Twilio refuses (the call has ended), and returns the attempt as that leaves it', async () => {
    control.failure = new TwilioCallControlError('Call is not in-progress. Cannot redirect.', 400, 21220);
    expect(await machines().answered(answer('machine_end_beep'))).toMatchObject({ status: 'completed' });
    expect(attempts.actionError).toBe('Call is not in-progress. Cannot redirect.');
    expect(logs.find('answering machine: action refused by Twilio', { callSid: CALL_SID, action: 'message' })).toBeDefined();
  });

  it('does nothing for a call no attempt has', async () => {
    expect(await machines().answered({ ...answer('machine_end_beep'), callSid: 'CA' + 'f'.repeat(32) })).toBeUndefined();
    expect(control.said).toEqual([]);
    expect(control.hungUp).toEqual([]);
  });
});
