import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import { EnvironmentProfileResolver, type CallProfileResolver } from './call-profile.resolver';

/** The resolver as calls use it: through the port, with the called number. */
const resolverFor = (env: Record<string, string>): CallProfileResolver =>
  new EnvironmentProfileResolver(new AppConfig(validateEnvironment(env)));

describe('EnvironmentProfileResolver', () => {
  const business = {
    OPERATOR_COMPANY_NAME: '  Rapid Rooter  ',
    OPERATOR_SYSTEM_PROMPT: 'You answer the phone for {{COMPANY_NAME}}. Never quote prices for {{ COMPANY_NAME }}.',
    OPERATOR_GREETING: 'Hello, {{COMPANY_NAME}} here.',
    OPERATOR_SHUTDOWN_GOODBYE: 'Please call {{COMPANY_NAME}} back. Goodbye.',
    OPERATOR_RECONNECT_INSTRUCTION: 'Apologise for the break and carry on.',
    OPERATOR_SILENCE_PROMPT: 'Ask whether anyone is there.',
    OPERATOR_SILENCE_GOODBYE: 'Say goodbye kindly.',
    OPENAI_VOICE: 'verse',
    OPERATOR_TRANSFER_NUMBER: '+15551112222',
    FALLBACK_PHONE_NUMBER: '+15553334444',
    HUBSPOT_ENABLED: 'true',
    HUBSPOT_ACCESS_TOKEN: 'pat-na1-0123456789',
  };

  it('builds the default profile from the environment, the company name filled in', () => {
    expect(resolverFor(business).resolve('+15557650000')).toEqual({
      id: 'default',
      companyName: 'Rapid Rooter',
      instructions: 'You answer the phone for Rapid Rooter. Never quote prices for Rapid Rooter.',
      greeting: 'Hello, Rapid Rooter here.',
      voice: 'verse',
      transferNumber: '+15551112222',
      fallbackNumber: '+15553334444',
      shutdownGoodbye: 'Please call Rapid Rooter back. Goodbye.',
      reconnectInstruction: 'Apologise for the break and carry on.',
      silencePrompt: 'Ask whether anyone is there.',
      silenceGoodbye: 'Say goodbye kindly.',
      crm: true,
    });
  });

  it('fills the company name into the prompt file and the default greeting and goodbye', () => {
    const profile = resolverFor({ OPERATOR_COMPANY_NAME: 'Rapid Rooter' }).resolve('+15557650000');
    for (const text of [profile.instructions, profile.greeting, profile.shutdownGoodbye]) {
      expect(text).toContain('Rapid Rooter');
      expect(text).not.toMatch(/\{\{\s*COMPANY_NAME\s*\}\}/);
    }
  });

  it('has no transfer or fallback number and no CRM unless configured', () => {
    const profile = resolverFor({}).resolve('+15557650000');
    expect(profile).toMatchObject({ id: 'default', voice: 'alloy', transferNumber: undefined, fallbackNumber: undefined, crm: false });
  });

  it('answers every called number, and an unknown one, with the same profile', () => {
    const resolver = resolverFor(business);
    const profile = resolver.resolve('+15557650000');
    expect(resolver.resolve('+442071234567')).toBe(profile);
    expect(resolver.resolve('')).toBe(profile);
  });

  it('gives a frozen profile: no call can change what the next one says', () => {
    const profile = resolverFor(business).resolve('+15557650000');
    expect(Object.isFrozen(profile)).toBe(true);
    expect(() => {
      (profile as { greeting: string }).greeting = 'Changed.';
    }).toThrow(TypeError);
  });
});
