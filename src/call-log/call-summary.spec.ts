import { callSummaryText, modelSummaryOf, oneLineSummary, summaryWhat } from './call-summary';

const ready = (text: string) => ({ summary: { status: 'ready', text, model: 'm', at: '2026-01-01T00:00:00.000Z' } });

describe('call summary on the record', () => {
  it("reads the model's text only from a well-formed ready summary", () => {
    expect(modelSummaryOf(ready('A caller rang.'))).toBe('A caller rang.');
    expect(modelSummaryOf({ summary: { status: 'failed', reason: 'timeout', model: 'm', at: 'x' } })).toBeNull();
    expect(modelSummaryOf({ summary: { status: 'ready', text: '  ' } })).toBeNull();
    expect(modelSummaryOf({ summary: 'text' })).toBeNull();
    expect(modelSummaryOf({})).toBeNull();
  });

  it('falls back to the one-line summary of the job or of how the call ended', () => {
    const job = { jobRequest: { problem: 'burst pipe', urgency: 'emergency' } };
    expect(oneLineSummary({ status: 'completed', endReason: 'caller_hung_up', details: job })).toBe('emergency job: burst pipe');
    expect(oneLineSummary({ status: 'completed', endReason: 'caller_hung_up', details: { jobRequest: { problem: 'drip', urgency: 'soon' } } })).toBe(
      'unspecified job: drip',
    );
    expect(oneLineSummary({ status: 'failed', endReason: null, details: {} })).toBe('Call failed; no job request captured.');
    expect(callSummaryText({ status: 'completed', endReason: null, details: { ...job, ...ready('Jane called. A leak. We call back.') } })).toBe(
      'Jane called. A leak. We call back.',
    );
  });

  it('takes the second sentence as what the call was about', () => {
    expect(summaryWhat('Jane Doe called from 12 Oak St. A burst pipe is flooding the kitchen, an emergency. The on-call plumber will call back.')).toBe(
      'A burst pipe is flooding the kitchen, an emergency.',
    );
    // A title, or an abbreviation followed by a lower-case word or a number, does not end a sentence.
    expect(summaryWhat('Mr. Smith called about 3 St. pipes. The boiler at No. 4 is out! Call back.')).toBe('The boiler at No. 4 is out!');
    expect(summaryWhat('Only one sentence here.')).toBeNull();
    expect(summaryWhat('')).toBeNull();
  });
});
