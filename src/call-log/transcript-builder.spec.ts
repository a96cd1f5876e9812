import { TranscriptBuilder } from './transcript-builder';

describe('TranscriptBuilder', () => {
  it('orders caller and agent turns on the call timeline', () => {
    const t = new TranscriptBuilder();
    t.agentAudio('a1', 400, 120);
    t.agentTranscriptDelta('a1', 'Thanks for calling ');
    t.agentTranscriptDelta('a1', 'Acme Plumbing.');
    t.agentAudio('a1', 1200, 130);
    t.agentTranscriptDone('a1', 'Thanks for calling Acme Plumbing.');
    t.callerSpeechStarted('u1', 2300);
    // Transcription arrives late, after the next agent turn has started.
    t.agentAudio('a2', 800, 4100);
    t.agentTranscriptDone('a2', 'Is anyone hurt?');
    t.callerTranscript('u1', ' My basement is flooding. ', 4000);
    expect(t.turns()).toEqual([
      { speaker: 'agent', text: 'Thanks for calling Acme Plumbing.', startMs: 120 },
      { speaker: 'caller', text: 'My basement is flooding.', startMs: 2300 },
      { speaker: 'agent', text: 'Is anyone hurt?', startMs: 4100 },
    ]);
  });

  it('keeps only the words of an interrupted turn that streamed before the truncation', () => {
    const t = new TranscriptBuilder();
    t.agentAudio('a1', 0, 1000);
    t.agentTranscriptDelta('a1', 'Please shut off ');
    t.agentAudio('a1', 600, 1000);
    t.agentTranscriptDelta('a1', 'the main valve, ');
    t.agentAudio('a1', 700, 1000);
    t.agentTranscriptDelta('a1', 'usually near the meter.');
    t.agentAudio('a1', 900, 1000);
    t.callerSpeechStarted('u1', 2000);
    t.agentTruncated('a1', 1000);
    // The server still reports the whole text afterwards; the caller never heard it all.
    t.agentTranscriptDone('a1', 'Please shut off the main valve, usually near the meter.');
    t.callerTranscript('u1', 'Done already.', 2000);
    expect(t.turns()).toEqual([
      { speaker: 'agent', text: 'Please shut off the main valve,', startMs: 1000, interrupted: true },
      { speaker: 'caller', text: 'Done already.', startMs: 2000 },
    ]);
  });

  it('keeps every delta of a long turn, whole or cut at the truncation (deltas joined as they come)', () => {
    const whole = new TranscriptBuilder();
    const cut = new TranscriptBuilder();
    const words: string[] = [];
    for (let i = 0; i < 200; i++) {
      for (const t of [whole, cut]) {
        t.agentAudio('a1', 40, 1000);
        t.agentTranscriptDelta('a1', `w${i} `);
      }
      words.push(`w${i}`);
    }
    // Delta i arrived with 40 * (i + 1) ms of audio: those before 4,000 ms are the first 99.
    cut.agentTruncated('a1', 4_000);
    expect(whole.turns()).toEqual([{ speaker: 'agent', text: words.join(' '), startMs: 1000 }]);
    expect(cut.turns()).toEqual([{ speaker: 'agent', text: words.slice(0, 99).join(' '), startMs: 1000, interrupted: true }]);
  });

  it('cuts an interrupted turn without deltas in proportion, on a word boundary', () => {
    const t = new TranscriptBuilder();
    t.agentAudio('a1', 2000, 0);
    t.agentTranscriptDone('a1', 'one two three four five six seven eight');
    t.agentTruncated('a1', 1000);
    expect(t.turns()).toEqual([{ speaker: 'agent', text: 'one two three four', startMs: 0, interrupted: true }]);
  });

  it('leaves out agent items whose audio never reached the caller and empty transcriptions', () => {
    const t = new TranscriptBuilder();
    t.agentTranscriptDone('never-sent', 'Dropped after a barge-in.');
    t.callerSpeechStarted('u1', 100);
    t.callerTranscript('u1', '   ', 100);
    t.callerSpeechStarted('u2', 500);
    expect(t.turns()).toEqual([]);
  });

  it('keeps a transcription whose speech_started it never saw, at the fallback time', () => {
    const t = new TranscriptBuilder();
    t.callerTranscript('u9', 'Hello?', 750);
    expect(t.turns()).toEqual([{ speaker: 'caller', text: 'Hello?', startMs: 750 }]);
  });
});
