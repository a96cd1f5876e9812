import { ResponseTiming, type TimingSink } from './response-timing';

/** Records what the timing reports. */
function recorder(): TimingSink & { first: number[]; latency: number[] } {
  const first: number[] = [];
  const latency: number[] = [];
  return { first, latency, firstAudio: (s) => first.push(s), responseLatency: (s) => latency.push(s) };
}

describe('ResponseTiming', () => {
  it("times the first agent audio from the stream's start, once", () => {
    const sink = recorder();
    const t = new ResponseTiming(1_000, sink);
    expect(t.waiting).toBe(true);
    t.responseCreated('greeting');
    t.agentAudioSent('greeting', 1_850);
    t.agentAudioSent('greeting', 1_900);
    expect(sink.first).toEqual([0.85]);
    // A greeting answers no turn of the caller's.
    expect(sink.latency).toEqual([]);
    expect(t.waiting).toBe(false);
  });

  it("times a reply from the end of the caller's turn to its first audio sent, once per turn", () => {
    const sink = recorder();
    const t = new ResponseTiming(0, sink);
    t.agentAudioSent('greeting', 500);
    t.callerStarted();
    t.callerStopped(10_000);
    expect(t.waiting).toBe(false);
    t.responseCreated('r1');
    expect(t.waiting).toBe(true);
    t.agentAudioSent('r1', 10_640);
    t.agentAudioSent('r1', 10_680);
    expect(sink.latency).toEqual([0.64]);
    expect(t.waiting).toBe(false);

    t.callerStarted();
    t.callerStopped(20_000);
    t.responseCreated('r2');
    t.agentAudioSent('r2', 21_200);
    expect(sink.latency).toEqual([0.64, 1.2]);
  });

  it('waits through a tool call: the reply is the first response after the turn that has audio', () => {
    const sink = recorder();
    const t = new ResponseTiming(0, sink);
    t.agentAudioSent('greeting', 500);
    t.callerStopped(10_000);
    t.responseCreated('calls_a_tool');
    t.responseCreated('follow_up');
    t.agentAudioSent('follow_up', 12_500);
    expect(sink.latency).toEqual([2.5]);
  });

  it("ignores audio of a response created before the turn ended, and a turn the caller's new speech abandoned", () => {
    const sink = recorder();
    const t = new ResponseTiming(0, sink);
    t.responseCreated('old');
    t.agentAudioSent('old', 500);
    t.callerStopped(10_000);
    t.agentAudioSent('old', 10_100);
    t.responseCreated('r1');
    t.callerStarted(); // barge-in before r1 was heard
    t.agentAudioSent('r1', 10_900);
    expect(sink.latency).toEqual([]);
    t.callerStopped(12_000);
    t.responseCreated('r2');
    t.agentAudioSent('r2', 12_300);
    expect(sink.latency).toEqual([0.3]);
  });

  it('a response created before the stop is not the reply, even if nothing newer is', () => {
    const sink = recorder();
    const t = new ResponseTiming(0, sink);
    t.agentAudioSent('greeting', 100);
    t.responseCreated('r1');
    t.callerStopped(1_000);
    t.agentAudioSent('r1', 1_100);
    expect(sink.latency).toEqual([]);
  });
});
