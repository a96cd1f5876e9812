import { TEST_STREAM_TOKEN_SECRET } from './twilio-caller';

/**
 * What every test service runs with unless a test says otherwise: the stream token secret
 * TwilioCaller signs with, unsigned Twilio traffic accepted (TwilioCaller does not sign its
 * upgrades), rate limits no functional test can reach (test/security.e2e-spec.ts tests these),
 * no drain, so closing a test app ends its calls at once (test/drain.e2e-spec.ts sets one), and
 * no written call summaries, which would ask the mock Realtime server's HTTP side for a text model
 * (test/summary.e2e-spec.ts turns them on, with a fake of that API).
 */
export const TEST_DEFAULTS = {
  STREAM_TOKEN_SECRET: TEST_STREAM_TOKEN_SECRET,
  TWILIO_VALIDATE_SIGNATURE: 'false',
  RATE_LIMIT_TWILIO_UNSIGNED_PER_MINUTE: '1000000',
  RATE_LIMIT_API_PER_MINUTE: '1000000',
  RATE_LIMIT_API_AUTH_FAILURES_PER_MINUTE: '1000000',
  DRAIN_TIMEOUT_SECONDS: '0',
  SUMMARY_ENABLED: 'false',
};
