import { ManualClock } from '../common/clock';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import { ApiAuthFailures } from './api-auth-failures';

describe('ApiAuthFailures', () => {
  let clock: ManualClock;
  let failures: ApiAuthFailures;
  beforeEach(() => {
    clock = new ManualClock();
    failures = new ApiAuthFailures(new AppConfig(validateEnvironment({ RATE_LIMIT_API_AUTH_FAILURES_PER_MINUTE: '3' })), clock);
  });

  it('refuses a client after the limit, until a minute after its first failure', () => {
    for (let i = 0; i < 2; i++) failures.record('10.0.0.1');
    expect(failures.retryAfterSeconds('10.0.0.1')).toBe(0);
    clock.advance(20_000);
    failures.record('10.0.0.1');
    expect(failures.retryAfterSeconds('10.0.0.1')).toBe(40);
    clock.advance(39_500);
    expect(failures.retryAfterSeconds('10.0.0.1')).toBe(1);
    clock.advance(500);
    expect(failures.retryAfterSeconds('10.0.0.1')).toBe(0);
  });

  it('counts each client on its own', () => {
    for (let i = 0; i < 3; i++) failures.record('10.0.0.1');
    expect(failures.retryAfterSeconds('10.0.0.1')).toBeGreaterThan(0);
    expect(failures.retryAfterSeconds('10.0.0.2')).toBe(0);
  });
});
