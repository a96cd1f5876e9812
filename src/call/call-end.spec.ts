import { NORMAL_END, recordedEndReason, type EndReason, type Outcome } from './call-end';

/** Every end reason; `satisfies` fails to compile when EndReason gains one this list lacks. */
const ALL_REASONS = {
  twilio_stop: 'normal',
  twilio_closed: 'normal',
  caller_silent: 'normal',
  shutdown: 'normal',
  ttl_expired: 'failure',
  twilio_backpressure: 'failure',
  realtime_connect_failed: 'failure',
  realtime_reopen_failed: 'failure',
  realtime_closed: 'failure',
  realtime_misconfigured: 'failure',
} as const satisfies Record<EndReason, 'normal' | 'failure'>;

const reasons = Object.keys(ALL_REASONS) as EndReason[];
const OUTCOMES: readonly Outcome[] = ['hangup', 'transferred', 'caller_silent', 'shutdown'];

describe('call end reasons', () => {
  it('says of every end reason, and only of those, whether it is a normal end', () => {
    expect(Object.keys(NORMAL_END).sort()).toEqual([...reasons].sort());
    for (const reason of reasons) expect(typeof NORMAL_END[reason]).toBe('boolean');
  });

  it('counts the ends Twilio or we chose as normal, and every failure as not', () => {
    const normal = reasons.filter((r) => NORMAL_END[r]);
    expect(normal.sort()).toEqual(reasons.filter((r) => ALL_REASONS[r] === 'normal').sort());
  });

  describe('recordedEndReason', () => {
    it.each(reasons.filter((r) => NORMAL_END[r]))('records the outcome of a call that ended normally (%s)', (reason) => {
      for (const outcome of OUTCOMES) expect(recordedEndReason(reason, outcome)).toBe(outcome);
    });

    it.each(reasons.filter((r) => !NORMAL_END[r]))('records how a failed call ended, whatever its outcome (%s)', (reason) => {
      for (const outcome of OUTCOMES) expect(recordedEndReason(reason, outcome)).toBe(reason);
    });

    it.each(reasons)('records how the call ended when it had no outcome (%s)', (reason) => {
      expect(recordedEndReason(reason, null)).toBe(reason);
    });

    it('records a hang-up by the end_call tool as hangup, though Twilio then stopped the stream', () => {
      expect(recordedEndReason('twilio_stop', 'hangup')).toBe('hangup');
      expect(recordedEndReason('realtime_closed', 'hangup')).toBe('realtime_closed');
    });
  });
});
