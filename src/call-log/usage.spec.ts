import { EMPTY_USAGE } from './call-record';
import { addUsage, estimateCost, type TokenPrices } from './usage';

const prices: TokenPrices = { textInput: 4, textCachedInput: 0.4, textOutput: 16, audioInput: 32, audioCachedInput: 0.4, audioOutput: 64 };

describe('usage and cost', () => {
  it('sums GA usage across responses, cached tokens as part of the input', () => {
    const ga = {
      total_tokens: 2412,
      input_tokens: 2150,
      output_tokens: 262,
      input_token_details: { text_tokens: 1310, audio_tokens: 840, cached_tokens: 1792, cached_tokens_details: { text_tokens: 1216, audio_tokens: 576 } },
      output_token_details: { text_tokens: 58, audio_tokens: 204 },
    };
    const total = addUsage(addUsage(EMPTY_USAGE, ga), ga);
    expect(total).toEqual({
      responses: 2,
      inputTextTokens: 2620,
      inputAudioTokens: 1680,
      cachedTextTokens: 2432,
      cachedAudioTokens: 1152,
      outputTextTokens: 116,
      outputAudioTokens: 408,
    });
    // (188*4 + 2432*0.4 + 528*32 + 1152*0.4 + 116*16 + 408*64) / 1e6
    expect(estimateCost(total, prices)).toBeCloseTo((188 * 4 + 2432 * 0.4 + 528 * 32 + 1152 * 0.4 + 116 * 16 + 408 * 64) / 1e6, 6);
  });

  it('splits a beta cached total in proportion to the input', () => {
    const beta = { input_token_details: { text_tokens: 300, audio_tokens: 100, cached_tokens: 200 }, output_token_details: { text_tokens: 0, audio_tokens: 50 } };
    expect(addUsage(EMPTY_USAGE, beta)).toMatchObject({ cachedTextTokens: 150, cachedAudioTokens: 50 });
  });

  it('ignores missing and malformed counts', () => {
    expect(addUsage(EMPTY_USAGE, { input_token_details: { text_tokens: -5, audio_tokens: 'x' } })).toEqual({ ...EMPTY_USAGE, responses: 1 });
    expect(estimateCost(EMPTY_USAGE, prices)).toBe(0);
  });
});
