import fc from 'fast-check';
import { backoffDelay, decide, describeResult, isDelivered, JITTER, parseRetryAfter, type AttemptResult, type RetryPolicy } from './delivery-policy';

const policy: RetryPolicy = { maxAttempts: 20, maxAgeMs: 24 * 3_600_000, baseDelayMs: 10_000, maxDelayMs: 3_600_000 };
const T0 = Date.UTC(2026, 11, 1, 12);
const response = (status: number, retryAfterMs?: number): AttemptResult => ({ kind: 'response', status, retryAfterMs });
const error: AttemptResult = { kind: 'error', error: 'connection refused' };

describe('backoffDelay', () => {
  it('doubles from the base up to the cap, with no jitter at 0.5', () => {
    const waits = Array.from({ length: 12 }, (_, i) => backoffDelay(i + 1, policy, 0.5));
    expect(waits).toEqual([10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 640_000, 1_280_000, 2_560_000, 3_600_000, 3_600_000, 3_600_000]);
  });

  it('stays finite and capped however many attempts failed', () => {
    expect(backoffDelay(10_000, policy, 0.99)).toBe(3_600_000);
  });

  it('jitters by at most ±20 %, never over the cap', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), (n, random) => {
        const plain = Math.min(policy.baseDelayMs * 2 ** (n - 1), policy.maxDelayMs);
        const wait = backoffDelay(n, policy, random);
        expect(wait).toBeGreaterThanOrEqual(Math.floor(plain * (1 - JITTER)));
        expect(wait).toBeLessThanOrEqual(Math.min(Math.ceil(plain * (1 + JITTER)), policy.maxDelayMs));
      }),
    );
  });

  it('never waits less after more failures (same jitter)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), (n, random) => {
        expect(backoffDelay(n + 1, policy, random)).toBeGreaterThanOrEqual(backoffDelay(n, policy, random));
      }),
    );
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses %p failed attempts', (n) => {
    expect(() => backoffDelay(n, policy, 0.5)).toThrow(RangeError);
  });
});

describe('what counts as delivered', () => {
  it.each([200, 201, 202, 204, 299])('%i delivers', (status) => {
    expect(isDelivered(response(status))).toBe(true);
    expect(decide(response(status), { attempts: 1, eventCreatedAt: T0, now: T0, random: 0.5 }, policy)).toEqual({ action: 'delivered' });
    expect(describeResult(response(status))).toBeNull();
  });

  it.each([100, 199, 300, 301, 302, 304, 307, 400, 401, 403, 404, 408, 409, 413, 422, 429, 500, 502, 503, 504])('%i is retried', (status) => {
    expect(isDelivered(response(status))).toBe(false);
    expect(decide(response(status), { attempts: 1, eventCreatedAt: T0, now: T0, random: 0.5 }, policy)).toEqual({ action: 'retry', at: T0 + 10_000 });
    expect(describeResult(response(status))).toBe(`HTTP ${status}`);
  });

  it('retries when there was no answer at all', () => {
    expect(decide(error, { attempts: 3, eventCreatedAt: T0, now: T0 + 60_000, random: 0.5 }, policy)).toEqual({ action: 'retry', at: T0 + 60_000 + 40_000 });
    expect(describeResult(error)).toBe('connection refused');
  });

  it('stops at once on 410 Gone', () => {
    expect(decide(response(410), { attempts: 1, eventCreatedAt: T0, now: T0, random: 0.5 }, policy)).toEqual({ action: 'fail', reason: 'the receiver answered 410 Gone' });
  });
});

describe('when a delivery is failed for good', () => {
  it('after the last attempt', () => {
    const small = { ...policy, maxAttempts: 3 };
    expect(decide(response(500), { attempts: 2, eventCreatedAt: T0, now: T0, random: 0.5 }, small).action).toBe('retry');
    expect(decide(response(500), { attempts: 3, eventCreatedAt: T0, now: T0, random: 0.5 }, small)).toEqual({ action: 'fail', reason: 'no 2xx after 3 attempts' });
    expect(decide(error, { attempts: 4, eventCreatedAt: T0, now: T0, random: 0.5 }, small).action).toBe('fail');
    // A 2xx on the last attempt still delivers.
    expect(decide(response(200), { attempts: 3, eventCreatedAt: T0, now: T0, random: 0.5 }, small).action).toBe('delivered');
  });

  it('when the next attempt would come after the maximum age', () => {
    const hour = 3_600_000;
    const justIn = decide(error, { attempts: 10, eventCreatedAt: T0, now: T0 + 23 * hour, random: 0.5 }, policy);
    expect(justIn).toEqual({ action: 'retry', at: T0 + 24 * hour });
    const tooLate = decide(error, { attempts: 10, eventCreatedAt: T0, now: T0 + 23 * hour + 1, random: 0.5 }, policy);
    expect(tooLate).toEqual({ action: 'fail', reason: 'no 2xx within 24 h of the event' });
  });

  it('every attempt is made within the maximum age and the attempt limit, whatever happens', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constant(error), fc.integer({ min: 300, max: 599 }).filter((s) => s !== 410).map((s) => response(s))), { minLength: 1, maxLength: 40 }),
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        (results, random) => {
          let now = T0;
          let attempts = 0;
          for (const result of results) {
            attempts++;
            const decision = decide(result, { attempts, eventCreatedAt: T0, now, random }, policy);
            if (decision.action === 'fail') {
              expect(attempts >= policy.maxAttempts || now + backoffDelay(attempts, policy, random) > T0 + policy.maxAgeMs).toBe(true);
              return;
            }
            expect(decision.action).toBe('retry');
            if (decision.action !== 'retry') return;
            expect(decision.at).toBeGreaterThan(now);
            expect(decision.at).toBeLessThanOrEqual(T0 + policy.maxAgeMs);
            expect(attempts).toBeLessThan(policy.maxAttempts);
            now = decision.at;
          }
        },
      ),
    );
  });
});

describe("the receiver's Retry-After", () => {
  it('waits longer when the receiver asks for it, up to the cap', () => {
    expect(decide(response(503, 120_000), { attempts: 1, eventCreatedAt: T0, now: T0, random: 0.5 }, policy)).toEqual({ action: 'retry', at: T0 + 120_000 });
    expect(decide(response(429, 99 * 3_600_000), { attempts: 1, eventCreatedAt: T0, now: T0, random: 0.5 }, policy)).toEqual({ action: 'retry', at: T0 + 3_600_000 });
  });

  it('never makes the wait shorter than the backoff', () => {
    expect(decide(response(503, 1000), { attempts: 2, eventCreatedAt: T0, now: T0, random: 0.5 }, policy)).toEqual({ action: 'retry', at: T0 + 20_000 });
  });

  it.each([
    ['120', 120_000],
    ['0', 0],
    [' 5 ', 5000],
    ['Tue, 01 Dec 2026 12:02:00 GMT', 120_000],
    ['Tue, 01 Dec 2026 11:00:00 GMT', 0],
    ['soon', null],
    ['-5', null],
    ['1.5', null],
    ['', null],
    [null, null],
    [undefined, null],
  ])('reads %p as %p ms', (header, ms) => {
    expect(parseRetryAfter(header, T0)).toBe(ms);
  });
});
