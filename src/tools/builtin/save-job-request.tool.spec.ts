import { CrmService, type JobRequest } from '../../crm/crm.port';
import { testProfile } from '../../../test/support/profiles';
import type { ToolCallContext } from '../tool';
import type { EmergencyAlert } from '../../on-call/emergency-alerts';
import type { EmergencyFacts } from '../../on-call/page-message';
import { CALLBACK_NUMBER_REASKED, normalisePhone, ON_CALL_DETAIL, saveJobRequestTool, unverifiedPhone } from './save-job-request.tool';

const CALLER = '+15551230000';
// Possible but not valid in the US: area code 222 is not assigned (a new one, or a mis-heard digit).
const NEW_AREA_CODE = '222 555 0100';

class RecordingCrm extends CrmService {
  readonly jobs: JobRequest[] = [];
  callStarted(): void {}
  jobRequested(_call: { callSid: string; from: string }, job: JobRequest): void {
    this.jobs.push(job);
  }
  callEnded(): void {}
}

/** The on-call side as the tool sees it: what was raised and updated, answering as scripted. */
class RecordingEmergencies {
  readonly raised: Array<{ callSid: string; facts: EmergencyFacts }> = [];
  readonly updated: EmergencyFacts[] = [];
  answer: EmergencyAlert = { alerted: true, person: { id: 'alice', name: 'Alice' }, callbackWithinMinutes: 15 };
  async raise(callSid: string, facts: EmergencyFacts): Promise<EmergencyAlert> {
    this.raised.push({ callSid, facts });
    return this.answer;
  }
  update(_callSid: string, facts: EmergencyFacts): void {
    this.updated.push(facts);
  }
}

/** One call: its details persist across the tool calls made with it. */
function call(crmOn = true, emergencies?: RecordingEmergencies) {
  const details = new Map<string, unknown>();
  const ctx: ToolCallContext = {
    callSid: 'CA0123456789abcdef0123456789abcdef',
    streamSid: 'MZ0123456789abcdef0123456789abcdef',
    from: CALLER,
    to: '+15557650000',
    profile: testProfile({ crm: crmOn }),
    call: { agentFinishedSpeaking: () => Promise.resolve(), markOutcome: () => undefined, instruct: () => true, hold: () => undefined, whenEnded: () => new Promise(() => undefined) },
    setDetail: (key, value) => void details.set(key, value),
    getDetail: (key) => details.get(key),
  };
  const crm = new RecordingCrm();
  const tool = saveJobRequestTool(crm, 'US', emergencies);
  const save = (args: Record<string, unknown>) => tool.handler(args, ctx) as Promise<Record<string, any>>;
  return { ctx, details, crm, save };
}

describe('save_job_request', () => {
  it('saves a valid callback number in E.164 and sends the job to the CRM', async () => {
    const { details, crm, save } = call();
    const result = await save({ caller_name: ' Dana Smith ', callback_number: '(415) 555-2671', urgency: 'emergency' });
    expect(result).toEqual({
      saved: true,
      jobRequest: { callerName: 'Dana Smith', callbackNumber: '+14155552671', urgency: 'emergency' },
      stillMissing: ['serviceAddress', 'problem', 'preferredTime'],
    });
    expect(details.get('jobRequest')).toEqual(result.jobRequest);
    expect(crm.jobs).toEqual([result.jobRequest]);
  });

  it('saves the other fields of a call whose number is possible but not valid, and asks for the number again', async () => {
    const { details, crm, save } = call();
    const result = await save({ caller_name: 'Dana Smith', callback_number: NEW_AREA_CODE, problem: 'Burst pipe' });
    expect(result).toMatchObject({
      saved: true,
      callbackNumberSaved: false,
      askAgain: expect.stringContaining('Ask the caller to repeat their callback number'),
      jobRequest: { callerName: 'Dana Smith', problem: 'Burst pipe' },
    });
    expect(result.jobRequest).not.toHaveProperty('callbackNumber');
    expect(result.stillMissing).toContain('callbackNumber');
    expect(details.get('jobRequest')).toEqual({ callerName: 'Dana Smith', problem: 'Burst pipe' });
    expect(details.get(CALLBACK_NUMBER_REASKED)).toBe(true);
    expect(crm.jobs).toEqual([{ callerName: 'Dana Smith', problem: 'Burst pipe' }]);
  });

  it('saves a number that is still not valid the second time, in E.164 and flagged unverified', async () => {
    const { details, crm, save } = call();
    await save({ callback_number: NEW_AREA_CODE });
    // Nothing else was given the first time: nothing to store or send yet.
    expect(details.get('jobRequest')).toBeUndefined();
    expect(crm.jobs).toEqual([]);

    const result = await save({ callback_number: NEW_AREA_CODE });
    expect(result).toMatchObject({ saved: true, callbackNumberSaved: true, note: expect.stringContaining('unverified') });
    expect(details.get('jobRequest')).toEqual({ callbackNumber: '+12225550100', callbackNumberUnverified: true });
    expect(crm.jobs).toEqual([{ callbackNumber: '+12225550100', callbackNumberUnverified: true }]);
  });

  it('asks again for a number that cannot be one, then keeps its digits as said, flagged unverified', async () => {
    const { details, save } = call();
    expect(await save({ callback_number: '555-12' })).toMatchObject({ saved: false, callbackNumberSaved: false, askAgain: expect.any(String) });
    expect(await save({ callback_number: '555 12', problem: 'Leak' })).toMatchObject({ saved: true, callbackNumberSaved: true });
    expect(details.get('jobRequest')).toEqual({ callbackNumber: '55512', callbackNumberUnverified: true, problem: 'Leak' });
  });

  it('never saves a callback number without a digit in it', async () => {
    const { details, save } = call();
    await save({ callback_number: 'the same one' });
    expect(await save({ callback_number: 'the same one', problem: 'Leak' })).toMatchObject({ saved: true, callbackNumberSaved: false, askAgain: expect.any(String) });
    expect(details.get('jobRequest')).toEqual({ problem: 'Leak' });
  });

  it('corrects fields, keeps the others, and drops the unverified flag when a valid number comes', async () => {
    const { details, crm, save } = call();
    await save({ caller_name: 'Dana', callback_number: '415 155 1234' });
    await save({ callback_number: '415 155 1234', service_address: '12 Elm Street' });
    expect(details.get('jobRequest')).toEqual({ callerName: 'Dana', serviceAddress: '12 Elm Street', callbackNumber: '+14151551234', callbackNumberUnverified: true });

    const result = await save({ callback_number: '415 555 1234', caller_name: 'Dana Smith' });
    expect(result).toEqual({
      saved: true,
      jobRequest: { callerName: 'Dana Smith', serviceAddress: '12 Elm Street', callbackNumber: '+14155551234' },
      stillMissing: ['problem', 'urgency', 'preferredTime'],
    });
    expect(crm.jobs.at(-1)).toEqual(result.jobRequest);
  });

  it('asks again once for each run of numbers that are not valid, a valid one in between', async () => {
    const { details, save } = call();
    await save({ callback_number: NEW_AREA_CODE });
    await save({ callback_number: '415 555 1234' });
    expect(await save({ callback_number: '415 155 1234' })).toMatchObject({ callbackNumberSaved: false, askAgain: expect.any(String) });
    expect(details.get('jobRequest')).toEqual({ callbackNumber: '+14155551234' });
    expect(await save({ callback_number: '415 155 1234' })).toMatchObject({ callbackNumberSaved: true });
    expect(details.get('jobRequest')).toEqual({ callbackNumber: '+14151551234', callbackNumberUnverified: true });
    // Once saved unverified, a further wrong number is not asked for again.
    expect(await save({ callback_number: NEW_AREA_CODE })).toMatchObject({ callbackNumberSaved: true });
  });

  it('keeps the earlier valid number while a wrong correction is asked for again', async () => {
    const { details, save } = call();
    await save({ callback_number: '415 555 1234' });
    expect(await save({ callback_number: NEW_AREA_CODE })).toMatchObject({ saved: false, callbackNumberSaved: false, jobRequest: { callbackNumber: '+14155551234' } });
    expect(details.get('jobRequest')).toEqual({ callbackNumber: '+14155551234' });
  });

  it('saves on the call record but tells no CRM when the call profile has none', async () => {
    const { details, crm, save } = call(false);
    expect(await save({ problem: 'Dripping tap', callback_number: '415 555 1234' })).toMatchObject({ saved: true });
    expect(details.get('jobRequest')).toEqual({ problem: 'Dripping tap', callbackNumber: '+14155551234' });
    expect(crm.jobs).toEqual([]);
  });

  it('raises an emergency with the on-call rota once, and tells the model what to say honestly', async () => {
    const emergencies = new RecordingEmergencies();
    const { details, save } = call(true, emergencies);
    const routine = await save({ problem: 'Dripping tap', urgency: 'routine' });
    expect(routine).not.toHaveProperty('onCall');
    expect(emergencies.raised).toEqual([]);

    const result = await save({ caller_name: 'Dana Smith', problem: 'Burst pipe, water everywhere', urgency: 'emergency' });
    expect(result).toMatchObject({
      onCall: { alerted: true, person: { name: 'Alice' }, callbackWithinMinutes: 15 },
      tellCaller: expect.stringContaining("I've alerted our on-call plumber, Alice, who will call you back within 15 minutes."),
    });
    expect(emergencies.raised).toEqual([
      { callSid: 'CA0123456789abcdef0123456789abcdef', facts: { business: 'Acme Plumbing', callerName: 'Dana Smith', problem: 'Burst pipe, water everywhere', callerNumber: CALLER } },
    ]);
    expect(details.get(ON_CALL_DETAIL)).toEqual(emergencies.answer);

    // Later saves only bring the pages' facts up to date; the model is not told again.
    const later = await save({ service_address: '12 Elm Street', callback_number: '(415) 555-2671' });
    expect(later).not.toHaveProperty('tellCaller');
    expect(emergencies.raised).toHaveLength(1);
    expect(emergencies.updated).toEqual([expect.objectContaining({ serviceAddress: '12 Elm Street', callbackNumber: '+14155552671', problem: 'Burst pipe, water everywhere' })]);
  });

  it('raises an emergency once when two saves come at the same time', async () => {
    const emergencies = new RecordingEmergencies();
    const { save } = call(true, emergencies);
    const [a, b] = await Promise.all([save({ problem: 'Flooding', urgency: 'emergency' }), save({ caller_name: 'Dana', urgency: 'emergency' })]);
    expect(emergencies.raised).toHaveLength(1);
    expect([a, b].filter((r) => 'tellCaller' in r)).toHaveLength(1);
    expect(emergencies.updated).toHaveLength(1);
  });

  it('tells the model when nobody could be alerted, and does not raise it again', async () => {
    const emergencies = new RecordingEmergencies();
    emergencies.answer = { alerted: false, reason: 'nobody_on_call' };
    const { save } = call(true, emergencies);
    const result = await save({ problem: 'Sewage coming up', urgency: 'emergency' });
    expect(result).toMatchObject({ onCall: { alerted: false, reason: 'nobody_on_call' }, tellCaller: expect.stringContaining('no on-call plumber has been paged') });
    await save({ caller_name: 'Lee' });
    expect(emergencies.raised).toHaveLength(1);
    expect(emergencies.updated).toEqual([]);
  });

  it('describes the re-ask in its schema', () => {
    const tool = saveJobRequestTool(new RecordingCrm(), 'US');
    expect(tool.parameters).toMatchObject({ properties: { callback_number: { description: expect.stringContaining('unverified') } } });
  });
});

describe('normalisePhone', () => {
  it('reads numbers written digit by digit', () => {
    expect(normalisePhone('4 1 5, 5 5 5, 2 6 7 1', 'US')).toBe('+14155552671');
    expect(normalisePhone('+44 20 7946 0000', 'US')).toBe('+442079460000');
    expect(normalisePhone('222 555 0100', 'US')).toBeNull();
  });
});

describe('unverifiedPhone', () => {
  it('formats a possible number as E.164, else keeps the digits as said', () => {
    expect(unverifiedPhone('999 555 1234', 'US')).toBe('+19995551234');
    expect(unverifiedPhone('555-12', 'US')).toBe('55512');
    expect(unverifiedPhone('+44 12', 'US')).toBe('+4412');
    expect(unverifiedPhone('2 2 2, 5 5 5, 0 1 0 0', 'US')).toBe('+12225550100');
    expect(unverifiedPhone('no idea', 'US')).toBeNull();
  });
});
