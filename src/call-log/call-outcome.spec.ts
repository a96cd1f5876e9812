import { callOutcome } from './call-outcome';

describe('callOutcome', () => {
  it.each([
    [{ status: 'fallback', endReason: 'at_capacity', details: {} }, 'fallback'],
    [{ status: 'completed', endReason: 'twilio_stop', details: { jobRequest: { problem: 'leak' } } }, 'job_request'],
    [{ status: 'completed', endReason: 'transferred', details: { jobRequest: { problem: 'leak' } } }, 'job_request'],
    [{ status: 'failed', endReason: 'realtime_closed', details: { jobRequest: { problem: 'leak' } } }, 'job_request'],
    [{ status: 'completed', endReason: 'transferred', details: {} }, 'transferred'],
    [{ status: 'completed', endReason: 'caller_silent', details: {} }, 'no_job_request'],
    [{ status: 'completed', endReason: 'hangup', details: { jobRequest: 'not an object' } }, 'no_job_request'],
    [{ status: 'failed', endReason: 'instance_lost', details: {} }, 'failed'],
  ] as const)('outcome of %j is %s', (record, outcome) => {
    expect(callOutcome(record)).toBe(outcome);
  });

});
