import { WarmTransferState, type WarmTransferEvent, type WarmTransferStatus } from './warm-transfer-state';

const whisper: WarmTransferEvent = { type: 'whisper_requested' };
const digits = (d: string): WarmTransferEvent => ({ type: 'digits', digits: d });
const leg = (status: string): WarmTransferEvent => ({ type: 'leg_status', status });
const timeout: WarmTransferEvent = { type: 'timeout' };
const callerGone: WarmTransferEvent = { type: 'caller_gone' };

function after(...events: WarmTransferEvent[]): WarmTransferState {
  const state = new WarmTransferState();
  for (const e of events) state.on(e);
  return state;
}

const ALL_EVENTS: WarmTransferEvent[] = [whisper, digits('1'), digits('2'), digits(''), leg('ringing'), leg('in-progress'), leg('busy'), leg('no-answer'), leg('failed'), leg('canceled'), leg('completed'), timeout, callerGone];

describe('WarmTransferState', () => {
  it('starts dialling', () => {
    expect(new WarmTransferState().status).toBe('dialing');
    expect(new WarmTransferState().finished).toBe(false);
  });

  it('whispers once answered, and restarts the timer for it', () => {
    const state = new WarmTransferState();
    expect(state.on(whisper)).toEqual({ status: 'whispering', endLeg: false, bridge: false, backToAgent: false, restartTimer: true });
    expect(state.on(whisper)).toBeNull();
  });

  it('bridges on 1 after the whisper', () => {
    const state = after(whisper);
    expect(state.on(digits('1'))).toEqual({ status: 'bridged', endLeg: false, bridge: true, backToAgent: false, restartTimer: false });
    expect(state.finished).toBe(true);
  });

  it.each([
    ['2', 'declined'],
    ['9', 'declined'],
    ['', 'no-answer'],
  ] as const)('a key %p after the whisper is %s, and the caller goes back to the agent', (d, status) => {
    expect(after(whisper).on(digits(d))).toEqual({ status, endLeg: false, bridge: false, backToAgent: true, restartTimer: false });
  });

  it('ignores keys before the whisper', () => {
    const state = new WarmTransferState();
    expect(state.on(digits('1'))).toBeNull();
    expect(state.status).toBe('dialing');
  });

  it.each(['busy', 'no-answer', 'failed', 'canceled'])('a leg that ends %s while ringing is no answer', (status) => {
    expect(new WarmTransferState().on(leg(status))).toMatchObject({ status: 'no-answer', endLeg: false, backToAgent: true });
  });

  it('a leg hung up during the whisper is declined; before it, no answer', () => {
    expect(after(whisper).on(leg('completed'))).toMatchObject({ status: 'declined', backToAgent: true });
    expect(new WarmTransferState().on(leg('completed'))).toMatchObject({ status: 'no-answer', backToAgent: true });
  });

  it('ignores progress statuses', () => {
    expect(new WarmTransferState().on(leg('ringing'))).toBeNull();
    expect(after(whisper).on(leg('in-progress'))).toBeNull();
  });

  it.each([[[]], [[whisper]]] as const)('times out (after %j): the leg is ended and the caller goes back to the agent', (events) => {
    expect(after(...events).on(timeout)).toEqual({ status: 'timed-out', endLeg: true, bridge: false, backToAgent: true, restartTimer: false });
  });

  it.each([[[]], [[whisper]]] as const)('a caller who hangs up (after %j) ends the leg, nobody is told', (events) => {
    expect(after(...events).on(callerGone)).toEqual({ status: 'caller-gone', endLeg: true, bridge: false, backToAgent: false, restartTimer: false });
  });

  const finals: Array<[WarmTransferStatus, WarmTransferEvent[]]> = [
    ['bridged', [whisper, digits('1')]],
    ['declined', [whisper, digits('2')]],
    ['no-answer', [leg('busy')]],
    ['timed-out', [timeout]],
    ['caller-gone', [callerGone]],
  ];
  it.each(finals)('once %s, every later event changes nothing', (status, events) => {
    const state = after(...events);
    expect(state.status).toBe(status);
    for (const e of ALL_EVENTS) expect(state.on(e)).toBeNull();
    expect(state.status).toBe(status);
  });
});
