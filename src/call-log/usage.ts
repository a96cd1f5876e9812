import type { TokenPrices } from '../config/app-config';
import type { RealtimeUsage } from '../realtime/realtime-protocol';
import type { CallUsage } from './call-record';

export type { TokenPrices };

const int = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0);
const obj = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {});

/** Adds one response.done's usage (GA or beta shape) to the call's running total. */
export function addUsage(total: CallUsage, usage: RealtimeUsage): CallUsage {
  const input = obj(usage.input_token_details);
  const output = obj(usage.output_token_details);
  const cachedDetails = obj(input.cached_tokens_details);
  const inputText = int(input.text_tokens);
  const inputAudio = int(input.audio_tokens);
  const cached = int(input.cached_tokens);
  let cachedText = int(cachedDetails.text_tokens);
  let cachedAudio = int(cachedDetails.audio_tokens);
  if (cached > 0 && cachedText + cachedAudio === 0) {
    // Beta reports only the cached total: split it like the input it is a part of.
    const inputAll = inputText + inputAudio;
    cachedAudio = inputAll > 0 ? Math.round((cached * inputAudio) / inputAll) : 0;
    cachedText = cached - cachedAudio;
  }
  return {
    responses: total.responses + 1,
    inputTextTokens: total.inputTextTokens + inputText,
    inputAudioTokens: total.inputAudioTokens + inputAudio,
    cachedTextTokens: total.cachedTextTokens + Math.min(cachedText, inputText),
    cachedAudioTokens: total.cachedAudioTokens + Math.min(cachedAudio, inputAudio),
    outputTextTokens: total.outputTextTokens + int(output.text_tokens),
    outputAudioTokens: total.outputAudioTokens + int(output.audio_tokens),
  };
}

/** Estimated cost in US dollars; cached tokens are billed at the cached rate instead of the full one. */
export function estimateCost(u: CallUsage, p: TokenPrices): number {
  const dollars =
    (u.inputTextTokens - u.cachedTextTokens) * p.textInput +
    u.cachedTextTokens * p.textCachedInput +
    (u.inputAudioTokens - u.cachedAudioTokens) * p.audioInput +
    u.cachedAudioTokens * p.audioCachedInput +
    u.outputTextTokens * p.textOutput +
    u.outputAudioTokens * p.audioOutput;
  return Math.round(dollars) / 1_000_000; // prices are per million tokens; micro-dollar precision
}
