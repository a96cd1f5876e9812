import { HOLD_CHUNK_MS, HoldAudio, holdChunk, muLaw } from './hold-audio';

describe('muLaw', () => {
  it('encodes as G.711 does', () => {
    expect(muLaw(0)).toBe(0xff);
    expect(muLaw(-1)).toBe(0x7f);
    expect(muLaw(32_767)).toBe(0x80);
    expect(muLaw(-32_768)).toBe(0x00);
  });
});

describe('holdChunk', () => {
  it('is two seconds of 8 kHz mu-law, made once', () => {
    const chunk = holdChunk();
    expect(chunk.bytes).toBe(HOLD_CHUNK_MS * 8);
    expect(Buffer.from(chunk.base64, 'base64')).toHaveLength(chunk.bytes);
    expect(holdChunk()).toBe(chunk);
    // Quiet at the end.
    expect(Buffer.from(chunk.base64, 'base64').subarray(-800).every((b) => b === 0xff)).toBe(true);
  });
});

describe('HoldAudio', () => {
  it('sends one chunk at a time, the next when its mark comes back', () => {
    const h = new HoldAudio();
    expect(h.hold(true)).toEqual({ do: 'send', mark: 'hold-1' });
    expect(h.playing).toBe(true);
    expect(h.markEchoed('agent-mark')).toBeNull();
    expect(h.markEchoed('hold-1')).toEqual({ do: 'send', mark: 'hold-2' });
    expect(h.hold(false)).toEqual({ do: 'clear' });
    // The cleared chunk's echo starts nothing.
    expect(h.markEchoed('hold-2')).toBeNull();
    expect(h.playing).toBe(false);
  });

  it('waits for the agent to be quiet, gives way when it speaks, and resumes after', () => {
    const h = new HoldAudio();
    expect(h.agentBusy()).toBeNull();
    expect(h.hold(true)).toBeNull();
    expect(h.agentWentQuiet()).toEqual({ do: 'send', mark: 'hold-1' });
    expect(h.agentBusy()).toEqual({ do: 'clear' });
    expect(h.markEchoed('hold-1')).toBeNull();
    expect(h.agentWentQuiet()).toEqual({ do: 'send', mark: 'hold-2' });
  });

  it('does nothing when not holding', () => {
    const h = new HoldAudio();
    expect(h.agentWentQuiet()).toBeNull();
    expect(h.agentBusy()).toBeNull();
    expect(h.hold(false)).toBeNull();
  });
});
