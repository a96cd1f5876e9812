import { LogCapture } from '../../test/support/log-capture';
import { metricValue } from '../../test/support/metric-value';
import { deferred, type Deferred } from '../../test/support/wait';
import type { CallSummaryDetail } from '../call-log/call-summary';
import { ManualClock } from '../common/clock';
import { ManualScheduler } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import { AppLogger } from '../logging/app-logger';
import { CallMetrics } from '../metrics/call-metrics';
import { CallSummaries, MAX_SUMMARIES_IN_FLIGHT, SUMMARY_HOLD_MARGIN_MS, SUMMARY_SHUTDOWN_WAIT_MS } from './call-summaries';
import { CallSummarizer, DisabledCallSummarizer, SummaryFailed, type SummaryRequest } from './call-summarizer';

const TIMEOUT_MS = 20_000;
const SECRET_WORDS = 'my neighbour Jo Bloggs at 99 Secret Lane';
const MODEL_TEXT = 'Dana called about a leak. It is urgent. A plumber calls back.';

const request = (over: Partial<SummaryRequest> = {}): SummaryRequest => ({
  direction: 'inbound',
  companyName: 'Acme Plumbing',
  transcript: [
    { speaker: 'agent', text: 'Acme Plumbing, how can I help?', startMs: 0 },
    { speaker: 'caller', text: `A leak at ${SECRET_WORDS}, call +14155550123.`, startMs: 2000 },
  ],
  jobRequest: undefined,
  status: 'completed',
  endReason: 'twilio_stop',
  ...over,
});

/** A summarizer the test answers by hand; it gives up when its signal aborts, as the real one does. */
class FakeSummarizer extends CallSummarizer {
  readonly model = 'fake-model';
  readonly calls: Array<{ request: SummaryRequest; signal: AbortSignal; answer: Deferred<string> }> = [];

  summarize(request: SummaryRequest, signal: AbortSignal): Promise<string> {
    const answer = deferred<string>();
    signal.addEventListener('abort', () => answer.reject(new SummaryFailed('timeout', { aborted: 'yes' })), { once: true });
    this.calls.push({ request, signal, answer });
    return answer.promise;
  }
}

function setUp(summarizer: CallSummarizer = new FakeSummarizer()) {
  const config = new AppConfig(validateEnvironment({ LOG_LEVEL: 'debug', OPENAI_API_KEY: 'sk-test-0123456789abcdef', SUMMARY_TIMEOUT_MS: String(TIMEOUT_MS) }));
  const logs = new LogCapture();
  const clock = new ManualClock();
  const scheduler = new ManualScheduler(clock);
  const metrics = new CallMetrics();
  const summaries = new CallSummaries(summarizer, config, clock, scheduler, new AppLogger(config, logs), metrics);
  const attached = new Map<string, CallSummaryDetail[]>();
  const start = (callSid: string, req: SummaryRequest = request()) =>
    summaries.summarize(callSid, req, (detail) => attached.set(callSid, [...(attached.get(callSid) ?? []), detail]));
  const outcomes = async (outcome: string) => metricValue(metrics.registry, 'call_operator_call_summaries_total', { outcome });
  return { summaries, logs, clock, scheduler, attached, start, outcomes };
}

/** Lets settled promises run their callbacks. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('CallSummaries', () => {
  it('makes the summary in the background and hands it over to be attached, once', async () => {
    const fake = new FakeSummarizer();
    const { summaries, attached, start, clock, logs, outcomes } = setUp(fake);
    start('CA1');
    await flush();
    expect(fake.calls).toHaveLength(1);
    expect(fake.calls[0].request).toEqual(request());
    expect(attached.get('CA1')).toBeUndefined();

    clock.advance(1500);
    fake.calls[0].answer.resolve(MODEL_TEXT);
    await flush();
    expect(attached.get('CA1')).toEqual([{ status: 'ready', text: MODEL_TEXT, model: 'fake-model', at: new Date(clock.epochMs()).toISOString() }]);
    expect(logs.find('call summary made', { callSid: 'CA1', model: 'fake-model', ms: 1500 })).toBeDefined();
    expect(await outcomes('ready')).toBe(1);
    expect(await summaries.summaryOf({ callSid: 'CA1', status: 'completed', endReason: 'twilio_stop', details: {} })).toEqual({ text: MODEL_TEXT, source: 'model' });
  });

  it("holds the call's webhook event until the deadline plus a margin, while the summary is being made", async () => {
    const fake = new FakeSummarizer();
    const { summaries, start, clock } = setUp(fake);
    const holdUntil = clock.epochMs() + TIMEOUT_MS + SUMMARY_HOLD_MARGIN_MS;
    start('CA1');
    expect(summaries.holdUntil({ callSid: 'CA1', details: {} })).toBe(holdUntil);
    expect(summaries.holdUntil({ callSid: 'CA2', details: {} })).toBeNull();
    fake.calls[0]?.answer.resolve(MODEL_TEXT);
    await flush();
    // A snapshot without the summary is older than the one with it, which will follow: still held.
    expect(summaries.holdUntil({ callSid: 'CA1', details: {} })).toBe(holdUntil);
    // The record with its summary, made or failed, is not held.
    expect(summaries.holdUntil({ callSid: 'CA1', details: { summary: { status: 'ready', text: MODEL_TEXT, model: 'm', at: 'x' } } })).toBeNull();
    expect(summaries.holdUntil({ callSid: 'CA1', details: { summary: { status: 'failed', reason: 'error', model: 'm', at: 'x' } } })).toBeNull();
    clock.advance(TIMEOUT_MS + SUMMARY_HOLD_MARGIN_MS);
    expect(summaries.holdUntil({ callSid: 'CA1', details: {} })).toBeNull();
  });

  it('asks nothing when summaries are off, or when the caller said nothing', async () => {
    const off = setUp(new DisabledCallSummarizer());
    expect(off.summaries.enabled).toBe(false);
    off.start('CA1');
    await flush();
    expect(off.attached.size).toBe(0);
    expect(off.summaries.holdUntil({ callSid: 'CA1', details: {} })).toBeNull();
    expect(await off.summaries.summaryOf({ callSid: 'CA1', status: 'completed', endReason: 'twilio_stop', details: {} })).toEqual({
      text: 'Call twilio_stop; no job request captured.',
      source: 'one-line',
    });

    const fake = new FakeSummarizer();
    const on = setUp(fake);
    on.start('CA2', request({ transcript: [{ speaker: 'agent', text: 'Hello? Anyone there?', startMs: 0 }, { speaker: 'caller', text: '  ', startMs: 10 }] }));
    on.start('CA3', request({ transcript: [] }));
    await flush();
    expect(fake.calls).toHaveLength(0);
    expect(on.summaries.holdUntil({ callSid: 'CA2', details: {} })).toBeNull();
  });

  it('gives up at SUMMARY_TIMEOUT_MS from the call end: the request is aborted and the failure attached', async () => {
    const fake = new FakeSummarizer();
    const { attached, start, scheduler, logs, outcomes, summaries } = setUp(fake);
    start('CA1');
    await flush();
    scheduler.advance(TIMEOUT_MS - 1);
    await flush();
    expect(attached.size).toBe(0);
    scheduler.advance(1);
    await flush();
    expect(fake.calls[0].signal.aborted).toBe(true);
    expect(attached.get('CA1')).toEqual([expect.objectContaining({ status: 'failed', reason: 'timeout', model: 'fake-model' })]);
    expect(logs.find('call summary not made; the one-line summary stands in', { callSid: 'CA1', reason: 'timeout', ms: TIMEOUT_MS })).toBeDefined();
    expect(await outcomes('timeout')).toBe(1);
    expect(scheduler.pending).toBe(0);
    const job = { jobRequest: { problem: 'Leak', urgency: 'urgent' } };
    expect(await summaries.summaryOf({ callSid: 'CA1', status: 'completed', endReason: 'twilio_stop', details: job })).toEqual({ text: 'urgent job: Leak', source: 'one-line' });
  });

  it('attaches a failure when the model fails, logging codes, never what was said', async () => {
    const fake = new FakeSummarizer();
    const { attached, start, logs, scheduler, outcomes } = setUp(fake);
    start('CA1');
    start('CA2');
    await flush();
    fake.calls[0].answer.reject(new SummaryFailed('error', { httpStatus: 503, code: null }));
    fake.calls[1].answer.reject(new TypeError(`cannot read ${SECRET_WORDS}`));
    await flush();
    expect(attached.get('CA1')).toEqual([expect.objectContaining({ status: 'failed', reason: 'error' })]);
    expect(attached.get('CA2')).toEqual([expect.objectContaining({ status: 'failed', reason: 'error' })]);
    expect(logs.find('call summary not made; the one-line summary stands in', { callSid: 'CA1', reason: 'error', httpStatus: 503 })).toBeDefined();
    expect(logs.find('call summary not made; the one-line summary stands in', { callSid: 'CA2', reason: 'error', error: 'TypeError' })).toBeDefined();
    expect(await outcomes('error')).toBe(2);
    expect(scheduler.pending).toBe(0);

    // Nothing of the call's content, the model's text or the caller's number in any line.
    start('CA3');
    await flush();
    fake.calls[2].answer.resolve(MODEL_TEXT);
    await flush();
    const text = logs.raw.join('\n');
    for (const words of [SECRET_WORDS, 'Secret Lane', MODEL_TEXT, 'leak', '4155550123']) expect(text).not.toContain(words);
  });

  it(`asks at most ${MAX_SUMMARIES_IN_FLIGHT} at once; the others wait their turn within their own deadline`, async () => {
    const fake = new FakeSummarizer();
    const { attached, start, scheduler } = setUp(fake);
    for (let i = 1; i <= MAX_SUMMARIES_IN_FLIGHT + 2; i++) start(`CA${i}`);
    await flush();
    expect(fake.calls).toHaveLength(MAX_SUMMARIES_IN_FLIGHT);
    fake.calls[0].answer.resolve(MODEL_TEXT);
    await flush();
    expect(fake.calls).toHaveLength(MAX_SUMMARIES_IN_FLIGHT + 1);
    // The last one's deadline passes while it waits: it fails without a request, and frees nothing it did not hold.
    scheduler.advance(TIMEOUT_MS);
    await flush();
    expect(fake.calls).toHaveLength(MAX_SUMMARIES_IN_FLIGHT + 1);
    expect(attached.get(`CA${MAX_SUMMARIES_IN_FLIGHT + 2}`)).toEqual([expect.objectContaining({ status: 'failed', reason: 'timeout' })]);
    expect([...attached.values()].flat()).toHaveLength(MAX_SUMMARIES_IN_FLIGHT + 2);
    // Later calls get a turn at once.
    start('CA-next');
    await flush();
    expect(fake.calls).toHaveLength(MAX_SUMMARIES_IN_FLIGHT + 2);
  });

  it('summaryOf waits for a summary being made', async () => {
    const fake = new FakeSummarizer();
    const { summaries, start } = setUp(fake);
    start('CA1');
    await flush();
    let got: unknown;
    void summaries.summaryOf({ callSid: 'CA1', status: 'completed', endReason: 'twilio_stop', details: {} }).then((s) => (got = s));
    await flush();
    expect(got).toBeUndefined();
    fake.calls[0].answer.resolve(MODEL_TEXT);
    await flush();
    expect(got).toEqual({ text: MODEL_TEXT, source: 'model' });
  });

  it('at shutdown, waits for summaries being made, then gives up the rest as shutdown, and starts no more', async () => {
    const fake = new FakeSummarizer();
    const { summaries, attached, start, scheduler } = setUp(fake);
    start('CA1');
    start('CA2');
    await flush();
    const stopping = summaries.onModuleDestroy();
    fake.calls[0].answer.resolve(MODEL_TEXT);
    await flush();
    scheduler.advance(SUMMARY_SHUTDOWN_WAIT_MS);
    await stopping;
    expect(attached.get('CA1')).toEqual([expect.objectContaining({ status: 'ready' })]);
    expect(attached.get('CA2')).toEqual([expect.objectContaining({ status: 'failed', reason: 'shutdown' })]);
    expect(scheduler.pending).toBe(0);
    start('CA3');
    await flush();
    expect(fake.calls).toHaveLength(2);
  });

  it('shuts down at once with nothing being made', async () => {
    const { summaries, scheduler } = setUp();
    await summaries.onModuleDestroy();
    expect(scheduler.pending).toBe(0);
  });
});
