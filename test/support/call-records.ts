import { EMPTY_USAGE, type CallRecord } from '../../src/call-log/call-record';

/** A call record for tests: a completed inbound call with nothing said, changed by `over`. */
export function callRecord(over: Partial<CallRecord> = {}): CallRecord {
  return {
    callSid: 'CA0123456789abcdef0123456789abcdef',
    streamSid: 'MZ0123456789abcdef0123456789abcdef',
    direction: 'inbound',
    from: '+15551230000',
    to: '+15557650000',
    status: 'completed',
    startedAt: '2026-03-01T10:00:00.000Z',
    endedAt: '2026-03-01T10:01:00.000Z',
    durationMs: 60_000,
    endReason: 'twilio_stop',
    transcript: [],
    usage: EMPTY_USAGE,
    costUsd: 0,
    recording: null,
    details: {},
    profile: 'default',
    ...over,
  };
}
