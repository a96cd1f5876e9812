import { DoNotCallList, type DoNotCallEntry } from '../../outbound/do-not-call';
import { forOutboundCall } from '../../profile/call-profile';
import { testProfile } from '../../../test/support/profiles';
import type { ToolCallContext } from '../tool';
import { doNotCallTool } from './do-not-call.tool';

class MemoryDoNotCall extends DoNotCallList {
  readonly entries = new Map<string, DoNotCallEntry>();
  async has(number: string): Promise<boolean> {
    return this.entries.has(number);
  }
  async add(number: string, source: string, reason: string | null): Promise<DoNotCallEntry> {
    if (!this.entries.has(number)) this.entries.set(number, { number, source, reason, addedAt: '2026-12-02T10:00:00.000Z' });
    return this.entries.get(number)!;
  }
  async remove(number: string): Promise<boolean> {
    return this.entries.delete(number);
  }
  async list(): Promise<{ items: DoNotCallEntry[]; total: number }> {
    return { items: [...this.entries.values()], total: this.entries.size };
  }
}

describe('add_to_do_not_call', () => {
  const outbound = forOutboundCall(testProfile(), { requestId: 'req-1', purpose: 'your water heater service reminder' });

  const dnc = new MemoryDoNotCall();
  const details = new Map<string, unknown>();
  const context = (over: Partial<ToolCallContext>): ToolCallContext => ({
    callSid: 'CA0123456789abcdef0123456789abcdef',
    streamSid: 'MZ0123456789abcdef0123456789abcdef',
    from: '+15557650000',
    to: '+12025550199',
    profile: outbound,
    call: { agentFinishedSpeaking: () => Promise.resolve(), markOutcome: () => undefined, instruct: () => true, hold: () => undefined, whenEnded: () => new Promise(() => undefined) },
    setDetail: (key, value) => void details.set(key, value),
    getDetail: (key) => details.get(key),
    ...over,
  });

  beforeEach(() => {
    dnc.entries.clear();
    details.clear();
  });

  it('is offered on every call', () => {
    const tool = doNotCallTool(dnc);
    expect(tool.offeredTo).toBeUndefined();
  });

  it('puts the called number of a call the business placed on the list at once, and the call record says so', async () => {
    expect(await doNotCallTool(dnc).handler({ reason: 'not interested' }, context({}))).toEqual({ added: true, number: '+12025550199' });
    expect(dnc.entries.get('+12025550199')).toMatchObject({ source: 'call', reason: 'not interested' });
    expect(details.get('doNotCall')).toEqual({ number: '+12025550199', addedAt: '2026-12-02T10:00:00.000Z' });
  });

  it("puts the caller's number on the list on an inbound call (calling back after a voicemail to say stop)", async () => {
    expect(await doNotCallTool(dnc).handler({}, context({ profile: testProfile(), from: '+13125550142', to: '+15557650000' }))).toEqual({
      added: true,
      number: '+13125550142',
    });
    expect(dnc.entries.get('+13125550142')).toMatchObject({ source: 'call', reason: 'asked during a call' });
    expect(dnc.entries.has('+15557650000')).toBe(false);
  });

  it('adds nothing for a caller who withheld their number, and tells the agent why', async () => {
    const result = await doNotCallTool(dnc).handler({}, context({ profile: testProfile(), from: 'anonymous' }));
    expect(result).toMatchObject({ added: false, why: expect.stringContaining('withheld') });
    expect(dnc.entries.size).toBe(0);
    expect(details.has('doNotCall')).toBe(false);
  });
});

describe('forOutboundCall', () => {
  it('says who is calling and why in the first sentence, and never dials the business line as a fallback', () => {
    const p = forOutboundCall(testProfile({ companyName: 'Acme Plumbing', fallbackNumber: '+15550001111' }), { requestId: 'req-1', purpose: 'your 9am appointment tomorrow' });
    expect(p.greeting).toBe('Hello, this is the automated assistant of Acme Plumbing, calling about your 9am appointment tomorrow. Is now a good time to talk?');
    expect(p.instructions).toContain('You are calling about: your 9am appointment tomorrow');
    expect(p.instructions).toContain('add_to_do_not_call');
    expect(p.fallbackNumber).toBeUndefined();
    expect(p.outbound).toEqual({ requestId: 'req-1', purpose: 'your 9am appointment tomorrow' });
  });
});
