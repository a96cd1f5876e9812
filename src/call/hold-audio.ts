import { BYTES_PER_MS } from '../common/mulaw';

/** Mark names of hold audio start with this; the agent's marks never do. */
export const HOLD_MARK_PREFIX = 'hold-';
/** One chunk of hold audio: a soft two-note chime, then quiet. */
export const HOLD_CHUNK_MS = 2_000;

/** G.711 mu-law of a 16-bit linear sample. */
export function muLaw(sample: number): number {
  const BIAS = 0x84;
  const CLIP = 32_635;
  let s = Math.max(-32_768, Math.min(32_767, Math.round(sample)));
  const sign = s < 0 ? 0x80 : 0;
  if (s < 0) s = -s;
  if (s > CLIP) s = CLIP;
  s += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

/** The chunk's audio: C5 then E5, 300 ms each with soft edges, at a low level, then silence. */
function chime(): Buffer {
  const rate = BYTES_PER_MS * 1000;
  const out = Buffer.alloc(HOLD_CHUNK_MS * BYTES_PER_MS, muLaw(0));
  const note = (startMs: number, hz: number) => {
    const n = 300 * BYTES_PER_MS;
    const fade = 40 * BYTES_PER_MS;
    for (let i = 0; i < n; i++) {
      const envelope = Math.min(1, i / fade, (n - i) / fade);
      out[startMs * BYTES_PER_MS + i] = muLaw(2_500 * envelope * Math.sin((2 * Math.PI * hz * i) / rate));
    }
  };
  note(0, 523.25);
  note(350, 659.25);
  return out;
}

let chunk: { readonly base64: string; readonly bytes: number } | null = null;
/** Computed once per process. */
export function holdChunk(): { readonly base64: string; readonly bytes: number } {
  if (chunk === null) {
    const audio = chime();
    chunk = { base64: audio.toString('base64'), bytes: audio.length };
  }
  return chunk;
}

/** What the call must do for its hold audio. */
export type HoldStep = { readonly do: 'send'; readonly mark: string } | { readonly do: 'clear' } | null;

/**
 * Hold audio while a warm transfer rings, paced by Twilio: one chunk at a time, the next sent when
 * the mark after the last one comes back (so Twilio plays it in real time and nothing piles up).
 * It plays only while the agent is quiet; whatever is queued is cleared when the hold ends or the
 * agent is about to speak. Pure: the call carries the steps out.
 */
export class HoldAudio {
  private holding = false;
  private agentQuiet = true;
  /** The mark of the chunk Twilio is playing; null when none is. */
  private outstanding: string | null = null;
  private sequence = 0;

  get playing(): boolean {
    return this.outstanding !== null;
  }

  hold(on: boolean): HoldStep {
    this.holding = on;
    return on ? this.next() : this.stop();
  }

  /** The agent's audio has played and nothing is being said: the hold audio (re)starts. */
  agentWentQuiet(): HoldStep {
    this.agentQuiet = true;
    return this.next();
  }

  /** The agent is about to speak: the hold audio gives way. */
  agentBusy(): HoldStep {
    this.agentQuiet = false;
    return this.stop();
  }

  /** A mark came back; true when it was hold audio's (then `step` says what to do). */
  markEchoed(name: string): HoldStep {
    if (name !== this.outstanding) return null;
    this.outstanding = null;
    return this.next();
  }

  private next(): HoldStep {
    if (!this.holding || !this.agentQuiet || this.outstanding !== null) return null;
    this.outstanding = `${HOLD_MARK_PREFIX}${++this.sequence}`;
    return { do: 'send', mark: this.outstanding };
  }

  private stop(): HoldStep {
    if (this.outstanding === null) return null;
    // The echo of the cleared mark is ignored: it no longer matches.
    this.outstanding = null;
    return { do: 'clear' };
  }
}
