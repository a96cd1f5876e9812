import type { ToolCallContext } from '../../src/tools/tool';
import { testProfile } from './profiles';

/** The context a tool runs in, for a call that does nothing with it unless `over` says so. */
export function testToolContext(over: Partial<ToolCallContext> = {}): ToolCallContext {
  return {
    callSid: 'CA' + 'a'.repeat(32),
    streamSid: 'MZ' + 'b'.repeat(32),
    from: '+15551230000',
    to: '+15557650000',
    profile: testProfile(),
    call: { agentFinishedSpeaking: async () => undefined, markOutcome: () => undefined, instruct: () => true, hold: () => undefined, whenEnded: () => new Promise(() => undefined) },
    setDetail: () => undefined,
    getDetail: () => undefined,
    ...over,
  };
}
