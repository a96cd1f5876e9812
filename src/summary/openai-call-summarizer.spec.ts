/**
 * The OpenAI summarizer against a real HTTP fake of OpenAI's API on 127.0.0.1 (test/support/
 * fake-openai-api.ts), through the official SDK: what it sends (method, path, key, and a body of
 * the SDK's ResponseCreateParamsNonStreaming type with the model, instructions and input), what it
 * makes of each kind of answer, and that it never retries.
 */
import type { ResponseCreateParamsNonStreaming } from 'openai/resources/responses/responses';
import { FakeOpenAiApi } from '../../test/support/fake-openai-api';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import { DisabledCallSummarizer, SummaryFailed, type SummaryRequest } from './call-summarizer';
import { OpenAiCallSummarizer, SUMMARY_MAX_OUTPUT_TOKENS } from './openai-call-summarizer';
import { summarizerFor } from './summary.module';

const API_KEY = 'sk-test-summary-0123456789abcdef';

const REQUEST: SummaryRequest = {
  direction: 'inbound',
  companyName: 'Acme Plumbing',
  transcript: [
    { speaker: 'agent', text: 'Thanks for calling Acme Plumbing. Is this an emergency?', startMs: 0 },
    { speaker: 'caller', text: 'Yes, a pipe burst under my sink. I am Dana Reyes, call me on 415 555 0123.', startMs: 3000 },
    { speaker: 'agent', text: 'A plumber will call you back tonight.', startMs: 9000 },
  ],
  jobRequest: { callerName: 'Dana Reyes', callbackNumber: '+14155550123', serviceAddress: '12 Elm St', problem: 'Burst pipe under the sink', urgency: 'emergency' },
  status: 'completed',
  endReason: 'twilio_stop',
};

/** The SDK's request parameters this summarizer may send, and no others. */
const SENT_KEYS: ReadonlyArray<keyof ResponseCreateParamsNonStreaming> = ['model', 'instructions', 'input', 'max_output_tokens', 'store'];

describe('OpenAiCallSummarizer', () => {
  let fake: FakeOpenAiApi;
  let summarizer: OpenAiCallSummarizer;
  const config = new AppConfig(validateEnvironment({ OPENAI_API_KEY: API_KEY }));
  const never = new AbortController().signal;

  beforeEach(async () => {
    fake = await FakeOpenAiApi.start();
    summarizer = new OpenAiCallSummarizer({ apiKey: API_KEY, baseUrl: fake.baseUrl, model: 'gpt-4.1-mini', instructions: config.summary.instructions, timeoutMs: 10_000 });
  });

  afterEach(async () => {
    await fake.close();
  });

  it('asks the Responses API once, with the model, the instructions from prompts/ and the call as input, and returns the text', async () => {
    fake.reply({ kind: 'text', text: '  Dana Reyes called about a burst pipe at 12 Elm St.\nIt is an emergency.  A plumber calls back tonight. ' });
    expect(await summarizer.summarize(REQUEST, never)).toBe('Dana Reyes called about a burst pipe at 12 Elm St. It is an emergency. A plumber calls back tonight.');

    expect(fake.requests).toHaveLength(1);
    const [sent] = fake.requests;
    expect(sent.method).toBe('POST');
    expect(sent.path).toBe('/v1/responses');
    expect(sent.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(sent.headers['content-type']).toBe('application/json');
    // The body is the SDK's ResponseCreateParamsNonStreaming (typed by the fake), with only these keys.
    const body: ResponseCreateParamsNonStreaming = sent.body;
    expect(Object.keys(body).sort()).toEqual([...SENT_KEYS].sort());
    expect(body).toEqual(summarizer.request(REQUEST));
    expect(body).toMatchObject({ model: 'gpt-4.1-mini', max_output_tokens: SUMMARY_MAX_OUTPUT_TOKENS, store: false, instructions: config.summary.instructions });
    expect(body.instructions).toContain('exactly three short sentences');
    expect(body.input).toContain('Caller: Yes, a pipe burst under my sink.');
    expect(body.input).toContain('- problem: Burst pipe under the sink');
    expect(body.input).toContain('- urgency: emergency');
    // No credential in the body: the key travels in the Authorization header only.
    expect(sent.raw).not.toContain(API_KEY);
    expect(sent.raw).not.toContain('+14155550123');
  });

  it.each([
    [{ kind: 'error', status: 500 } as const, { httpStatus: 500, type: 'server_error' }],
    [{ kind: 'error', status: 429, code: 'rate_limit_exceeded' } as const, { httpStatus: 429, code: 'rate_limit_exceeded' }],
    [{ kind: 'error', status: 401, code: 'invalid_api_key', message: 'Incorrect API key provided: sk-test-****cdef.' } as const, { httpStatus: 401, code: 'invalid_api_key' }],
  ])('fails on an HTTP error (%j) after one request, never retried, with codes and no message', async (reply, facts) => {
    fake.reply(reply);
    const failure = (await summarizer.summarize(REQUEST, never).catch((e: unknown) => e)) as SummaryFailed;
    expect(failure).toBeInstanceOf(SummaryFailed);
    expect(failure.reason).toBe('error');
    expect(failure.facts).toMatchObject(facts);
    expect(JSON.stringify(failure.facts)).not.toContain('fake error');
    expect(JSON.stringify(failure.facts)).not.toContain('Incorrect');
    expect(fake.requests).toHaveLength(1);
  });

  it.each([
    [{ kind: 'incomplete' } as const, 'incomplete'],
    [{ kind: 'refusal' } as const, 'refused'],
    [{ kind: 'text', text: ' \n ' } as const, 'empty'],
  ])('fails on a response with no summary (%j): %s', async (reply, reason) => {
    fake.reply(reply);
    await expect(summarizer.summarize(REQUEST, never)).rejects.toMatchObject({ reason });
  });

  it('stops waiting when its signal aborts: the request is dropped', async () => {
    fake.reply({ kind: 'hold' });
    const abort = new AbortController();
    const pending = summarizer.summarize(REQUEST, abort.signal);
    await fake.waitForHeld();
    abort.abort();
    await expect(pending).rejects.toMatchObject({ name: 'SummaryFailed', reason: 'timeout' });
    expect(fake.requests).toHaveLength(1);
  });

  it("gives up at the SDK's own timeout should no signal end it first", async () => {
    const quick = new OpenAiCallSummarizer({ apiKey: API_KEY, baseUrl: fake.baseUrl, model: 'gpt-4.1-mini', instructions: 'x', timeoutMs: 300 });
    fake.reply({ kind: 'hold' });
    // Named `timeout` outside jest; inside, the SDK cannot recognise the abort of another realm's
    // fetch and reports a connection error. CallSummaries' own deadline names timeouts either way.
    await expect(quick.summarize(REQUEST, never)).rejects.toBeInstanceOf(SummaryFailed);
    expect(fake.requests).toHaveLength(1);
  });

  it('fails when nothing answers', async () => {
    const base = fake.baseUrl;
    await fake.close();
    const orphan = new OpenAiCallSummarizer({ apiKey: API_KEY, baseUrl: base, model: 'gpt-4.1-mini', instructions: 'x', timeoutMs: 5_000 });
    await expect(orphan.summarize(REQUEST, never)).rejects.toMatchObject({ reason: 'error', facts: { cause: 'no answer' } });
  });

  it("reads nothing from the SDK's own environment variables: the service's configuration decides", async () => {
    const saved = { ...process.env };
    Object.assign(process.env, { OPENAI_BASE_URL: 'http://127.0.0.1:9/v1', OPENAI_ORG_ID: 'org-elsewhere', OPENAI_PROJECT_ID: 'proj_elsewhere', OPENAI_LOG: 'debug' });
    const logged = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    const debugged = jest.spyOn(console, 'debug').mockImplementation(() => undefined);
    try {
      const isolated = new OpenAiCallSummarizer({ apiKey: API_KEY, baseUrl: fake.baseUrl, model: 'gpt-4.1-mini', instructions: 'x', timeoutMs: 5_000 });
      await isolated.summarize(REQUEST, never);
      expect(fake.requests).toHaveLength(1);
      expect(fake.requests[0].headers['openai-organization']).toBeUndefined();
      expect(fake.requests[0].headers['openai-project']).toBeUndefined();
      expect(logged).not.toHaveBeenCalled();
      expect(debugged).not.toHaveBeenCalled();
    } finally {
      process.env = saved;
      logged.mockRestore();
      debugged.mockRestore();
    }
  });

  it('is what the configuration asks for: OpenAI with a key and SUMMARY_ENABLED, else off', () => {
    expect(summarizerFor(config)).toBeInstanceOf(OpenAiCallSummarizer);
    expect(summarizerFor(config).model).toBe('gpt-4.1-mini');
    expect(summarizerFor(new AppConfig(validateEnvironment({})))).toBeInstanceOf(DisabledCallSummarizer);
    expect(summarizerFor(new AppConfig(validateEnvironment({ OPENAI_API_KEY: API_KEY, SUMMARY_ENABLED: 'false' }))).model).toBeNull();
  });
});
