import type { ApiCallRecord } from './call-api';
import { checkScenario } from './scenario-checks';
import { formatResults, type ScenarioResult } from './scenario-runner';
import type { CallReport } from './simulated-call';

const record = (over: Partial<ApiCallRecord> = {}): ApiCallRecord => ({
  callSid: 'CA0123456789abcdef0123456789abcdef',
  status: 'completed',
  endReason: 'hangup',
  transcript: [
    { speaker: 'agent', text: 'Acme Plumbing, how can I help?', startMs: 0 },
    { speaker: 'caller', text: 'My pipe burst.', startMs: 2000 },
    { speaker: 'agent', text: 'Turn off the main water valve.', startMs: 3000, interrupted: true },
    { speaker: 'agent', text: 'Stay safe, goodbye.', startMs: 6000 },
  ],
  details: {
    jobRequest: { callerName: 'Dana Smith', callbackNumber: '+14155552671', urgency: 'emergency' },
    paging: { status: 'paging', pages: [{ step: 1, status: 'sent' }] },
  },
  ...over,
});

const report = (over: Partial<CallReport> = {}): CallReport => ({
  callSid: 'CA0123456789abcdef0123456789abcdef',
  webhookMs: 20,
  firstAudioMs: 400,
  turns: [{ turn: 1, endOfSpeechMs: 2500, latencyMs: 700 }],
  clears: 1,
  marksEchoed: 5,
  closedBy: 'service',
  closeCode: 1000,
  agentAudioMs: 4000,
  ...over,
});

describe('scenario checks', () => {
  const expectAll = {
    jobRequest: { callerName: 'dana', callbackNumber: '+14155552671', urgency: 'emergency' },
    paged: true,
    transferred: false,
    endReason: ['hangup', 'twilio_stop'],
    endedPolitely: true,
    interrupted: true,
    agentSaid: ['water valve'],
    maxFirstAudio: '1s',
    maxResponseLatency: '1.5s',
  };

  it('passes every check the record and the timings bear out', () => {
    const results = checkScenario(expectAll, record(), report());
    expect(results.map((r) => r.name)).toEqual([
      'jobRequest.callerName',
      'jobRequest.callbackNumber',
      'jobRequest.urgency',
      'paged',
      'transferred',
      'endReason',
      'ended politely',
      'interrupted',
      'agent said "water valve"',
      'first audio',
      'response latency',
    ]);
    expect(results.filter((r) => !r.ok)).toEqual([]);
  });

  it('fails each check the record contradicts, saying what was found', () => {
    const results = checkScenario(
      expectAll,
      record({
        endReason: 'realtime_closed',
        transcript: [{ speaker: 'agent', text: 'Hello.', startMs: 0 }],
        details: { jobRequest: { callerName: 'Lee', urgency: 'routine' } },
      }),
      report({ firstAudioMs: null, turns: [{ turn: 1, endOfSpeechMs: 100, latencyMs: null }] }),
    );
    const failed = Object.fromEntries(results.filter((r) => !r.ok).map((r) => [r.name, r.detail]));
    expect(failed).toEqual({
      'jobRequest.callerName': '"Lee", expected to contain "dana"',
      'jobRequest.callbackNumber': 'undefined, expected to contain "+14155552671"',
      'jobRequest.urgency': '"routine", expected to contain "emergency"',
      paged: '0 page(s) sent',
      endReason: '"realtime_closed", expected hangup or twilio_stop',
      'ended politely': 'last agent words "Hello.", endReason "realtime_closed"',
      interrupted: '0 agent turn(s) cut off, 1 clear(s)',
      'agent said "water valve"': 'not in 1 agent turn(s)',
      'first audio': 'none (max 1000 ms)',
      'response latency': 'no reply (max 1500 ms)',
    });
  });

  it('checks that no job request was saved, and a transfer', () => {
    const none = checkScenario({ jobRequest: null, transferred: true }, record({ endReason: 'transferred', details: {} }), report());
    expect(none.every((r) => r.ok)).toBe(true);
    const saved = checkScenario({ jobRequest: null }, record(), report());
    expect(saved[0]).toMatchObject({ name: 'no job request', ok: false, detail: expect.stringContaining('Dana Smith') });
  });

  it('prints a table, and every failed check under it', () => {
    const scenario = { name: 'Burst pipe', file: 'scenarios/01.yaml', caller: [], expect: { paged: true } };
    const results: ScenarioResult[] = [
      { scenario, checks: [{ name: 'paged', ok: true, detail: '1 page(s) sent' }], error: null, report: report() },
      { scenario: { ...scenario, name: 'Wrong number' }, checks: [{ name: 'endReason', ok: false, detail: '"twilio_stop", expected hangup' }], error: null, report: report({ turns: [] }) },
      { scenario: { ...scenario, name: 'Silent' }, checks: [], error: 'the call was still going after 40.00s (timeout)', report: null },
    ];
    expect(formatResults(results)).toBe(
      [
        '| Scenario     | Result | Checks | First audio | Slowest reply |',
        '|--------------|--------|--------|-------------|---------------|',
        '| Burst pipe   | PASS   | 1/1    | 0.40s       | 0.70s         |',
        '| Wrong number | FAIL   | 0/1    | 0.40s       | -             |',
        '| Silent       | FAIL   | error  | -           | -             |',
        '',
        'Failed:',
        '  Wrong number (scenarios/01.yaml): endReason: "twilio_stop", expected hangup',
        '  Silent (scenarios/01.yaml): the call was still going after 40.00s (timeout)',
        '',
        '1 of 3 scenarios passed',
      ].join('\n'),
    );
  });
});
