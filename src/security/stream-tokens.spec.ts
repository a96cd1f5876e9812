import { ManualClock } from '../common/clock';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import { mintStreamToken, StreamTokens } from './stream-tokens';
import { LocalUsedStreamTokens } from './used-stream-tokens';

const CALL_SID = 'CA0123456789abcdef0123456789abcdef';
const OTHER_CALL_SID = 'CAfedcba9876543210fedcba9876543210';
const SECRET = 'stream-token-secret-0123456789abcdef';

const config = (env: Record<string, string> = { STREAM_TOKEN_SECRET: SECRET }) => new AppConfig(validateEnvironment(env));

describe('StreamTokens', () => {
  let clock: ManualClock;
  let tokens: StreamTokens;
  beforeEach(() => {
    clock = new ManualClock();
    tokens = new StreamTokens(config({ STREAM_TOKEN_SECRET: SECRET, STREAM_TOKEN_TTL_SECONDS: '30' }), clock, new LocalUsedStreamTokens(clock));
  });

  it('accepts a token it minted for the same call, once', async () => {
    const token = tokens.mint(CALL_SID);
    expect(await tokens.redeem(CALL_SID, token)).toBeNull();
    expect(await tokens.redeem(CALL_SID, token)).toBe('stream_token_replayed');
  });

  it('mints a different token each time, each usable once', async () => {
    const first = tokens.mint(CALL_SID);
    const second = tokens.mint(CALL_SID);
    expect(second).not.toBe(first);
    expect(await tokens.redeem(CALL_SID, first)).toBeNull();
    expect(await tokens.redeem(CALL_SID, second)).toBeNull();
  });

  it('refuses a missing token', async () => {
    expect(await tokens.redeem(CALL_SID, undefined)).toBe('stream_token_missing');
    expect(await tokens.redeem(CALL_SID, '')).toBe('stream_token_missing');
  });

  it('refuses a token of another call, with a changed expiry, malformed, or signed with another secret', async () => {
    const token = tokens.mint(CALL_SID);
    expect(await tokens.redeem(OTHER_CALL_SID, token)).toBe('stream_token_forged');
    const [expiry, nonce, mac] = token.split('.');
    expect(await tokens.redeem(CALL_SID, `${Number(expiry) + 3600}.${nonce}.${mac}`)).toBe('stream_token_forged');
    expect(await tokens.redeem(CALL_SID, 'not-a-token')).toBe('stream_token_forged');
    expect(await tokens.redeem(CALL_SID, `${expiry}.${nonce}.${mac.slice(1)}`)).toBe('stream_token_forged');
    const foreign = mintStreamToken(Buffer.from('another-secret-0123456789abcdefghij'), CALL_SID, Number(expiry));
    expect(await tokens.redeem(CALL_SID, foreign)).toBe('stream_token_forged');
    // None of the refusals used the genuine token up.
    expect(await tokens.redeem(CALL_SID, token)).toBeNull();
  });

  it('refuses a token after its TTL', async () => {
    const token = tokens.mint(CALL_SID);
    clock.advance(29_000);
    const late = tokens.mint(CALL_SID);
    clock.advance(1_000);
    expect(await tokens.redeem(CALL_SID, token)).toBe('stream_token_expired');
    expect(await tokens.redeem(CALL_SID, late)).toBeNull();
  });

  it('refuses a used token as expired once the ledger has forgotten it', async () => {
    const token = tokens.mint(CALL_SID);
    expect(await tokens.redeem(CALL_SID, token)).toBeNull();
    clock.advance(31_000);
    expect(await tokens.redeem(CALL_SID, token)).toBe('stream_token_expired');
  });

  describe('secret', () => {
    it('is STREAM_TOKEN_SECRET when set: instances sharing it accept each other’s tokens', async () => {
      const other = new StreamTokens(config(), clock, new LocalUsedStreamTokens(clock));
      expect(tokens.secretSource).toBe('configured');
      expect(await other.redeem(CALL_SID, tokens.mint(CALL_SID))).toBeNull();
    });

    it('is derived from TWILIO_AUTH_TOKEN without one, shared by instances with the same auth token', async () => {
      const env = { TWILIO_AUTH_TOKEN: 'twilio-auth-token-0123456789' };
      const a = new StreamTokens(config(env), clock, new LocalUsedStreamTokens(clock));
      const b = new StreamTokens(config(env), clock, new LocalUsedStreamTokens(clock));
      const c = new StreamTokens(config({ TWILIO_AUTH_TOKEN: 'another-auth-token-0123456789' }), clock, new LocalUsedStreamTokens(clock));
      expect(a.secretSource).toBe('twilio_auth_token');
      expect(await b.redeem(CALL_SID, a.mint(CALL_SID))).toBeNull();
      expect(await c.redeem(CALL_SID, a.mint(CALL_SID))).toBe('stream_token_forged');
    });

    it('is random per process with neither', async () => {
      const a = new StreamTokens(config({}), clock, new LocalUsedStreamTokens(clock));
      const b = new StreamTokens(config({}), clock, new LocalUsedStreamTokens(clock));
      expect(a.secretSource).toBe('random');
      expect(await a.redeem(CALL_SID, a.mint(CALL_SID))).toBeNull();
      expect(await b.redeem(CALL_SID, a.mint(CALL_SID))).toBe('stream_token_forged');
    });
  });
});
