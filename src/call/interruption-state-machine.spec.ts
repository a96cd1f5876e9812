import { ManualClock } from '../common/clock';
import type { SentAudio } from '../twilio/twilio-media-stream';
import { InterruptionStateMachine, type AgentState, type BargeIn, type StateCause } from './interruption-state-machine';

type Transition = [from: AgentState, to: AgentState, cause: StateCause];

interface Ctx {
  readonly clock: ManualClock;
  readonly m: InterruptionStateMachine;
  readonly transitions: Transition[];
  /** Marks returned by audioSent during the arrangement, in order. */
  readonly marks: string[];
}

function setup(start = 0): Ctx {
  const clock = new ManualClock(start);
  const transitions: Transition[] = [];
  const m = new InterruptionStateMachine(clock);
  m.observe((from, to, cause) => transitions.push([from, to, cause]));
  return { clock, m, transitions, marks: [] };
}

function audio(responseId: string, itemId: string, durationMs: number, itemAudioMs: number): SentAudio {
  return { responseId, itemId, durationMs, itemAudioMs };
}

/** audioSent that must be accepted: returns the mark name. */
function send(c: Ctx, responseId: string, itemId: string, durationMs: number, itemAudioMs: number): string {
  const mark = c.m.audioSent(audio(responseId, itemId, durationMs, itemAudioMs));
  expect(typeof mark).toBe('string');
  expect(mark).not.toBe('');
  return mark as string;
}

function bargeIn(itemId: string, audioEndMs: number, cancelResponseId: string | null): BargeIn {
  return { truncate: { itemId, audioEndMs }, cancelResponseId };
}

// ---------------------------------------------------------------------------------------------
// (state, event) -> next state, transition and decision
// ---------------------------------------------------------------------------------------------

type Fixture = 'listening' | 'responding' | 'speaking' | 'speaking (response done)' | 'interrupted' | 'ended';
type EventName = 'responseCreated' | 'audioSent' | 'markEchoed' | 'responseDone' | 'speechStarted' | 'end';

const fixtures: Record<Fixture, { state: AgentState; arrange: (c: Ctx) => void }> = {
  listening: { state: 'listening', arrange: () => undefined },
  responding: {
    state: 'responding',
    arrange: (c) => c.m.responseCreated('r1'),
  },
  // r1 in progress, 200 ms of its item i1 sent at t=0, no echo yet, now t=40.
  speaking: {
    state: 'speaking',
    arrange: (c) => {
      c.m.responseCreated('r1');
      c.marks.push(send(c, 'r1', 'i1', 200, 200));
      c.clock.advance(40);
    },
  },
  // Same, but the model already finished (response.done) while Twilio still plays.
  'speaking (response done)': {
    state: 'speaking',
    arrange: (c) => {
      c.m.responseCreated('r1');
      c.marks.push(send(c, 'r1', 'i1', 200, 200));
      c.m.responseDone('r1');
      c.clock.advance(40);
    },
  },
  // r1 was barged in at t=30 while its audio played; its response.done has not arrived yet.
  interrupted: {
    state: 'interrupted',
    arrange: (c) => {
      c.m.responseCreated('r1');
      c.marks.push(send(c, 'r1', 'i1', 200, 200));
      c.clock.advance(30);
      expect(c.m.speechStarted()).toEqual(bargeIn('i1', 30, 'r1'));
    },
  },
  ended: {
    state: 'ended',
    arrange: (c) => {
      c.m.responseCreated('r1');
      c.marks.push(send(c, 'r1', 'i1', 200, 200));
      c.m.end();
    },
  },
};

interface Row {
  readonly from: Fixture;
  readonly event: EventName;
  readonly note?: string;
  readonly act: (c: Ctx) => unknown;
  readonly to: AgentState;
  /** Cause of the single reported transition, or null when the state must not change. */
  readonly cause: StateCause | null;
  readonly result: unknown;
}

const ANY_MARK = expect.any(String) as unknown;
const created = (id: string) => (c: Ctx) => c.m.responseCreated(id);
const done = (id: string) => (c: Ctx) => c.m.responseDone(id);
const speech = (c: Ctx) => c.m.speechStarted();
const end = (c: Ctx) => c.m.end();
const echoFirst = (c: Ctx) => c.m.markEchoed(c.marks[0]);
const echoUnknown = (c: Ctx) => c.m.markEchoed('never-sent');

const table: Row[] = [
  // listening
  { from: 'listening', event: 'responseCreated', act: created('r2'), to: 'responding', cause: 'response_created', result: undefined },
  { from: 'listening', event: 'audioSent', act: (c) => c.m.audioSent(audio('r2', 'i2', 100, 100)), to: 'speaking', cause: 'audio_sent', result: ANY_MARK },
  { from: 'listening', event: 'markEchoed', note: 'unknown mark', act: echoUnknown, to: 'listening', cause: null, result: undefined },
  { from: 'listening', event: 'responseDone', note: 'no active response', act: done('r1'), to: 'listening', cause: null, result: undefined },
  { from: 'listening', event: 'speechStarted', act: speech, to: 'listening', cause: null, result: null },
  { from: 'listening', event: 'end', act: end, to: 'ended', cause: 'call_ended', result: undefined },

  // responding
  { from: 'responding', event: 'responseCreated', note: 'another response', act: created('r2'), to: 'responding', cause: null, result: undefined },
  { from: 'responding', event: 'audioSent', act: (c) => c.m.audioSent(audio('r1', 'i1', 100, 100)), to: 'speaking', cause: 'audio_sent', result: ANY_MARK },
  { from: 'responding', event: 'markEchoed', note: 'unknown mark', act: echoUnknown, to: 'responding', cause: null, result: undefined },
  { from: 'responding', event: 'responseDone', act: done('r1'), to: 'listening', cause: 'response_done', result: undefined },
  { from: 'responding', event: 'responseDone', note: 'of another response', act: done('r0'), to: 'responding', cause: null, result: undefined },
  { from: 'responding', event: 'speechStarted', note: 'nothing queued at Twilio', act: speech, to: 'interrupted', cause: 'speech_started', result: null },
  { from: 'responding', event: 'end', act: end, to: 'ended', cause: 'call_ended', result: undefined },

  // speaking, response in progress
  { from: 'speaking', event: 'responseCreated', act: created('r2'), to: 'speaking', cause: null, result: undefined },
  { from: 'speaking', event: 'audioSent', act: (c) => c.m.audioSent(audio('r1', 'i1', 100, 300)), to: 'speaking', cause: null, result: ANY_MARK },
  { from: 'speaking', event: 'markEchoed', note: 'last pending mark', act: echoFirst, to: 'responding', cause: 'mark_echoed', result: undefined },
  { from: 'speaking', event: 'responseDone', note: 'audio still playing', act: done('r1'), to: 'speaking', cause: null, result: undefined },
  { from: 'speaking', event: 'speechStarted', act: speech, to: 'interrupted', cause: 'speech_started', result: bargeIn('i1', 40, 'r1') },
  { from: 'speaking', event: 'end', act: end, to: 'ended', cause: 'call_ended', result: undefined },

  // speaking, response already done
  { from: 'speaking (response done)', event: 'responseCreated', act: created('r2'), to: 'speaking', cause: null, result: undefined },
  { from: 'speaking (response done)', event: 'audioSent', note: 'audio of a new response', act: (c) => c.m.audioSent(audio('r2', 'i2', 100, 100)), to: 'speaking', cause: null, result: ANY_MARK },
  { from: 'speaking (response done)', event: 'markEchoed', note: 'last pending mark', act: echoFirst, to: 'listening', cause: 'mark_echoed', result: undefined },
  { from: 'speaking (response done)', event: 'responseDone', note: 'duplicate', act: done('r1'), to: 'speaking', cause: null, result: undefined },
  { from: 'speaking (response done)', event: 'speechStarted', act: speech, to: 'listening', cause: 'speech_started', result: bargeIn('i1', 40, null) },
  { from: 'speaking (response done)', event: 'end', act: end, to: 'ended', cause: 'call_ended', result: undefined },

  // interrupted
  { from: 'interrupted', event: 'responseCreated', note: 'a new response', act: created('r2'), to: 'responding', cause: 'response_created', result: undefined },
  { from: 'interrupted', event: 'audioSent', note: 'late audio of the interrupted response', act: (c) => c.m.audioSent(audio('r1', 'i1', 100, 300)), to: 'interrupted', cause: null, result: null },
  { from: 'interrupted', event: 'markEchoed', note: 'flushed by the clear', act: echoFirst, to: 'interrupted', cause: null, result: undefined },
  { from: 'interrupted', event: 'responseDone', act: done('r1'), to: 'listening', cause: 'response_done', result: undefined },
  { from: 'interrupted', event: 'speechStarted', note: 'again', act: speech, to: 'interrupted', cause: null, result: null },
  { from: 'interrupted', event: 'end', act: end, to: 'ended', cause: 'call_ended', result: undefined },

  // ended
  { from: 'ended', event: 'responseCreated', act: created('r2'), to: 'ended', cause: null, result: undefined },
  { from: 'ended', event: 'audioSent', act: (c) => c.m.audioSent(audio('r2', 'i2', 100, 100)), to: 'ended', cause: null, result: null },
  { from: 'ended', event: 'markEchoed', act: echoFirst, to: 'ended', cause: null, result: undefined },
  { from: 'ended', event: 'responseDone', act: done('r1'), to: 'ended', cause: null, result: undefined },
  { from: 'ended', event: 'speechStarted', act: speech, to: 'ended', cause: null, result: null },
  { from: 'ended', event: 'end', note: 'again', act: end, to: 'ended', cause: null, result: undefined },
];

describe('InterruptionStateMachine', () => {
  describe('transition table', () => {
    it('covers every (state, event) pair', () => {
      const states: AgentState[] = ['listening', 'responding', 'speaking', 'interrupted', 'ended'];
      const events: EventName[] = ['responseCreated', 'audioSent', 'markEchoed', 'responseDone', 'speechStarted', 'end'];
      for (const state of states) {
        for (const event of events) {
          const covered = table.some((row) => fixtures[row.from].state === state && row.event === event);
          expect({ state, event, covered }).toEqual({ state, event, covered: true });
        }
      }
    });

    it.each(Object.entries(fixtures))('fixture "%s" reaches its state', (_name, fixture) => {
      const c = setup();
      fixture.arrange(c);
      expect(c.m.state).toBe(fixture.state);
    });

    for (const row of table) {
      const name = `${row.from} + ${row.event}${row.note ? ` (${row.note})` : ''} -> ${row.to}`;
      it(name, () => {
        const c = setup();
        const fixture = fixtures[row.from];
        fixture.arrange(c);
        expect(c.m.state).toBe(fixture.state);
        c.transitions.length = 0;

        const result = row.act(c);

        expect(result).toEqual(row.result);
        expect(c.m.state).toBe(row.to);
        if (row.cause === null) {
          expect(row.to).toBe(fixture.state);
          expect(c.transitions).toEqual([]);
        } else {
          expect(c.transitions).toEqual([[fixture.state, row.to, row.cause]]);
        }
      });
    }
  });

  describe('transition reporting', () => {
    it('reports each change exactly once, chained from the previous state, through a whole call', () => {
      const c = setup();
      const { m, clock } = c;
      m.responseCreated('r1');
      const m1 = send(c, 'r1', 'i1', 200, 200);
      const m2 = send(c, 'r1', 'i1', 200, 400); // no transition: already speaking
      m.responseDone('r1'); // still speaking
      clock.advance(200);
      m.markEchoed(m1); // still speaking
      clock.advance(200);
      m.markEchoed(m2); // -> listening
      m.responseCreated('r2');
      send(c, 'r2', 'i2', 400, 400);
      clock.advance(100);
      expect(m.speechStarted()).toEqual(bargeIn('i2', 100, 'r2'));
      expect(m.speechStarted()).toBeNull();
      m.responseDone('r2');
      m.end();
      m.end();

      expect(c.transitions).toEqual([
        ['listening', 'responding', 'response_created'],
        ['responding', 'speaking', 'audio_sent'],
        ['speaking', 'listening', 'mark_echoed'],
        ['listening', 'responding', 'response_created'],
        ['responding', 'speaking', 'audio_sent'],
        ['speaking', 'interrupted', 'speech_started'],
        ['interrupted', 'listening', 'response_done'],
        ['listening', 'ended', 'call_ended'],
      ]);
      for (const [from, to] of c.transitions) expect(from).not.toBe(to);
    });

    it('works without a listener', () => {
      const m = new InterruptionStateMachine(new ManualClock());
      m.responseCreated('r1');
      expect(m.state).toBe('responding');
      expect(m.activeResponse).toBe('r1');
    });
  });

  describe('bookkeeping', () => {
    it('tracks the active response from response.created to response.done', () => {
      const c = setup();
      expect(c.m.activeResponse).toBeNull();
      c.m.responseCreated('r1');
      expect(c.m.activeResponse).toBe('r1');
      c.m.responseDone('r0');
      expect(c.m.activeResponse).toBe('r1');
      c.m.responseDone('r1');
      expect(c.m.activeResponse).toBeNull();
    });

    it('reports pending audio until the last mark is echoed', () => {
      const c = setup();
      expect(c.m.hasPendingAudio).toBe(false);
      c.m.responseCreated('r1');
      const m1 = send(c, 'r1', 'i1', 100, 100);
      const m2 = send(c, 'r1', 'i1', 100, 200);
      expect(c.m.hasPendingAudio).toBe(true);
      c.m.markEchoed(m1);
      expect(c.m.hasPendingAudio).toBe(true);
      c.m.markEchoed(m2);
      expect(c.m.hasPendingAudio).toBe(false);
    });

    it('names every mark uniquely', () => {
      const c = setup();
      c.m.responseCreated('r1');
      const names = [send(c, 'r1', 'i1', 20, 20), send(c, 'r1', 'i1', 20, 40)];
      c.m.speechStarted();
      c.m.responseDone('r1');
      c.m.responseCreated('r2');
      names.push(send(c, 'r2', 'i2', 20, 20), send(c, 'r2', 'i2', 20, 40));
      expect(new Set(names).size).toBe(4);
    });

    it('many runs in one generation: each echo confirms exactly its own run and the earlier ones', () => {
      const c = setup();
      c.m.responseCreated('r1');
      const names: string[] = [];
      for (let i = 1; i <= 12; i++) names.push(send(c, 'r1', 'i1', 100, 100 * i));
      expect(new Set(names).size).toBe(12);
      c.clock.set(100);
      c.m.markEchoed(names[0]);
      expect(c.m.hasPendingAudio).toBe(true);
      c.clock.set(450);
      c.m.markEchoed(names[3]);
      expect(c.m.hasPendingAudio).toBe(true);
      c.clock.set(460);
      expect(c.m.speechStarted()).toEqual(bargeIn('i1', 410, 'r1'));
    });

    it('an echo confirms every earlier mark (echoes are in order)', () => {
      const c = setup();
      c.m.responseCreated('r1');
      const m1 = send(c, 'r1', 'i1', 100, 100);
      const m2 = send(c, 'r1', 'i1', 100, 200);
      c.clock.set(200);
      c.m.markEchoed(m2); // m1's echo lost or not yet processed
      expect(c.m.hasPendingAudio).toBe(false);
      expect(c.m.state).toBe('responding');
      c.transitions.length = 0;
      c.m.markEchoed(m1); // stale: changes nothing
      expect(c.m.state).toBe('responding');
      expect(c.transitions).toEqual([]);
    });
  });

  describe('barge-in decision', () => {
    it('is idempotent: a second speechStarted returns null and changes nothing', () => {
      const c = setup();
      c.m.responseCreated('r1');
      send(c, 'r1', 'i1', 1000, 1000);
      c.clock.advance(250);
      expect(c.m.speechStarted()).toEqual(bargeIn('i1', 250, 'r1'));
      c.transitions.length = 0;
      c.clock.advance(50);
      expect(c.m.speechStarted()).toBeNull();
      expect(c.m.speechStarted()).toBeNull();
      expect(c.m.state).toBe('interrupted');
      expect(c.transitions).toEqual([]);
    });

    it('returns null when nothing was ever sent', () => {
      const c = setup();
      expect(c.m.speechStarted()).toBeNull();
      expect(c.m.state).toBe('listening');
      expect(c.transitions).toEqual([]);
    });

    it('all marks echoed but response still active: agent silent, null, response treated as interrupted', () => {
      const c = setup();
      c.m.responseCreated('r1');
      const m1 = send(c, 'r1', 'i1', 200, 200);
      c.clock.advance(200);
      c.m.markEchoed(m1);
      expect(c.m.state).toBe('responding');
      c.clock.advance(500);

      expect(c.m.speechStarted()).toBeNull();
      expect(c.m.state).toBe('interrupted');
      expect(c.m.acceptsAudio('r1')).toBe(false);
      expect(c.m.audioSent(audio('r1', 'i1', 100, 300))).toBeNull();
      expect(c.m.hasPendingAudio).toBe(false);
      expect(c.m.state).toBe('interrupted');
    });

    it('barge-in after response.done while audio still plays: truncate sent, no cancel', () => {
      const c = setup();
      c.m.responseCreated('r1');
      send(c, 'r1', 'i1', 3000, 3000); // generated faster than real time
      c.m.responseDone('r1');
      expect(c.m.state).toBe('speaking');
      c.clock.advance(1234);

      expect(c.m.speechStarted()).toEqual(bargeIn('i1', 1234, null));
      expect(c.m.state).toBe('listening');
      expect(c.m.hasPendingAudio).toBe(false);
      expect(c.transitions.at(-1)).toEqual(['speaking', 'listening', 'speech_started']);
    });

    it('while an earlier response still plays and a new one is in progress: truncates the played item, cancels the active one', () => {
      const c = setup();
      c.m.responseCreated('r1');
      send(c, 'r1', 'i1', 1000, 1000);
      c.m.responseDone('r1');
      c.m.responseCreated('r2'); // e.g. after a tool call; no audio yet
      c.clock.advance(300);

      expect(c.m.speechStarted()).toEqual(bargeIn('i1', 300, 'r2'));
      expect(c.m.acceptsAudio('r2')).toBe(false);
      expect(c.m.acceptsAudio('r1')).toBe(true); // r1 was done: it was not interrupted as a response
      expect(c.m.state).toBe('interrupted');
    });

    it('drops late deltas of the interrupted response', () => {
      const c = setup();
      c.m.responseCreated('r1');
      send(c, 'r1', 'i1', 500, 500);
      c.clock.advance(100);
      expect(c.m.acceptsAudio('r1')).toBe(true);
      expect(c.m.speechStarted()).toEqual(bargeIn('i1', 100, 'r1'));
      c.transitions.length = 0;

      expect(c.m.acceptsAudio('r1')).toBe(false);
      expect(c.m.audioSent(audio('r1', 'i1', 200, 700))).toBeNull();
      expect(c.m.audioSent(audio('r1', 'i1b', 200, 200))).toBeNull();
      expect(c.m.hasPendingAudio).toBe(false);
      expect(c.m.state).toBe('interrupted');
      expect(c.transitions).toEqual([]);
      // Still dropped after its response.done.
      c.m.responseDone('r1');
      expect(c.m.acceptsAudio('r1')).toBe(false);
      expect(c.m.audioSent(audio('r1', 'i1', 200, 900))).toBeNull();
      expect(c.m.state).toBe('listening');
    });

    it('drops late deltas of a response interrupted before any of its audio was sent', () => {
      const c = setup();
      c.m.responseCreated('r1');
      expect(c.m.speechStarted()).toBeNull();
      expect(c.m.acceptsAudio('r1')).toBe(false);
      expect(c.m.audioSent(audio('r1', 'i1', 100, 100))).toBeNull();
      expect(c.m.state).toBe('interrupted');
      expect(c.m.hasPendingAudio).toBe(false);
    });

    it('accepts a new response after the barge-in, on a fresh timeline', () => {
      const c = setup();
      c.m.responseCreated('r1');
      const old1 = send(c, 'r1', 'i1', 1000, 1000);
      const old2 = send(c, 'r1', 'i1', 1000, 2000);
      c.clock.advance(400);
      expect(c.m.speechStarted()).toEqual(bargeIn('i1', 400, 'r1'));
      c.m.responseDone('r1');

      c.clock.advance(600);
      c.m.responseCreated('r2');
      expect(c.m.acceptsAudio('r2')).toBe(true);
      const n1 = send(c, 'r2', 'i2', 200, 200);
      expect([old1, old2]).not.toContain(n1);
      expect(c.m.state).toBe('speaking');
      c.clock.advance(60);
      // 60 ms into the new item, not 1060 or 2060 ms into the old stream.
      expect(c.m.speechStarted()).toEqual(bargeIn('i2', 60, 'r2'));
    });

    it('a new response reusing the stream after a silent barge-in still starts its item at 0', () => {
      const c = setup();
      c.m.responseCreated('r1');
      const m1 = send(c, 'r1', 'i1', 500, 500);
      c.clock.advance(500);
      c.m.markEchoed(m1);
      c.m.responseDone('r1');
      c.clock.advance(1000);
      expect(c.m.speechStarted()).toBeNull(); // agent silent
      c.m.responseCreated('r2');
      send(c, 'r2', 'i2', 300, 300);
      c.clock.advance(75);
      expect(c.m.speechStarted()).toEqual(bargeIn('i2', 75, 'r2'));
    });
  });

  describe('audio_end_ms', () => {
    it('no mark echoed yet: playback of the first run starts when it was sent', () => {
      const c = setup(5000);
      c.m.responseCreated('r1');
      send(c, 'r1', 'i1', 400, 400);
      c.clock.advance(50);
      send(c, 'r1', 'i1', 400, 800); // a later run does not move the start
      c.clock.advance(70);
      expect(c.m.speechStarted()).toEqual(bargeIn('i1', 120, 'r1'));
    });

    it('no mark echoed yet and no time elapsed: 0', () => {
      const c = setup(1000);
      c.m.responseCreated('r1');
      send(c, 'r1', 'i1', 400, 400);
      expect(c.m.speechStarted()).toEqual(bargeIn('i1', 0, 'r1'));
    });

    it('no mark echoed yet and the first echo is late: clamped to the end of the first run', () => {
      const c = setup();
      c.m.responseCreated('r1');
      send(c, 'r1', 'i1', 100, 100);
      send(c, 'r1', 'i1', 100, 200);
      c.clock.advance(500);
      expect(c.m.speechStarted()).toEqual(bargeIn('i1', 100, 'r1'));
    });

    it('an echo pins the position exactly (zero elapsed since it)', () => {
      const c = setup();
      c.m.responseCreated('r1');
      const m1 = send(c, 'r1', 'i1', 160, 160);
      send(c, 'r1', 'i1', 160, 320);
      c.clock.advance(173); // the echo arrives a bit late
      c.m.markEchoed(m1);
      expect(c.m.speechStarted()).toEqual(bargeIn('i1', 160, 'r1'));
    });

    it('partial marks: last echo plus real time elapsed since it', () => {
      const c = setup();
      c.m.responseCreated('r1');
      const m1 = send(c, 'r1', 'i1', 100, 100);
      send(c, 'r1', 'i1', 100, 200);
      send(c, 'r1', 'i1', 100, 300);
      c.clock.set(100);
      c.m.markEchoed(m1);
      c.clock.set(130);
      expect(c.m.speechStarted()).toEqual(bargeIn('i1', 130, 'r1'));
    });

    it('partial marks: uses the latest echo, not the first', () => {
      const c = setup();
      c.m.responseCreated('r1');
      const m1 = send(c, 'r1', 'i1', 100, 100);
      const m2 = send(c, 'r1', 'i1', 100, 200);
      send(c, 'r1', 'i1', 100, 300);
      c.clock.set(100);
      c.m.markEchoed(m1);
      c.clock.set(205);
      c.m.markEchoed(m2);
      c.clock.set(215);
      expect(c.m.speechStarted()).toEqual(bargeIn('i1', 210, 'r1'));
    });

    it('clamps at the end of the next unechoed run when its echo is late', () => {
      const c = setup();
      c.m.responseCreated('r1');
      const m1 = send(c, 'r1', 'i1', 100, 100);
      send(c, 'r1', 'i1', 100, 200);
      send(c, 'r1', 'i1', 100, 300);
      c.clock.set(100);
      c.m.markEchoed(m1);
      c.clock.set(400); // 300 ms since the echo, but run 2's echo has not come back
      expect(c.m.speechStarted()).toEqual(bargeIn('i1', 200, 'r1'));
    });

    it("playback resuming after Twilio's queue drained: elapsed counts from the new run's send time", () => {
      const c = setup();
      c.m.responseCreated('r1');
      const m1 = send(c, 'r1', 'i1', 100, 100);
      c.clock.set(100);
      c.m.markEchoed(m1);
      expect(c.m.state).toBe('responding');
      c.clock.set(2000); // the model paused; Twilio's queue was empty meanwhile
      send(c, 'r1', 'i1', 300, 400);
      c.clock.set(2040);
      expect(c.m.speechStarted()).toEqual(bargeIn('i1', 140, 'r1'));
    });

    it('never more than was sent of the item, even when more model audio was received', () => {
      const c = setup();
      c.m.responseCreated('r1');
      send(c, 'r1', 'i1', 100, 115); // 15 ms still in the framer
      c.clock.advance(10_000);
      expect(c.m.speechStarted()).toEqual(bargeIn('i1', 100, 'r1'));
    });

    it('clamped to itemAudioMs when the last frame was padded with silence', () => {
      const c = setup();
      c.m.responseCreated('r1');
      const m1 = send(c, 'r1', 'i1', 120, 130); // 10 ms of model audio held back in the framer
      send(c, 'r1', 'i1', 20, 130); // flushed: 10 ms audio + 10 ms padding
      c.m.responseDone('r1');
      c.clock.set(120);
      c.m.markEchoed(m1);
      c.clock.set(200); // the padded frame has fully played, its echo is late
      expect(c.m.speechStarted()).toEqual(bargeIn('i1', 130, null));
    });

    it('clamped to itemAudioMs with a single padded run and no echo, and floored to an integer', () => {
      const c = setup();
      c.m.responseCreated('r1');
      send(c, 'r1', 'i1', 140, 133.375); // 1067 bytes of model audio, padded to 7 frames
      c.clock.advance(1000);
      const decision = c.m.speechStarted();
      expect(decision).toEqual(bargeIn('i1', 133, 'r1'));
    });

    it('is an integer when time is fractional', () => {
      const c = setup(0.25);
      c.m.responseCreated('r1');
      send(c, 'r1', 'i1', 400, 400);
      c.clock.advance(33.7);
      const decision = c.m.speechStarted();
      expect(decision).toEqual(bargeIn('i1', 33, 'r1'));
      expect(Number.isInteger(decision?.truncate.audioEndMs)).toBe(true);
    });

    it('is never negative', () => {
      const c = setup(1000);
      c.m.responseCreated('r1');
      send(c, 'r1', 'i1', 400, 400);
      c.clock.set(900); // a clock that stepped back must not give a negative position
      expect(c.m.speechStarted()).toEqual(bargeIn('i1', 0, 'r1'));
    });

    it('multiple items: offsets restart at 0 for a new item id', () => {
      const c = setup();
      c.m.responseCreated('r1');
      const m1 = send(c, 'r1', 'i1', 100, 100);
      const m2 = send(c, 'r1', 'i2', 100, 100);
      send(c, 'r1', 'i2', 100, 200);
      c.clock.set(100);
      c.m.markEchoed(m1);
      c.clock.set(200);
      c.m.markEchoed(m2);
      c.clock.set(250);
      // 250 ms into the stream, 150 ms into i2.
      expect(c.m.speechStarted()).toEqual(bargeIn('i2', 150, 'r1'));
    });

    it('multiple items: the first run of the second item is reported in ms into that item', () => {
      const c = setup();
      c.m.responseCreated('r1');
      const m1 = send(c, 'r1', 'i1', 300, 300);
      send(c, 'r1', 'i2', 200, 200);
      c.clock.set(300);
      c.m.markEchoed(m1);
      c.clock.set(330);
      expect(c.m.speechStarted()).toEqual(bargeIn('i2', 30, 'r1'));
    });

    it('multiple items: while the first item still plays, truncates the first item', () => {
      const c = setup();
      c.m.responseCreated('r1');
      send(c, 'r1', 'i1', 300, 300);
      send(c, 'r1', 'i2', 200, 200);
      c.clock.set(120);
      expect(c.m.speechStarted()).toEqual(bargeIn('i1', 120, 'r1'));
    });

    describe('the clear racing a mark', () => {
      function bargedIn(): { c: Ctx; old: string[] } {
        const c = setup();
        c.m.responseCreated('r1');
        const old = [send(c, 'r1', 'i1', 200, 200), send(c, 'r1', 'i1', 200, 400), send(c, 'r1', 'i1', 200, 600)];
        c.clock.set(120);
        expect(c.m.speechStarted()).toEqual(bargeIn('i1', 120, 'r1'));
        c.transitions.length = 0;
        return { c, old };
      }

      it('an old-generation echo after the barge-in and before new audio changes nothing', () => {
        const { c, old } = bargedIn();
        c.clock.set(130);
        c.m.markEchoed(old[0]); // Twilio echoes the marks the clear flushed
        c.m.markEchoed(old[1]);
        expect(c.m.state).toBe('interrupted');
        expect(c.m.hasPendingAudio).toBe(false);
        expect(c.transitions).toEqual([]);
        expect(c.m.speechStarted()).toBeNull();

        // The next response's timeline is not advanced by those echoes.
        c.m.responseDone('r1');
        c.m.responseCreated('r2');
        c.clock.set(1000);
        send(c, 'r2', 'i2', 300, 300);
        c.clock.set(1010);
        expect(c.m.speechStarted()).toEqual(bargeIn('i2', 10, 'r2'));
      });

      it('an old-generation echo after new audio was sent is not heard audio', () => {
        const { c, old } = bargedIn();
        c.m.responseDone('r1');
        c.m.responseCreated('r2');
        c.clock.set(300);
        const n1 = send(c, 'r2', 'i2', 200, 200);
        send(c, 'r2', 'i2', 200, 400);
        c.transitions.length = 0;

        c.clock.set(310);
        c.m.markEchoed(old[0]);
        c.m.markEchoed(old[1]);
        c.m.markEchoed(old[2]);
        expect(c.m.state).toBe('speaking');
        expect(c.m.hasPendingAudio).toBe(true);
        expect(c.transitions).toEqual([]);

        c.clock.set(350);
        expect(c.m.speechStarted()).toEqual(bargeIn('i2', 50, 'r2'));
        expect(old).not.toContain(n1);
      });

      it('an old-generation echo does not confirm the new run (no jump to its end)', () => {
        const { c, old } = bargedIn();
        c.m.responseDone('r1');
        c.m.responseCreated('r2');
        c.clock.set(300);
        send(c, 'r2', 'i2', 200, 200);
        c.clock.set(300);
        c.m.markEchoed(old[2]);
        // Had the echo counted, 200..600 would look played.
        expect(c.m.speechStarted()).toEqual(bargeIn('i2', 0, 'r2'));
      });

      it('a new-generation echo still counts after old ones were ignored', () => {
        const { c, old } = bargedIn();
        c.m.responseDone('r1');
        c.m.responseCreated('r2');
        c.clock.set(300);
        const n1 = send(c, 'r2', 'i2', 100, 100);
        send(c, 'r2', 'i2', 100, 200);
        c.m.markEchoed(old[0]);
        c.clock.set(400);
        c.m.markEchoed(n1);
        c.clock.set(425);
        expect(c.m.speechStarted()).toEqual(bargeIn('i2', 125, 'r2'));
      });
    });
  });

  describe('end()', () => {
    it('ignores everything afterwards', () => {
      const c = setup();
      c.m.responseCreated('r1');
      const m1 = send(c, 'r1', 'i1', 400, 400);
      c.clock.advance(100);
      c.m.end();
      expect(c.m.state).toBe('ended');
      expect(c.transitions.at(-1)).toEqual(['speaking', 'ended', 'call_ended']);
      c.transitions.length = 0;

      expect(c.m.acceptsAudio('r1')).toBe(false);
      expect(c.m.acceptsAudio('r9')).toBe(false);
      expect(c.m.audioSent(audio('r1', 'i1', 100, 500))).toBeNull();
      c.m.markEchoed(m1);
      c.m.responseCreated('r2');
      c.m.responseDone('r1');
      expect(c.m.speechStarted()).toBeNull();
      c.m.end();

      expect(c.m.state).toBe('ended');
      expect(c.m.activeResponse).toBeNull();
      expect(c.m.hasPendingAudio).toBe(false);
      expect(c.transitions).toEqual([]);
    });
  });
});

describe('sessionReplaced', () => {
  it('forgets the old session\'s response, keeps audio playing at Twilio pending until it is echoed', () => {
    const c = setup();
    c.m.responseCreated('r1');
    const mark = send(c, 'r1', 'i1', 200, 200);
    c.m.sessionReplaced();
    expect(c.m.activeResponse).toBeNull();
    expect(c.m.state).toBe('speaking');
    c.m.markEchoed(mark);
    expect(c.m.state).toBe('listening');
    expect(c.transitions[c.transitions.length - 1]).toEqual(['speaking', 'listening', 'mark_echoed']);
  });

  it('returns a responding agent to listening', () => {
    const c = setup();
    c.m.responseCreated('r1');
    c.m.sessionReplaced();
    expect(c.m.state).toBe('listening');
    expect(c.transitions[c.transitions.length - 1]).toEqual(['responding', 'listening', 'session_replaced']);
  });
});
