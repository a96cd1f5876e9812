import type { CallProfile } from '../../src/profile/call-profile';

/** A business profile for tests: Acme Plumbing, no transfer or fallback number, CRM off. */
export function testProfile(over: Partial<CallProfile> = {}): CallProfile {
  return {
    id: 'test',
    companyName: 'Acme Plumbing',
    instructions: 'You answer the phone for Acme Plumbing.',
    greeting: 'Thanks for calling Acme Plumbing.',
    voice: 'alloy',
    transferNumber: undefined,
    fallbackNumber: undefined,
    shutdownGoodbye: 'We have to end the call now. Goodbye.',
    reconnectInstruction: 'Say sorry, you lost the caller for a moment, and carry on.',
    silencePrompt: 'Ask whether the caller is still there.',
    silenceGoodbye: 'Say goodbye.',
    crm: false,
    ...over,
  };
}
