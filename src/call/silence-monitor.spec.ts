import { SilenceMonitor } from './silence-monitor';

const LIMIT = 15_000;

describe('SilenceMonitor', () => {
  it('asks after a silence from the start of the call, then says goodbye after a second one', () => {
    const m = new SilenceMonitor(LIMIT, 0);
    expect(m.check(LIMIT - 1)).toBeNull();
    expect(m.check(LIMIT)).toBe('ask');
    expect(m.check(LIMIT + 1)).toBeNull();
    // The question is spoken and played; the second silence counts from its end.
    m.agentBusy();
    m.agentQuiet(20_000);
    expect(m.check(20_000 + LIMIT - 1)).toBeNull();
    expect(m.check(20_000 + LIMIT)).toBe('goodbye');
    m.agentBusy();
    m.agentQuiet(40_000);
    expect(m.check(1_000_000)).toBeNull();
  });

  it('does not count while the agent speaks, however long', () => {
    const m = new SilenceMonitor(LIMIT, 0);
    m.agentBusy();
    expect(m.check(10 * LIMIT)).toBeNull();
    m.agentQuiet(10 * LIMIT);
    expect(m.check(11 * LIMIT - 1)).toBeNull();
    expect(m.check(11 * LIMIT)).toBe('ask');
  });

  it('does not count while the caller speaks, and caller speech starts the sequence over', () => {
    const m = new SilenceMonitor(LIMIT, 0);
    expect(m.check(LIMIT)).toBe('ask');
    m.callerStarted();
    expect(m.check(5 * LIMIT)).toBeNull();
    m.callerStopped(5 * LIMIT);
    // Asked before, but the caller spoke since: the next silence asks again rather than hanging up.
    expect(m.check(6 * LIMIT)).toBe('ask');
  });

  it('starts over when the caller speaks up after the goodbye', () => {
    const m = new SilenceMonitor(LIMIT, 0);
    expect(m.check(LIMIT)).toBe('ask');
    expect(m.check(2 * LIMIT)).toBeNull();
    m.agentQuiet(2 * LIMIT);
    expect(m.check(3 * LIMIT)).toBe('goodbye');
    m.callerStarted();
    m.callerStopped(4 * LIMIT);
    expect(m.check(5 * LIMIT)).toBe('ask');
  });

  it('waits for both sides to be quiet', () => {
    const m = new SilenceMonitor(LIMIT, 0);
    m.agentBusy();
    m.callerStarted();
    m.agentQuiet(1_000);
    expect(m.check(1_000 + LIMIT)).toBeNull();
    m.callerStopped(2_000);
    expect(m.check(2_000 + LIMIT - 1)).toBeNull();
    expect(m.check(2_000 + LIMIT)).toBe('ask');
  });

  it('never acts when disabled', () => {
    const m = new SilenceMonitor(0, 0);
    expect(m.check(1_000_000)).toBeNull();
    m.agentQuiet(0);
    m.callerStopped(0);
    expect(m.check(1_000_000)).toBeNull();
  });

  it('counts no silence while the caller is on hold, and starts again from the end of the hold', () => {
    const m = new SilenceMonitor(15_000, 0);
    m.hold(true, 1_000);
    expect(m.check(60_000)).toBeNull();
    m.agentQuiet(61_000);
    expect(m.check(120_000)).toBeNull();
    m.hold(false, 130_000);
    expect(m.check(144_999)).toBeNull();
    expect(m.check(145_000)).toBe('ask');
  });
});
