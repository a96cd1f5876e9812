import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import { AppLogger } from './app-logger';

describe('AppLogger', () => {
  it('never writes a configured secret, wherever it appears in a line', () => {
    const secrets = {
      OPENAI_API_KEY: 'sk-test-openai-0123456789',
      API_TOKEN: 'api-token-0123456789abcdef',
      TWILIO_AUTH_TOKEN: 'twilio-auth-0123456789abcdef',
      HUBSPOT_ACCESS_TOKEN: 'pat-hubspot-0123456789',
      STREAM_TOKEN_SECRET: 'stream-token-secret-0123456789abcdefghij',
      RECORDING_LINK_SECRET: 'recording-link-secret-0123456789abcdefgh',
      WEBHOOK_SECRET: `whsec_${Buffer.from('webhook-signing-key-0123456789ab').toString('base64')}`,
    };
    // The key without its whsec_ prefix, as a receiver's own configuration might hold it.
    const webhookKey = secrets.WEBHOOK_SECRET.slice('whsec_'.length);
    const lines: string[] = [];
    const config = new AppConfig(
      validateEnvironment({ ...secrets, WEBHOOK_URLS: 'https://hooks.example.com/in', HUBSPOT_ENABLED: 'true', DATABASE_URL: 'postgres://app:db-password-0123@db.internal:5432/calls' }),
    );
    const logger = new AppLogger(config, { write: (line: string) => void lines.push(line) });
    for (const value of [...Object.values(secrets), 'db-password-0123', webhookKey]) {
      logger.root.info({ detail: `value ${value} here`, nested: { value } }, `saw ${value}`);
    }
    const written = lines.join('\n');
    expect(lines).toHaveLength(9);
    for (const value of [...Object.values(secrets), 'db-password-0123', webhookKey]) expect(written).not.toContain(value);
    expect(written.match(/\[redacted\]/g)?.length).toBeGreaterThanOrEqual(27);
  });
});
