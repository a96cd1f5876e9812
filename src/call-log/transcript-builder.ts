import type { TranscriptTurn } from './call-record';

interface CallerTurn {
  startMs: number;
  text: string | null;
}

interface AgentTurn {
  startMs: number | null;
  /** Model audio of the item received so far. */
  audioMs: number;
  /** Transcript deltas' text, the older ones joined into the first (see agentTranscriptDelta). */
  parts: string[];
  /** Per delta, in pairs: the item's audio position when it arrived, and the text's length with it. */
  stops: number[];
  textLength: number;
  finalText: string | null;
  truncatedAtMs: number | null;
}

const MAX_TURNS = 2_000;
const JOIN_EVERY = 32;

/**
 * Assembles a call's transcript from Realtime events, in the order things were said.
 * Caller text comes from input transcription, agent text from the output audio transcript.
 * An agent turn the caller interrupted keeps only the words spoken before the truncation: the
 * transcript deltas that arrived while the item's audio had not yet passed audio_end_ms (text
 * streams alongside its audio), or, with no deltas, the same share of the final text.
 */
export class TranscriptBuilder {
  private readonly caller = new Map<string, CallerTurn>();
  private readonly agent = new Map<string, AgentTurn>();

  /** speech_started: the caller's turn begins at `atMs` on the call timeline. */
  callerSpeechStarted(itemId: string | undefined, atMs: number): void {
    if (!itemId || this.caller.has(itemId) || this.full()) return;
    this.caller.set(itemId, { startMs: atMs, text: null });
  }

  callerTranscript(itemId: string, text: string, fallbackAtMs: number): void {
    const turn = this.caller.get(itemId);
    if (turn) turn.text = text;
    else if (!this.full()) this.caller.set(itemId, { startMs: fallbackAtMs, text });
  }

  /** Agent audio for the item was sent to the caller at `atMs`; `ms` more of it exists now. */
  agentAudio(itemId: string, ms: number, atMs: number): void {
    const turn = this.agentTurn(itemId);
    if (!turn) return;
    turn.startMs ??= atMs;
    turn.audioMs += ms;
  }

  /**
   * Several deltas a second per call for minutes: kept as numbers and text, not an object each; and
   * a delta read out of its event's text may keep that whole text alive (a sliced string), so the
   * parts are joined into one new string every JOIN_EVERY deltas.
   */
  agentTranscriptDelta(itemId: string, delta: string): void {
    const turn = this.agentTurn(itemId);
    if (!turn || turn.truncatedAtMs !== null) return;
    turn.textLength += delta.length;
    turn.stops.push(turn.audioMs, turn.textLength);
    turn.parts.push(delta);
    if (turn.parts.length > JOIN_EVERY) turn.parts = [turn.parts.join('')];
  }

  agentTranscriptDone(itemId: string, text: string): void {
    const turn = this.agentTurn(itemId);
    if (turn) turn.finalText = text;
  }

  /** The caller heard only `audioEndMs` of the item. */
  agentTruncated(itemId: string, audioEndMs: number): void {
    const turn = this.agent.get(itemId);
    if (turn && turn.truncatedAtMs === null) turn.truncatedAtMs = audioEndMs;
  }

  /** Every turn with text, by start time (caller before agent at the same instant). */
  turns(): TranscriptTurn[] {
    const turns: TranscriptTurn[] = [];
    for (const t of this.caller.values()) {
      const text = t.text?.trim();
      if (text) turns.push({ speaker: 'caller', text, startMs: Math.round(t.startMs) });
    }
    for (const t of this.agent.values()) {
      const text = this.agentText(t);
      if (t.startMs === null || !text) continue;
      turns.push(
        t.truncatedAtMs === null
          ? { speaker: 'agent', text, startMs: Math.round(t.startMs) }
          : { speaker: 'agent', text, startMs: Math.round(t.startMs), interrupted: true },
      );
    }
    return turns.sort((a, b) => a.startMs - b.startMs || (a.speaker === b.speaker ? 0 : a.speaker === 'caller' ? -1 : 1));
  }

  private agentText(t: AgentTurn): string {
    const whole = t.finalText ?? t.parts.join('');
    if (t.truncatedAtMs === null) return whole.trim();
    if (t.stops.length > 0) {
      // The deltas that arrived before the audio passed the cut: a prefix, as positions only grow.
      let heard = 0;
      for (let i = 0; i < t.stops.length && t.stops[i] < t.truncatedAtMs; i += 2) heard = t.stops[i + 1];
      return t.parts.join('').slice(0, heard).trim();
    }
    if (t.audioMs <= 0) return '';
    const share = Math.min(1, t.truncatedAtMs / t.audioMs);
    const cut = whole.slice(0, Math.round(whole.length * share));
    // End on a word boundary: half a word was not heard as a word.
    return (share < 1 && /\S$/.test(cut) && /^\S/.test(whole.slice(cut.length)) ? cut.replace(/\S+$/, '') : cut).trim();
  }

  private agentTurn(itemId: string): AgentTurn | undefined {
    let turn = this.agent.get(itemId);
    if (!turn && !this.full()) {
      turn = { startMs: null, audioMs: 0, parts: [], stops: [], textLength: 0, finalText: null, truncatedAtMs: null };
      this.agent.set(itemId, turn);
    }
    return turn;
  }

  private full(): boolean {
    return this.caller.size + this.agent.size >= MAX_TURNS;
  }
}
