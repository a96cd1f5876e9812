import { Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { CallSummaries, CallSummarySource } from './call-summaries';
import { CallSummarizer, DisabledCallSummarizer } from './call-summarizer';
import { OpenAiCallSummarizer } from './openai-call-summarizer';

/** The summarizer the configuration asks for: OpenAI's text model, or none (off, or no key). */
export function summarizerFor(config: AppConfig): CallSummarizer {
  const { enabled, model, baseUrl, instructions, timeoutMs } = config.summary;
  const apiKey = config.openai.apiKey;
  return enabled && apiKey ? new OpenAiCallSummarizer({ apiKey, baseUrl, model, instructions, timeoutMs }) : new DisabledCallSummarizer();
}

/**
 * Each call's written summary (three sentences: who called, what about, what happens next), made
 * by a text model after the call and attached to its record. CallSummarizer is the port to the
 * model (a test replaces it with a fake); CallSummarySource is what the SMS and paging features read.
 * Imported by the call (which asks for summaries) and the webhooks (whose call.ended event waits).
 */
@Module({
  providers: [
    { provide: CallSummarizer, useFactory: summarizerFor, inject: [AppConfig] },
    CallSummaries,
    { provide: CallSummarySource, useExisting: CallSummaries },
  ],
  exports: [CallSummaries, CallSummarySource],
})
export class SummaryModule {}
