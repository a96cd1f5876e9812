import type { TranscriptTurn } from '../call-log/call-record';
import type { SummaryRequest } from './call-summarizer';
import { buildSummaryInput, normaliseSummary, SUMMARY_MAX_CHARS, SUMMARY_TRANSCRIPT_MAX_CHARS, transcriptLines } from './summary-prompt';

const turn = (speaker: TranscriptTurn['speaker'], text: string, startMs = 0, interrupted?: true): TranscriptTurn => ({ speaker, text, startMs, ...(interrupted && { interrupted }) });

const request = (over: Partial<SummaryRequest> = {}): SummaryRequest => ({
  direction: 'inbound',
  companyName: 'Acme Plumbing',
  transcript: [
    turn('agent', 'Thanks for calling Acme Plumbing. Is this an emergency?'),
    turn('caller', 'Yes,   my basement\nis flooding.', 2000),
    turn('agent', 'Please shut off the main valve, it is usually', 4000, true),
  ],
  jobRequest: { callerName: 'Dana Reyes', callbackNumber: '+14155550123', serviceAddress: '12 Elm St', problem: 'Basement flooding', urgency: 'emergency' },
  status: 'completed',
  endReason: 'twilio_stop',
  ...over,
});

describe('the summary prompt', () => {
  it("gives the model the call's facts, the job request and the transcript, one line a turn", () => {
    expect(buildSummaryInput(request())).toBe(
      [
        'Call: an inbound call to Acme Plumbing, handled by its AI phone agent.',
        'How it ended: the call was hung up.',
        '',
        'Job request saved by the agent:',
        '- caller name: Dana Reyes',
        '- service address: 12 Elm St',
        '- problem: Basement flooding',
        '- urgency: emergency',
        '',
        'Transcript (oldest first):',
        'Agent: Thanks for calling Acme Plumbing. Is this an emergency?',
        'Caller: Yes, my basement is flooding.',
        'Agent: Please shut off the main valve, it is usually (cut off by the caller)',
      ].join('\n'),
    );
  });

  it('leaves the callback number out: the summary must not repeat phone numbers', () => {
    expect(buildSummaryInput(request())).not.toContain('4155550123');
  });

  it('says when no job request was saved, how an outbound or failed call ended, and names an unknown end by its code', () => {
    const text = buildSummaryInput(request({ jobRequest: undefined, direction: 'outbound', status: 'failed', endReason: 'realtime_closed' }));
    expect(text).toContain('Call: an outbound call from Acme Plumbing');
    expect(text).toContain('How it ended: a technical fault cut the call short (the call failed).');
    expect(text).toContain('No job request was saved.');
    expect(buildSummaryInput(request({ endReason: 'instance_lost' }))).toContain('How it ended: instance lost.');
    expect(buildSummaryInput(request({ endReason: 'transferred' }))).toContain('How it ended: the agent transferred the caller to a person at the company.');
  });

  it('keeps a long call within its bound: the opening turns, the latest ones, and how many were left out', () => {
    const turns = Array.from({ length: 400 }, (_, i) => turn(i % 2 ? 'caller' : 'agent', `Turn ${i}: ${'words '.repeat(30)}`, i * 1000));
    const lines = transcriptLines(turns);
    expect(lines.join('\n').length).toBeLessThanOrEqual(SUMMARY_TRANSCRIPT_MAX_CHARS + 50);
    expect(lines[0]).toMatch(/^Agent: Turn 0:/);
    expect(lines.at(-1)).toMatch(/^Caller: Turn 399:/);
    const marker = lines.findIndex((l) => l.startsWith('[…'));
    const left = Number(/\[… (\d+) turns left out …\]/.exec(lines[marker])![1]);
    expect(left).toBe(400 - (lines.length - 1));
    expect(marker).toBeGreaterThan(10);
  });

  it('cuts one very long turn, and skips empty ones', () => {
    const lines = transcriptLines([turn('caller', 'x'.repeat(5000)), turn('agent', '   ')]);
    expect(lines).toHaveLength(1);
    expect(lines[0].length).toBeLessThan(1600);
    expect(lines[0].endsWith('…')).toBe(true);
  });

  it('keeps what the model wrote on one line, bounded at a sentence end', () => {
    expect(normaliseSummary('  Dana called.\n\nA leak.  The team calls back. ')).toBe('Dana called. A leak. The team calls back.');
    expect(normaliseSummary(' \n ')).toBe('');
    const long = normaliseSummary(`${'A sentence that goes on. '.repeat(60)}`);
    expect(long.length).toBeLessThanOrEqual(SUMMARY_MAX_CHARS);
    expect(long.endsWith('on.')).toBe(true);
    expect(normaliseSummary('x'.repeat(2000))).toHaveLength(SUMMARY_MAX_CHARS);
  });
});
