import { callRecord } from '../../test/support/call-records';
import { buildCallEndedEvent, callEndedEventId, CALL_ENDED } from './call-ended-event';

const NOW = Date.UTC(2026, 2, 1, 10, 1, 5);
const LINK = 'https://operator.example.com/recordings/CA0123456789abcdef0123456789abcdef.wav?expires=1775000000&signature=abc';
const JOB = {
  callerName: 'Dana Reyes',
  callbackNumber: '+15551239876',
  serviceAddress: '12 Elm St',
  problem: 'burst pipe under the kitchen sink',
  urgency: 'emergency',
  preferredTime: 'as soon as possible',
};

describe('the call.ended event', () => {
  it('summarises the record: who, when, how it ended, the job request, the cost and the recording link', () => {
    const record = callRecord({
      recording: 'CA0123456789abcdef0123456789abcdef.wav',
      costUsd: 0.123456,
      transcript: [
        { speaker: 'agent', text: 'Thanks for calling.', startMs: 0 },
        { speaker: 'caller', text: 'My pipe burst.', startMs: 2000 },
      ],
      details: { jobRequest: JOB, outboundRequest: 'ob_0123456789abcdef01234567' },
    });
    const event = buildCallEndedEvent(record, { recordingUrl: LINK, now: NOW });
    expect(event).toMatchObject({ id: callEndedEventId(record.callSid), type: CALL_ENDED, callSid: record.callSid, createdAt: NOW });
    expect(JSON.parse(event.body)).toEqual({
      type: 'call.ended',
      timestamp: '2026-03-01T10:01:00.000Z',
      data: {
        callSid: 'CA0123456789abcdef0123456789abcdef',
        direction: 'inbound',
        from: '+15551230000',
        to: '+15557650000',
        profile: 'default',
        status: 'completed',
        endReason: 'twilio_stop',
        outcome: 'job_request',
        startedAt: '2026-03-01T10:00:00.000Z',
        endedAt: '2026-03-01T10:01:00.000Z',
        durationMs: 60_000,
        costUsd: 0.123456,
        summary: 'emergency job: burst pipe under the kitchen sink',
        jobRequest: JOB,
        outboundRequestId: 'ob_0123456789abcdef01234567',
        transcriptTurns: 2,
        recordingUrl: LINK,
      },
    });
  });

  it('is the same event however often the record is written: its id comes from the Call SID', () => {
    const a = buildCallEndedEvent(callRecord(), { recordingUrl: null, now: NOW });
    const b = buildCallEndedEvent(callRecord(), { recordingUrl: null, now: NOW + 60_000 });
    expect(a.id).toBe(b.id);
    expect(a.id).toMatch(/^evt_[0-9a-f]{32}$/);
    expect(callEndedEventId('CA' + 'f'.repeat(32))).not.toBe(a.id);
  });

  it('has no recording link for a call without a recording, and none when no link can be made', () => {
    expect(JSON.parse(buildCallEndedEvent(callRecord(), { recordingUrl: LINK, now: NOW }).body).data.recordingUrl).toBeNull();
    const recorded = callRecord({ recording: 'x.wav' });
    expect(JSON.parse(buildCallEndedEvent(recorded, { recordingUrl: null, now: NOW }).body).data.recordingUrl).toBeNull();
  });

  it('records a call sent to the fallback, dated when the event was made if the record has no end', () => {
    const record = callRecord({ status: 'fallback', endReason: 'missing_api_key', endedAt: null, durationMs: 0, streamSid: null });
    const body = JSON.parse(buildCallEndedEvent(record, { recordingUrl: null, now: NOW }).body);
    expect(body.timestamp).toBe(new Date(NOW).toISOString());
    expect(body.data).toMatchObject({ status: 'fallback', outcome: 'fallback', summary: 'Call missing_api_key; no job request captured.', jobRequest: null });
  });

  it("carries the model's written summary once it is on the record, else the one-line summary", () => {
    const summaryOf = (details: Record<string, unknown>) => JSON.parse(buildCallEndedEvent(callRecord({ details }), { recordingUrl: null, now: NOW }).body).data.summary;
    const text = 'Dana Reyes called about a burst pipe at 12 Elm St. It is an emergency. A plumber calls her back tonight.';
    expect(summaryOf({ jobRequest: JOB, summary: { status: 'ready', text, model: 'gpt-4.1-mini', at: '2026-03-01T10:01:09.000Z' } })).toBe(text);
    expect(summaryOf({ jobRequest: JOB, summary: { status: 'failed', reason: 'timeout', model: 'gpt-4.1-mini', at: '2026-03-01T10:01:25.000Z' } })).toBe(
      'emergency job: burst pipe under the kitchen sink',
    );
    expect(summaryOf({ summary: { status: 'ready', text: '  ' } })).toBe('Call twilio_stop; no job request captured.');
    expect(summaryOf({ summary: 'not an object' })).toBe('Call twilio_stop; no job request captured.');
    expect(summaryOf({ jobRequest: { problem: 'leak', urgency: 'whenever' } })).toBe('unspecified job: leak');
  });

  it('is due at once, or at its notBefore when the summary is awaited', () => {
    expect(buildCallEndedEvent(callRecord(), { recordingUrl: null, now: NOW }).notBefore).toBeUndefined();
    expect(buildCallEndedEvent(callRecord(), { recordingUrl: null, now: NOW, notBefore: NOW - 1 }).notBefore).toBeUndefined();
    expect(buildCallEndedEvent(callRecord(), { recordingUrl: null, now: NOW, notBefore: NOW + 25_000 }).notBefore).toBe(NOW + 25_000);
  });

  it('refuses a record still in progress', () => {
    expect(() => buildCallEndedEvent(callRecord({ status: 'in-progress' }), { recordingUrl: null, now: NOW })).toThrow(/in progress/);
  });

  it('carries no secrets, no transcript text, no tool arguments and no audio, whatever the details hold', () => {
    const secrets = ['sk-live-SECRET-openai', 'twilio-auth-SECRET', 'api-token-SECRET', 'pat-na1-SECRET', 'whsec_SECRET'];
    const record = callRecord({
      recording: 'r.wav',
      transcript: [{ speaker: 'caller', text: `my key is ${secrets[0]}`, startMs: 0 }],
      details: {
        jobRequest: { ...JOB, internalNote: secrets[1], urgency: 'whenever', extra: { token: secrets[2] } },
        toolCalls: [{ name: 'lookup', arguments: { authorization: `Bearer ${secrets[2]}` }, output: secrets[3] }],
        operatorCommands: [{ action: 'say', text: secrets[4] }],
        audio: 'UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQAAAAA=',
        apiKey: secrets[0],
      },
    });
    const body = buildCallEndedEvent(record, { recordingUrl: LINK, now: NOW }).body;
    for (const secret of secrets) expect(body).not.toContain(secret);
    expect(body).not.toContain('UklGR');
    expect(body).not.toContain('my key is');
    const data = JSON.parse(body).data;
    // Unknown job fields and an urgency outside the list are left out; the known ones stay.
    expect(data.jobRequest).toEqual({ ...JOB, urgency: undefined });
    expect(Object.keys(data).sort()).toEqual(
      [
        'callSid', 'costUsd', 'direction', 'durationMs', 'endReason', 'endedAt', 'from', 'jobRequest', 'outboundRequestId', 'outcome',
        'profile', 'recordingUrl', 'startedAt', 'status', 'summary', 'to', 'transcriptTurns',
      ].sort(),
    );
  });
});
