import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import type { ResponseCreateParamsNonStreaming } from 'openai/resources/responses/responses';
import { CallSummarizer, SummaryFailed, type SummaryRequest } from './call-summarizer';
import { buildSummaryInput, normaliseSummary } from './summary-prompt';

/**
 * Bounds what one summary may cost. Three sentences take under 150 tokens; the rest is room for a
 * reasoning model's reasoning, should SUMMARY_MODEL name one.
 */
export const SUMMARY_MAX_OUTPUT_TOKENS = 1_500;

export interface OpenAiSummarizerSettings {
  readonly apiKey: string;
  /** OpenAI's HTTP API, e.g. https://api.openai.com/v1. */
  readonly baseUrl: string;
  readonly model: string;
  /** The model's instructions (prompts/call_summary_prompt.txt). */
  readonly instructions: string;
  /** The SDK's own bound on one request; the caller's signal usually ends it first. */
  readonly timeoutMs: number;
}

/**
 * Summaries by an OpenAI text model through the Responses API, with the official SDK. One request
 * per call and no retry (maxRetries 0), bounded by the caller's signal and the SDK's timeout.
 * Everything is set here rather than read by the SDK from the environment (OPENAI_BASE_URL,
 * OPENAI_ORG_ID, OPENAI_LOG…): the service's one validated configuration decides. The SDK's own
 * logging is off, so that no request body (the transcript) reaches a log. The response is not
 * stored at OpenAI (`store: false`).
 */
export class OpenAiCallSummarizer extends CallSummarizer {
  readonly model: string;
  private readonly client: OpenAI;
  private readonly instructions: string;

  constructor(settings: OpenAiSummarizerSettings) {
    super();
    this.model = settings.model;
    this.instructions = settings.instructions;
    this.client = new OpenAI({
      apiKey: settings.apiKey,
      baseURL: settings.baseUrl,
      adminAPIKey: null,
      organization: null,
      project: null,
      webhookSecret: null,
      maxRetries: 0,
      timeout: settings.timeoutMs,
      logLevel: 'off',
    });
  }

  /** The request body: what the tests check against the SDK's types. */
  request(request: SummaryRequest): ResponseCreateParamsNonStreaming {
    return {
      model: this.model,
      instructions: this.instructions,
      input: buildSummaryInput(request),
      max_output_tokens: SUMMARY_MAX_OUTPUT_TOKENS,
      store: false,
    };
  }

  async summarize(request: SummaryRequest, signal: AbortSignal): Promise<string> {
    let response: OpenAI.Responses.Response;
    try {
      response = await this.client.responses.create(this.request(request), { signal });
    } catch (err) {
      throw failureOf(err);
    }
    if (response.status === 'incomplete') throw new SummaryFailed('incomplete', { why: response.incomplete_details?.reason ?? null });
    if (response.status === 'failed') throw new SummaryFailed('error', { code: response.error?.code ?? null });
    const text = normaliseSummary(response.output_text ?? '');
    if (text !== '') return text;
    const refused = response.output.some((item) => item.type === 'message' && item.content.some((part) => part.type === 'refusal'));
    throw new SummaryFailed(refused ? 'refused' : 'empty');
  }
}

/** The SDK's error as a SummaryFailed, with codes only: an API error's message may quote the request. */
function failureOf(err: unknown): SummaryFailed {
  if (err instanceof SummaryFailed) return err;
  if (err instanceof APIConnectionTimeoutError) return new SummaryFailed('timeout');
  if (err instanceof APIUserAbortError) return new SummaryFailed('timeout', { aborted: 'yes' });
  if (err instanceof APIConnectionError) return new SummaryFailed('error', { httpStatus: null, cause: 'no answer' });
  if (err instanceof APIError) {
    const status: unknown = err.status;
    return new SummaryFailed('error', { httpStatus: typeof status === 'number' ? status : null, code: codeOf(err.code), type: codeOf(err.type) });
  }
  return new SummaryFailed('error', { error: err instanceof Error ? err.name : typeof err });
}

/** An API error code or type as logged: an identifier, or nothing (never free text). */
function codeOf(value: string | null | undefined): string | null {
  return typeof value === 'string' && /^[a-z][a-z0-9_.-]{0,63}$/i.test(value) ? value : null;
}
