import type { TranscriptTurn } from '../call-log/call-record';
import { buildConversationSummary, SUMMARY_MAX_CHARS, SUMMARY_MAX_TURN_CHARS, SUMMARY_MAX_TURNS } from './conversation-summary';

function turns(count: number, text = (i: number) => `turn ${i}`): TranscriptTurn[] {
  return Array.from({ length: count }, (_, i) => ({ speaker: i % 2 === 0 ? 'agent' : 'caller', text: text(i), startMs: i * 1000 }));
}

describe('buildConversationSummary', () => {
  it('tells the new session not to greet again and lists the turns in order with who said them', () => {
    const summary = buildConversationSummary(
      [
        { speaker: 'agent', text: 'Thanks for calling, how can I help?', startMs: 0 },
        { speaker: 'caller', text: 'My  basement\nis flooding.', startMs: 3000 },
        { speaker: 'agent', text: 'I am sorry to', startMs: 6000, interrupted: true },
      ],
      undefined,
    );
    expect(summary).toContain('Do not greet the caller again');
    const lines = summary.split('\n');
    expect(lines.slice(-3)).toEqual([
      'You: Thanks for calling, how can I help?',
      'Caller: My basement is flooding.',
      'You: I am sorry to (interrupted by the caller)',
    ]);
    expect(summary).not.toContain('Job request');
  });

  it('keeps only the last turns', () => {
    const summary = buildConversationSummary(turns(30), undefined);
    expect(summary).toContain(`turn ${30 - SUMMARY_MAX_TURNS}`);
    expect(summary).not.toContain(`turn ${30 - SUMMARY_MAX_TURNS - 1}\n`);
    expect(summary.split('\n').filter((l) => /^(You|Caller): /.test(l))).toHaveLength(SUMMARY_MAX_TURNS);
  });

  it('lists the job request details already captured', () => {
    const summary = buildConversationSummary([], { callerName: 'Dana', serviceAddress: '1 Main St', problem: 'burst pipe', urgency: 'emergency' });
    expect(summary).toContain('Job request already saved with save_job_request:\n- caller name: Dana\n- service address: 1 Main St\n- problem: burst pipe\n- urgency: emergency');
    expect(summary).not.toContain('callback number');
  });

  it('stays within its bounds, dropping the oldest turns first', () => {
    const long = buildConversationSummary(turns(SUMMARY_MAX_TURNS, (i) => `${i}:` + 'x'.repeat(2000)), {
      problem: 'p'.repeat(2000),
      serviceAddress: 'a'.repeat(2000),
    });
    expect(long.length).toBeLessThanOrEqual(SUMMARY_MAX_CHARS);
    for (const line of long.split('\n')) expect(line.length).toBeLessThanOrEqual(SUMMARY_MAX_TURN_CHARS + 40);
    // The latest turn and the job details survive; the oldest turn does not.
    expect(long).toContain(`You: ${SUMMARY_MAX_TURNS - 2}:`);
    expect(long).toContain('- problem: ppp');
    expect(long).not.toContain('You: 0:');
  });
});
