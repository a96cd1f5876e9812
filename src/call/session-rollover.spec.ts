import { ROLLOVER_MARGIN_MS, ROLLOVER_PREPARE_MS, SessionRollover } from './session-rollover';

const CAP = 60 * 60_000;

describe('SessionRollover', () => {
  it('prepares the next session before the cap and switches once it is ready and the agent is quiet', () => {
    const r = new SessionRollover(CAP);
    r.sessionStarted(1_000);
    expect(r.check(1_000 + CAP - ROLLOVER_PREPARE_MS - 1, false, true)).toBeNull();
    expect(r.check(1_000 + CAP - ROLLOVER_PREPARE_MS, false, true)).toBe('prepare');
    // Not ready yet: nothing to switch to.
    expect(r.check(1_000 + CAP - ROLLOVER_PREPARE_MS + 10, false, true)).toBeNull();
    // Ready, but the agent is talking.
    expect(r.check(1_000 + CAP - ROLLOVER_PREPARE_MS + 20, true, false)).toBeNull();
    expect(r.check(1_000 + CAP - ROLLOVER_PREPARE_MS + 30, true, true)).toBe('switch');
  });

  it('switches at the margin even while the agent talks', () => {
    const r = new SessionRollover(CAP);
    r.sessionStarted(0);
    expect(r.check(CAP - ROLLOVER_PREPARE_MS, false, false)).toBe('prepare');
    expect(r.check(CAP - ROLLOVER_MARGIN_MS - 1, true, false)).toBeNull();
    expect(r.check(CAP - ROLLOVER_MARGIN_MS, true, false)).toBe('switch');
  });

  it('prepares once per session and counts the cap from the latest session', () => {
    const r = new SessionRollover(CAP);
    r.sessionStarted(0);
    expect(r.check(CAP - ROLLOVER_PREPARE_MS, false, true)).toBe('prepare');
    expect(r.check(CAP, false, true)).toBeNull();
    r.sessionStarted(CAP);
    expect(r.check(2 * CAP - ROLLOVER_PREPARE_MS - 1, false, true)).toBeNull();
    expect(r.check(2 * CAP - ROLLOVER_PREPARE_MS, false, true)).toBe('prepare');
  });

  it('does nothing before a session has started', () => {
    expect(new SessionRollover(CAP).check(10 * CAP, true, true)).toBeNull();
  });
});
