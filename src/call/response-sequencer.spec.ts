import fc from 'fast-check';
import type { Departure } from './call-end';
import { MAX_OPERATOR_MESSAGES, ResponseSequencer, type ResponseKind, type SequencerStep } from './response-sequencer';

/**
 * The exhaustive spec of ResponseSequencer, written from its rules:
 *
 * - One response at a time: nothing is asked for while a response is in progress, or while one
 *   asked for has not been created yet (from a create_response to the next responseCreated, or the
 *   end of its session; awaitingResponse says so). A tool result waits for the response that called
 *   the tool to finish; once results have been sent, a follow-up is asked for.
 * - Nothing is asked for without an open session configured since the last drop (a rollover keeps
 *   it configured); tool results are sent as soon as a session is open. Nothing at all happens
 *   while the call is leaving (a tool is hanging up or transferring it).
 * - A tool result belongs to the session whose response called the tool: one for a response not
 *   created on the open session (a dropped or rolled-over one's, or with none open) is dropped.
 * - What was in flight on a session is gone with it (a drop, a rollover): its response in
 *   progress, its tool results and the follow-up they owed, what was asked of it. Only a goodbye
 *   asked of it and not created yet is asked of the next session.
 * - The first session able to speak greets. The greeting counts as given once its response is
 *   created: a session reopened after a drop then picks the conversation up instead (resume); one
 *   reopened before that (the greeting not asked for yet, or asked for and lost in the drop)
 *   greets. The greeting and the resume wait for a response in progress.
 * - A goodbye is the last thing asked for and takes the place of the greeting and of a follow-up;
 *   once it has played (agentQuiet) the call hangs up, and after the hang-up nothing happens at all.
 *   A caller who speaks up during the goodbye to a silent caller is not hung up on; shutdown's
 *   goodbye stands. Shutdown turns a goodbye under way into its own; without an open session it
 *   hangs up at once, unless a goodbye is already being said. A tool that is leaving hangs up
 *   itself: agentQuiet then only notes that the goodbye has played, and a shutdown that comes
 *   meanwhile is carried out if the tool fails (setLeaving(false)); so is the hang-up of a goodbye
 *   that played meanwhile.
 *
 * Four parts check the class against these rules:
 * - a reference model of the rules (a machine of its own, not the class);
 * - a table over every state x event: each state reached through the class's public methods, and
 *   the steps, pendingOutputs, goodbyeUnderWay and awaitingResponse after each event taken from
 *   the model;
 * - invariants over random calls, checked by an observer that knows only the events, and the class
 *   compared with the model step by step over the same calls; sequencers broken on purpose show
 *   that both catch what they are meant to;
 * - calls as scenarios, among them regression tests for rules the class once broke (D1-D7):
 *   D1 the greeting (or the resume) waits for a response in progress; D2 after the hang-up nothing
 *   brings the call back; D3 a tool result of a session that dropped or rolled over is not sent to
 *   the next session; D4 shutdown during a drop hangs up at once unless a goodbye is being said;
 *   D5 shutdown while a tool is leaving is carried out when the tool fails; D6 a greeting lost in a
 *   drop before its response was created is said by the reopened session, not replaced by the
 *   resume; D7 a goodbye that played while a tool was leaving hangs up when the tool fails.
 */

// ---- events and steps --------------------------------------------------------------------------

type Event =
  | { readonly on: 'sessionOpened' }
  | { readonly on: 'sessionConfigured' }
  | { readonly on: 'sessionDropped' }
  | { readonly on: 'sessionRolledOver' }
  | { readonly on: 'responseCreated'; readonly responseId: string }
  | { readonly on: 'responseDone'; readonly responseId: string }
  | { readonly on: 'toolOutput'; readonly responseId: string; readonly callId: string; readonly output: string }
  | { readonly on: 'agentQuiet' }
  | { readonly on: 'callerSpeechStarted' }
  | { readonly on: 'silence'; readonly action: 'ask' | 'goodbye' }
  | { readonly on: 'shutdown' }
  | { readonly on: 'setLeaving'; readonly leaving: boolean };

type Steps = readonly SequencerStep[];

const opened: Event = { on: 'sessionOpened' };
const configured: Event = { on: 'sessionConfigured' };
const dropped: Event = { on: 'sessionDropped' };
const rolledOver: Event = { on: 'sessionRolledOver' };
const created = (responseId: string): Event => ({ on: 'responseCreated', responseId });
const done = (responseId: string): Event => ({ on: 'responseDone', responseId });
const toolOutput = (responseId: string, callId: string, output = `result of ${callId}`): Event => ({ on: 'toolOutput', responseId, callId, output });
const quiet: Event = { on: 'agentQuiet' };
const callerSpeaks: Event = { on: 'callerSpeechStarted' };
const silence = (action: 'ask' | 'goodbye'): Event => ({ on: 'silence', action });
const shutdown: Event = { on: 'shutdown' };
const leaving = (value: boolean): Event => ({ on: 'setLeaving', leaving: value });

function apply(s: ResponseSequencer, event: Event): Steps {
  switch (event.on) {
    case 'sessionOpened':
      return s.sessionOpened();
    case 'sessionConfigured':
      return s.sessionConfigured();
    case 'sessionDropped':
      return s.sessionDropped();
    case 'sessionRolledOver':
      return s.sessionRolledOver();
    case 'responseCreated':
      return s.responseCreated(event.responseId);
    case 'responseDone':
      return s.responseDone(event.responseId);
    case 'toolOutput':
      return s.toolOutput(event.responseId, event.callId, event.output);
    case 'agentQuiet':
      return s.agentQuiet();
    case 'callerSpeechStarted':
      return s.callerSpeechStarted();
    case 'silence':
      return s.silence(event.action);
    case 'shutdown':
      return s.shutdown();
    case 'setLeaving':
      return s.setLeaving(event.leaving);
  }
}

const create = (kind: ResponseKind): SequencerStep => ({ do: 'create_response', kind });
const send = (callId: string, output = `result of ${callId}`): SequencerStep => ({ do: 'send_tool_output', callId, output });
const hangUp = (departure: Departure): SequencerStep => ({ do: 'hang_up', departure });

const GOODBYE_KIND: Readonly<Record<Departure, ResponseKind>> = { caller_silent: 'silence_goodbye', shutdown: 'shutdown_goodbye' };
const GOODBYE_KINDS: ReadonlySet<ResponseKind> = new Set(Object.values(GOODBYE_KIND));

// ---- the reference model -----------------------------------------------------------------------

type Opener = 'greeting' | 'resume';

interface HeldResult {
  readonly responseId: string;
  readonly callId: string;
  readonly output: string;
}

interface ModelGoodbye {
  departure: Departure;
  /** waiting: to be asked for; asked: asked for, its response not created; said: its response exists. */
  phase: 'waiting' | 'asked' | 'said';
  /** agentQuiet came while a tool was leaving: the goodbye has played, only the hang-up is left. */
  played: boolean;
}

/**
 * The rules as a machine. Events that may make something possible (a session opening or being
 * configured, a response done, a result, a goodbye or a shutdown, a tool's failure) settle the
 * call: results whose response is no longer in progress are sent, then, if the call may speak, the
 * one thing most due is asked for: the goodbye, else the opener, else a follow-up.
 */
class Reference {
  /** A session's socket is open. */
  private socket = false;
  /** sessionConfigured since the last drop. */
  private configured = false;
  /** What the next session able to speak says first. */
  private opener: Opener | null = 'greeting';
  /** The greeting's response has been created: a session reopened after a drop picks up. */
  private greeted = false;
  private inProgress: string | null = null;
  /** The response asked for whose responseCreated has not come yet. */
  private asked: ResponseKind | null = null;
  /** Responses created since the last drop or rollover. */
  private sessionIds = new Set<string>();
  private held: HeldResult[] = [];
  private followUpOwed = false;
  private goodbye: ModelGoodbye | null = null;
  private leaving = false;
  private shutdownOwed = false;
  private over = false;

  get pendingOutputs(): number {
    return this.held.length;
  }

  get goodbyeUnderWay(): Departure | null {
    return this.goodbye?.departure ?? null;
  }

  get awaitingResponse(): boolean {
    return this.asked !== null;
  }

  step(event: Event): Steps {
    return this.on(event);
  }

  /** The state in words, for the table's fixtures. */
  describe(): string {
    if (this.over) return 'hung up';
    const parts = [this.socket ? (this.configured ? 'configured session' : 'session open') : this.configured ? 'configured, socket closed' : 'no session'];
    if (this.inProgress !== null) parts.push(`${this.inProgress} in progress`);
    if (this.asked !== null) parts.push(`${this.asked} asked for`);
    if (this.opener !== null) parts.push(`${this.opener} due`);
    else if (!this.greeted && this.asked !== 'greeting') parts.push('not greeted');
    if (this.held.length > 0) parts.push(`${this.held.length} held`);
    if (this.followUpOwed) parts.push('follow-up owed');
    if (this.goodbye !== null) parts.push(`${this.goodbye.departure} goodbye ${this.goodbye.phase}${this.goodbye.played ? ' and played' : ''}`);
    if (this.leaving) parts.push('leaving');
    if (this.shutdownOwed) parts.push('shutdown owed');
    return parts.join('; ');
  }

  private on(event: Event): Steps {
    switch (event.on) {
      case 'sessionOpened':
        this.socket = true;
        return this.settle();
      case 'sessionConfigured':
        this.configured = true;
        return this.settle();
      case 'sessionDropped':
        this.socket = false;
        this.configured = false;
        this.sessionGone(true);
        return [];
      case 'sessionRolledOver':
        this.sessionGone(false);
        return this.settle();
      case 'responseCreated':
        this.inProgress = event.responseId;
        this.sessionIds.add(event.responseId);
        if (this.asked !== null) {
          // The caller hears the greeting from now on.
          if (this.asked === 'greeting') this.greeted = true;
          this.asked = null;
          if (this.goodbye?.phase === 'asked') this.goodbye.phase = 'said';
        }
        return [];
      case 'responseDone':
        if (this.inProgress === event.responseId) this.inProgress = null;
        return this.settle();
      case 'toolOutput':
        // Taken only from the open session, for one of its own responses, with the call staying.
        if (this.over || this.leaving || !this.socket || !this.sessionIds.has(event.responseId)) return [];
        this.held.push({ responseId: event.responseId, callId: event.callId, output: event.output });
        return this.settle();
      case 'agentQuiet': {
        const goodbye = this.goodbye;
        if (this.over || goodbye?.phase !== 'said') return [];
        if (!this.leaving) return this.hangUp(goodbye.departure);
        // The leaving tool hangs up itself; should it fail, only the hang-up is left.
        goodbye.played = true;
        return [];
      }
      case 'callerSpeechStarted':
        if (this.goodbye?.departure === 'caller_silent') this.goodbye = null;
        return [];
      case 'silence':
        // Mid-reconnect nobody can speak; the reopened session picks the conversation up instead.
        if (this.over || !this.socket || this.leaving || this.goodbye !== null) return [];
        if (event.action === 'ask') return this.mayAsk() ? this.ask('silence_prompt') : [];
        this.goodbye = { departure: 'caller_silent', phase: 'waiting', played: false };
        return this.settle();
      case 'shutdown':
        return this.shutdown();
      case 'setLeaving':
        if (this.over) return [];
        if (event.leaving) {
          this.leaving = true;
          this.held = [];
          this.followUpOwed = false;
          return [];
        }
        this.leaving = false;
        if (this.shutdownOwed) {
          this.shutdownOwed = false;
          return this.shutdown();
        }
        if (this.goodbye?.played) return this.hangUp(this.goodbye.departure);
        return this.settle();
    }
  }

  private shutdown(): Steps {
    if (this.over) return [];
    if (this.leaving) {
      this.shutdownOwed = true;
      return [];
    }
    const goodbye = this.goodbye;
    if (goodbye?.phase === 'said') {
      goodbye.departure = 'shutdown';
      return goodbye.played ? this.hangUp('shutdown') : [];
    }
    if (!this.socket) return this.hangUp('shutdown');
    if (goodbye !== null) goodbye.departure = 'shutdown';
    else this.goodbye = { departure: 'shutdown', phase: 'waiting', played: false };
    return this.settle();
  }

  private sessionGone(drop: boolean): void {
    this.inProgress = null;
    this.asked = null;
    this.sessionIds = new Set();
    this.held = [];
    this.followUpOwed = false;
    if (this.goodbye?.phase === 'asked') this.goodbye.phase = 'waiting';
    // A caller who has heard the greeting is picked up; one who has not (a greeting lost in the drop
    // included) is greeted by the reopened session.
    if (drop) this.opener = this.greeted ? 'resume' : 'greeting';
  }

  private mayAsk(): boolean {
    return this.socket && this.configured && !this.leaving && !this.over && this.inProgress === null && this.asked === null;
  }

  private ask(kind: ResponseKind): Steps {
    this.asked = kind;
    return [create(kind)];
  }

  private hangUp(departure: Departure): Steps {
    this.over = true;
    this.goodbye = null;
    this.held = [];
    this.followUpOwed = false;
    return [hangUp(departure)];
  }

  private settle(): Steps {
    if (this.over || this.leaving || !this.socket) return [];
    const steps: SequencerStep[] = [];
    const finished = this.held.filter((r) => r.responseId !== this.inProgress);
    if (finished.length > 0) {
      this.held = this.held.filter((r) => r.responseId === this.inProgress);
      steps.push(...finished.map((r) => send(r.callId, r.output)));
      this.followUpOwed = true;
    }
    if (!this.mayAsk()) return steps;
    if (this.goodbye !== null) {
      // The goodbye takes the place of the opener and of a follow-up.
      this.opener = null;
      this.followUpOwed = false;
      if (this.goodbye.phase === 'waiting') {
        this.goodbye.phase = 'asked';
        steps.push(...this.ask(GOODBYE_KIND[this.goodbye.departure]));
      }
    } else if (this.opener !== null) {
      steps.push(...this.ask(this.opener));
      this.opener = null;
    } else if (this.followUpOwed) {
      this.followUpOwed = false;
      steps.push(...this.ask('follow_up'));
    }
    return steps;
  }
}

// ---- states: how each is reached, and what it is ---------------------------------------------

type Arrangement = ReadonlyArray<readonly [Event, Steps]>;

interface Fixture {
  /** The events that reach the state, each with the steps it must return on the way. */
  readonly arrange: Arrangement;
  /** The state, in the reference model's words. */
  readonly is: string;
  /** The newest response: the one in progress if any, else the last one done (or one never created). */
  readonly last: string;
  /** An earlier response, done (or never created). */
  readonly other: string;
}

/** Greeted (r0), then the server answered the caller (rA); nothing in progress. */
const GREETED_IDLE: Arrangement = [
  [opened, []],
  [configured, [create('greeting')]],
  [created('r0'), []],
  [done('r0'), []],
  [created('rA'), []],
  [done('rA'), []],
];
const ACTIVE: Arrangement = GREETED_IDLE.slice(0, -1);
const HELD: Arrangement = [...ACTIVE, [toolOutput('rA', 'cH'), []]];
/** r0 called a tool and finished; its result came while rA is in progress: sent, follow-up owed. */
const OWED: Arrangement = [...GREETED_IDLE.slice(0, 4), [created('rA'), []], [toolOutput('r0', 'cO'), [send('cO')]]];
/** rA's tool result was sent when rA finished, and the follow-up asked for; not created yet. */
const FOLLOW_UP_ASKED: Arrangement = [...HELD, [done('rA'), [send('cH'), create('follow_up')]]];
const REOPENED: Arrangement = [...GREETED_IDLE, [dropped, []], [opened, []]];
/** The greeting asked for, and its session dropped before its response was created. */
const GREETING_LOST: Arrangement = [
  [opened, []],
  [configured, [create('greeting')]],
  [dropped, []],
];

type GoodbyeState = 'waiting' | 'asked' | 'said' | 'played' | 'asked, dropped' | 'played, dropped';

function goodbyeFixtures(departure: Departure, start: Event): Record<GoodbyeState, Fixture> {
  const kind = GOODBYE_KIND[departure];
  const asked: Arrangement = [...GREETED_IDLE, [start, [create(kind)]]];
  const said: Arrangement = [...asked, [created('rG'), []]];
  const played: Arrangement = [...said, [done('rG'), []]];
  return {
    waiting: { arrange: [...ACTIVE, [start, []]], is: `configured session; rA in progress; ${departure} goodbye waiting`, last: 'rA', other: 'r0' },
    asked: { arrange: asked, is: `configured session; ${kind} asked for; ${departure} goodbye asked`, last: 'rA', other: 'r0' },
    said: { arrange: said, is: `configured session; rG in progress; ${departure} goodbye said`, last: 'rG', other: 'rA' },
    played: { arrange: played, is: `configured session; ${departure} goodbye said`, last: 'rG', other: 'rA' },
    'asked, dropped': { arrange: [...asked, [dropped, []]], is: `no session; resume due; ${departure} goodbye waiting`, last: 'rA', other: 'r0' },
    'played, dropped': { arrange: [...played, [dropped, []]], is: `no session; resume due; ${departure} goodbye said`, last: 'rG', other: 'rA' },
  };
}

const silent = goodbyeFixtures('caller_silent', silence('goodbye'));
const down = goodbyeFixtures('shutdown', shutdown);

const fixtures: Record<string, Fixture> = {
  'new call': { arrange: [], is: 'no session; greeting due', last: 'rA', other: 'r0' },
  'session open, not configured': { arrange: [[opened, []]], is: 'session open; greeting due', last: 'rA', other: 'r0' },
  // The server answered a caller who spoke before the session was configured.
  'session open, not configured, a response in progress': {
    arrange: [
      [opened, []],
      [created('rA'), []],
    ],
    is: 'session open; rA in progress; greeting due',
    last: 'rA',
    other: 'r0',
  },
  'configured while the server answers the caller: the greeting waits': {
    arrange: [
      [opened, []],
      [created('rA'), []],
      [configured, []],
    ],
    is: 'configured session; rA in progress; greeting due',
    last: 'rA',
    other: 'r0',
  },
  'greeting asked for, not created yet': {
    arrange: [
      [opened, []],
      [configured, [create('greeting')]],
    ],
    is: 'configured session; greeting asked for',
    last: 'rA',
    other: 'r0',
  },
  'greeted, idle': { arrange: GREETED_IDLE, is: 'configured session', last: 'rA', other: 'r0' },
  'response in progress': { arrange: ACTIVE, is: 'configured session; rA in progress', last: 'rA', other: 'r0' },
  'response in progress, its tool result held': { arrange: HELD, is: 'configured session; rA in progress; 1 held', last: 'rA', other: 'r0' },
  'response in progress, follow-up owed': { arrange: OWED, is: 'configured session; rA in progress; follow-up owed', last: 'rA', other: 'r0' },
  'follow-up asked for, not created yet': { arrange: FOLLOW_UP_ASKED, is: 'configured session; follow_up asked for', last: 'rA', other: 'r0' },
  'silence prompt asked for, not created yet': {
    arrange: [...GREETED_IDLE, [silence('ask'), [create('silence_prompt')]]],
    is: 'configured session; silence_prompt asked for',
    last: 'rA',
    other: 'r0',
  },
  'dropped after the greeting': { arrange: [...GREETED_IDLE, [dropped, []]], is: 'no session; resume due', last: 'rA', other: 'r0' },
  'dropped before the session was configured': {
    arrange: [
      [opened, []],
      [dropped, []],
    ],
    is: 'no session; greeting due',
    last: 'rA',
    other: 'r0',
  },
  // The same state as a drop before the session was configured: the caller has heard nothing (D6).
  'dropped with the greeting asked for, not created': { arrange: GREETING_LOST, is: 'no session; greeting due', last: 'rA', other: 'r0' },
  'dropped while the greeting is being said': {
    arrange: [...GREETED_IDLE.slice(0, 3), [dropped, []]],
    is: 'no session; resume due',
    last: 'r0',
    other: 'rA',
  },
  'reopened after a drop, not configured': { arrange: REOPENED, is: 'session open; resume due', last: 'rA', other: 'r0' },
  'reopened after a drop that lost the greeting, not configured': {
    arrange: [...GREETING_LOST, [opened, []]],
    is: 'session open; greeting due',
    last: 'rA',
    other: 'r0',
  },
  'reopened, not configured, a response in progress': {
    arrange: [...REOPENED, [created('rB'), []]],
    is: 'session open; rB in progress; resume due',
    last: 'rB',
    other: 'rA',
  },
  'reopened and configured while the server answers: the resume waits': {
    arrange: [...REOPENED, [created('rB'), []], [configured, []]],
    is: 'configured session; rB in progress; resume due',
    last: 'rB',
    other: 'rA',
  },
  'resume asked for, not created yet': { arrange: [...REOPENED, [configured, [create('resume')]]], is: 'configured session; resume asked for', last: 'rA', other: 'r0' },
  'rolled over during a response with a held result': { arrange: [...HELD, [rolledOver, []]], is: 'configured session', last: 'rA', other: 'r0' },
  'silent goodbye waiting for the response in progress': silent.waiting,
  'silent goodbye asked for': silent.asked,
  'silent goodbye being said': silent.said,
  'silent goodbye said, playing at Twilio': silent.played,
  'silent goodbye asked for, session dropped': silent['asked, dropped'],
  'silent goodbye playing, session dropped': silent['played, dropped'],
  'shutdown goodbye waiting for the response in progress': down.waiting,
  'shutdown goodbye asked for': down.asked,
  'shutdown goodbye being said': down.said,
  'shutdown goodbye said, playing at Twilio': down.played,
  'shutdown goodbye asked for, session dropped': down['asked, dropped'],
  'shutdown goodbye playing, session dropped': down['played, dropped'],
  'shutdown goodbye waiting for the follow-up to be created': {
    arrange: [...FOLLOW_UP_ASKED, [shutdown, []]],
    is: 'configured session; follow_up asked for; shutdown goodbye waiting',
    last: 'rA',
    other: 'r0',
  },
  'shutdown goodbye waiting for the session to be configured': {
    arrange: [
      [opened, []],
      [shutdown, []],
    ],
    is: 'session open; greeting due; shutdown goodbye waiting',
    last: 'rA',
    other: 'r0',
  },
  'leaving, idle': { arrange: [...GREETED_IDLE, [leaving(true), []]], is: 'configured session; leaving', last: 'rA', other: 'r0' },
  'leaving during a response, its held result discarded': {
    arrange: [...HELD, [leaving(true), []]],
    is: 'configured session; rA in progress; leaving',
    last: 'rA',
    other: 'r0',
  },
  'leaving, session dropped': { arrange: [...GREETED_IDLE, [leaving(true), []], [dropped, []]], is: 'no session; resume due; leaving', last: 'rA', other: 'r0' },
  'leaving with a shutdown goodbye waiting': {
    arrange: [...ACTIVE, [shutdown, []], [leaving(true), []]],
    is: 'configured session; rA in progress; shutdown goodbye waiting; leaving',
    last: 'rA',
    other: 'r0',
  },
  'leaving with a shutdown goodbye waiting, nothing in progress': {
    arrange: [...ACTIVE, [shutdown, []], [leaving(true), []], [done('rA'), []]],
    is: 'configured session; shutdown goodbye waiting; leaving',
    last: 'rA',
    other: 'r0',
  },
  'leaving, shutdown owed': {
    arrange: [...GREETED_IDLE, [leaving(true), []], [shutdown, []]],
    is: 'configured session; leaving; shutdown owed',
    last: 'rA',
    other: 'r0',
  },
  'leaving, session dropped, shutdown owed': {
    arrange: [...GREETED_IDLE, [leaving(true), []], [dropped, []], [shutdown, []]],
    is: 'no session; resume due; leaving; shutdown owed',
    last: 'rA',
    other: 'r0',
  },
  // A transfer acted between the goodbye's request and its creation; the goodbye played meanwhile.
  'shutdown goodbye played while a tool was leaving': {
    arrange: [...down.asked.arrange, [leaving(true), []], [created('rG'), []], [done('rG'), []], [quiet, []]],
    is: 'configured session; shutdown goodbye said and played; leaving',
    last: 'rG',
    other: 'rA',
  },
  'hung up after the silent goodbye': { arrange: [...silent.played.arrange, [quiet, [hangUp('caller_silent')]]], is: 'hung up', last: 'rG', other: 'rA' },
  'hung up at shutdown without a session': {
    arrange: [...GREETED_IDLE, [dropped, []], [shutdown, [hangUp('shutdown')]]],
    is: 'hung up',
    last: 'rA',
    other: 'r0',
  },
  'hung up at shutdown during a drop, the silent goodbye not yet created': {
    arrange: [...silent['asked, dropped'].arrange, [shutdown, [hangUp('shutdown')]]],
    is: 'hung up',
    last: 'rA',
    other: 'r0',
  },
  // end_call in the goodbye: the goodbye played and the call hung up, then end_call's own hang-up failed.
  'hung up, then the leaving tool failed': {
    arrange: [...silent.played.arrange, [quiet, [hangUp('caller_silent')]], [leaving(true), []], [leaving(false), []]],
    is: 'hung up',
    last: 'rG',
    other: 'rA',
  },
};

const EVENTS = [
  'sessionOpened',
  'sessionConfigured',
  'sessionDropped',
  'sessionRolledOver',
  'responseCreated(new id)',
  'responseCreated(same id)',
  'responseDone(active id)',
  'responseDone(other id)',
  'toolOutput(active response)',
  'toolOutput(other response)',
  'agentQuiet',
  'callerSpeechStarted',
  "silence('ask')",
  "silence('goodbye')",
  'shutdown()',
  'setLeaving(true)',
  'setLeaving(false)',
] as const;
type EventName = (typeof EVENTS)[number];

/** The table's events; "active" is the fixture's newest response, done already when none is active. */
function tableEvent(name: EventName, f: Fixture): Event {
  switch (name) {
    case 'sessionOpened':
      return opened;
    case 'sessionConfigured':
      return configured;
    case 'sessionDropped':
      return dropped;
    case 'sessionRolledOver':
      return rolledOver;
    case 'responseCreated(new id)':
      return created('rN');
    case 'responseCreated(same id)':
      return created(f.last);
    case 'responseDone(active id)':
      return done(f.last);
    case 'responseDone(other id)':
      return done(f.other);
    case 'toolOutput(active response)':
      return toolOutput(f.last, 'cT');
    case 'toolOutput(other response)':
      return toolOutput(f.other, 'cT');
    case 'agentQuiet':
      return quiet;
    case 'callerSpeechStarted':
      return callerSpeaks;
    case "silence('ask')":
      return silence('ask');
    case "silence('goodbye')":
      return silence('goodbye');
    case 'shutdown()':
      return shutdown;
    case 'setLeaving(true)':
      return leaving(true);
    case 'setLeaving(false)':
      return leaving(false);
  }
}

/** What the class is compared on after each event. */
interface Observed {
  readonly steps: Steps;
  readonly pendingOutputs: number;
  readonly goodbyeUnderWay: Departure | null;
  readonly awaitingResponse: boolean;
}

const observe = (s: ResponseSequencer | Reference, steps: Steps): Observed => ({
  steps,
  pendingOutputs: s.pendingOutputs,
  goodbyeUnderWay: s.goodbyeUnderWay,
  awaitingResponse: s.awaitingResponse,
});

/** The model in the fixture's state. */
function modelAt(f: Fixture): Reference {
  const m = new Reference();
  for (const [event] of f.arrange) m.step(event);
  return m;
}

/** The class in the fixture's state, every step on the way checked. */
function arrange(f: Fixture): ResponseSequencer {
  const s = new ResponseSequencer();
  f.arrange.forEach(([event, steps], i) => {
    expect({ i, event, steps: apply(s, event) }).toEqual({ i, event, steps });
  });
  return s;
}

/** The defect the leaving tests must catch: a setLeaving that does nothing. */
class IgnoresLeaving extends ResponseSequencer {
  override setLeaving(): Steps {
    return [];
  }
}

/**
 * The class with D6 back: the greeting counts as given once it is asked for, so a greeting lost in
 * a drop before its response was created is replaced by the resume.
 */
function resumesLostGreeting(): ResponseSequencer {
  let greetingAsked = false;
  const said = (steps: Steps): Steps =>
    steps.map((step) => {
      if (step.do !== 'create_response' || step.kind !== 'greeting') return step;
      if (greetingAsked) return create('resume');
      greetingAsked = true;
      return step;
    });
  return new Proxy(new ResponseSequencer(), {
    get(target, property): unknown {
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (...args: unknown[]): Steps => said(value.apply(target, args) as Steps) : value;
    },
  });
}

/** The class with D7 back: agentQuiet while a tool is leaving does nothing, so a failing tool leaves the played goodbye hanging. */
class ForgetsGoodbyePlayedWhileLeaving extends ResponseSequencer {
  private toolLeaving = false;

  override setLeaving(leaving: boolean): Steps {
    this.toolLeaving = leaving;
    return super.setLeaving(leaving);
  }

  override agentQuiet(): Steps {
    return this.toolLeaving ? [] : super.agentQuiet();
  }
}

describe('ResponseSequencer', () => {
  describe('state x event table', () => {
    it.each(Object.entries(fixtures))('fixture "%s" is reached through public methods, by the model too', (_name, f) => {
      const s = arrange(f);
      const m = new Reference();
      f.arrange.forEach(([event, steps], i) => {
        expect({ i, event, steps: m.step(event) }).toEqual({ i, event, steps });
      });
      expect(m.describe()).toBe(f.is);
      expect(observe(s, [])).toEqual(observe(m, []));
    });

    it('the table has a row for every state and every event', () => {
      expect(Object.keys(fixtures)).toHaveLength(47);
      expect(EVENTS).toHaveLength(17);
    });

    for (const [fixtureName, f] of Object.entries(fixtures)) {
      describe(`${fixtureName} (${f.is})`, () => {
        for (const name of EVENTS) {
          const event = tableEvent(name, f);
          const m = modelAt(f);
          const steps = m.step(event);
          const want = observe(m, steps);
          const goodbye = want.goodbyeUnderWay === null ? '' : `, ${want.goodbyeUnderWay} goodbye under way`;
          const awaiting = want.awaitingResponse ? ', awaiting a response' : '';
          const title = `${name} -> ${JSON.stringify(steps)}, ${want.pendingOutputs} pending${goodbye}${awaiting}`;
          it(title, () => {
            const s = arrange(f);
            expect(observe(s, apply(s, event))).toEqual(want);
          });
        }
      });
    }
  });

  // ---- invariants over random calls ----------------------------------------------------------

  describe('invariants over random event sequences', () => {
    type Invariant =
      | 'one_response_at_a_time'
      | 'nothing_while_leaving'
      | 'nothing_after_hang_up'
      | 'greeting_once_resume_after_drop'
      | 'tool_output_once_never_for_active'
      | 'output_on_its_own_session'
      | 'nothing_without_session'
      | 'pending_outputs_counted'
      | 'follow_up_only_after_results'
      | 'goodbye_is_last'
      | 'goodbye_played_hangs_up'
      | 'shutdown_is_carried_out'
      | 'awaiting_response_reported';

    interface Violation {
      readonly invariant: Invariant;
      readonly at: number;
      readonly detail: string;
    }

    interface Given {
      readonly responseId: string;
      readonly output: string;
      /** The session it was given on, and whether the call could take it then. */
      readonly session: number;
      state: 'outstanding' | 'sent' | 'dropped';
    }

    /**
     * Runs the events and checks every step against an observer that knows only the events. The
     * observer follows the rules: a response is in progress from responseCreated to its
     * responseDone or the end of its session; a create_response awaits the next responseCreated or
     * the end of its session; leaving is the last setLeaving; hang_up ends the call.
     */
    function check(events: readonly Event[], seq: ResponseSequencer = new ResponseSequencer()): Violation[] {
      const found: Violation[] = [];
      let open = false;
      let configuredSince = false;
      let session = 0;
      let active: string | null = null;
      /** The response asked for, its responseCreated not come yet. */
      let awaiting: ResponseKind | null = null;
      let isLeaving = false;
      let hungUp = false;
      /** The greeting may be asked for: not asked yet, or asked and its session dropped before the caller heard it. */
      let greetingDue = true;
      /** The greeting's response has been created: the caller has heard it. */
      let greetingHeard = false;
      let resumeDue = false;
      let resultsSinceFollowUp = false;
      /** The goodbye asked for and not called off: nothing else may be asked for. */
      let standing: Departure | null = null;
      let goodbyeCreated = false;
      /** agentQuiet came once the standing goodbye's response was created: only the hang-up is left. */
      let goodbyePlayed = false;
      let shutdownCame = false;
      let shutdownWhileLeaving = false;
      const createdOn = new Map<string, number>();
      const given = new Map<string, Given>();
      const dropOutstanding = (): void => {
        for (const o of given.values()) if (o.state === 'outstanding') o.state = 'dropped';
      };

      events.forEach((event, at) => {
        const flag = (invariant: Invariant, detail: string): void => {
          found.push({ invariant, at, detail: `${JSON.stringify(event)}: ${detail}` });
        };
        let owedShutdownNow = false;
        switch (event.on) {
          case 'sessionOpened':
            open = true;
            break;
          case 'sessionConfigured':
            configuredSince = true;
            break;
          case 'sessionDropped':
          case 'sessionRolledOver':
            if (event.on === 'sessionDropped') {
              open = false;
              configuredSince = false;
              // A caller who has heard the greeting is picked up; one who has not is greeted.
              if (greetingHeard) resumeDue = true;
              else greetingDue = true;
            }
            session++;
            active = null;
            awaiting = null;
            dropOutstanding();
            resultsSinceFollowUp = false;
            break;
          case 'responseCreated':
            active = event.responseId;
            createdOn.set(event.responseId, session);
            if (awaiting === 'greeting') greetingHeard = true;
            if (awaiting === 'resume') resumeDue = false;
            if (awaiting !== null && GOODBYE_KINDS.has(awaiting) && standing !== null) goodbyeCreated = true;
            awaiting = null;
            break;
          case 'responseDone':
            if (active === event.responseId) active = null;
            break;
          case 'toolOutput': {
            const taken = open && !isLeaving && !hungUp && createdOn.get(event.responseId) === session;
            given.set(event.callId, { responseId: event.responseId, output: event.output, session, state: taken ? 'outstanding' : 'dropped' });
            break;
          }
          case 'agentQuiet':
            if (standing !== null && goodbyeCreated) goodbyePlayed = true;
            break;
          case 'callerSpeechStarted':
            if (standing === 'caller_silent') {
              standing = null;
              goodbyeCreated = false;
              goodbyePlayed = false;
            }
            break;
          case 'shutdown':
            if (hungUp) break;
            shutdownCame = true;
            // Shutdown during the goodbye to a silent caller makes it shutdown's; while leaving, once the tool fails.
            if (isLeaving) shutdownWhileLeaving = true;
            else if (standing === 'caller_silent') standing = 'shutdown';
            break;
          case 'setLeaving':
            isLeaving = event.leaving;
            if (isLeaving) {
              dropOutstanding();
              resultsSinceFollowUp = false;
            } else if (shutdownWhileLeaving) {
              shutdownWhileLeaving = false;
              owedShutdownNow = true;
              if (standing === 'caller_silent') standing = 'shutdown';
            }
            break;
          default:
            break;
        }

        const steps = apply(seq, event);
        let creates = 0;
        for (const step of steps) {
          if (hungUp) {
            flag('nothing_after_hang_up', `${JSON.stringify(step)} after the hang-up`);
            continue;
          }
          if (isLeaving) flag('nothing_while_leaving', `${JSON.stringify(step)} while leaving`);
          switch (step.do) {
            case 'create_response': {
              creates++;
              const { kind } = step;
              if (!open || !configuredSince) flag('nothing_without_session', `${kind} asked for ${open ? 'before the session was configured' : 'without an open session'}`);
              if (active !== null) flag('one_response_at_a_time', `${kind} asked for while ${active} is in progress`);
              if (awaiting !== null) flag('one_response_at_a_time', `${kind} asked for while the ${awaiting} asked for has not been created`);
              awaiting = kind;
              if (kind === 'greeting') {
                if (!greetingDue) flag('greeting_once_resume_after_drop', greetingHeard ? 'a second greeting' : 'the greeting asked for again without a drop');
                greetingDue = false;
              }
              if (kind === 'resume' && !resumeDue) {
                flag('greeting_once_resume_after_drop', greetingHeard ? 'resume without a drop since the last one' : 'resume to a caller who has not heard the greeting');
              }
              if (kind === 'follow_up') {
                if (!resultsSinceFollowUp) flag('follow_up_only_after_results', 'follow-up with no tool result sent since the last one');
                resultsSinceFollowUp = false;
              }
              if (GOODBYE_KINDS.has(kind)) {
                const departure: Departure = kind === 'silence_goodbye' ? 'caller_silent' : 'shutdown';
                if (standing !== null && goodbyeCreated) flag('goodbye_is_last', `${kind} asked for again after its response was created`);
                if (standing === 'shutdown' && departure === 'caller_silent') flag('goodbye_is_last', 'silent goodbye after the shutdown goodbye');
                standing = standing === 'shutdown' ? 'shutdown' : departure;
                goodbyeCreated = false;
                goodbyePlayed = false;
              } else if (standing !== null) {
                flag('goodbye_is_last', `${kind} asked for after the ${standing} goodbye`);
              }
              break;
            }
            case 'send_tool_output': {
              resultsSinceFollowUp = true;
              if (!open) flag('nothing_without_session', `${step.callId} sent without an open session`);
              const o = given.get(step.callId);
              if (o === undefined || o.output !== step.output) {
                flag('tool_output_once_never_for_active', `${step.callId} sent but never given as such`);
                break;
              }
              if (o.state === 'sent') {
                flag('tool_output_once_never_for_active', `${step.callId} sent twice`);
                break;
              }
              if (o.session !== session || createdOn.get(o.responseId) !== session) {
                flag('output_on_its_own_session', `${step.callId} of ${o.responseId} sent on a session that did not create ${o.responseId}`);
              } else if (o.state === 'dropped') {
                flag('tool_output_once_never_for_active', `${step.callId} sent though it was refused or dropped`);
              }
              if (o.responseId === active) flag('tool_output_once_never_for_active', `${step.callId} sent while its response ${active} is in progress`);
              o.state = 'sent';
              break;
            }
            case 'hang_up': {
              const goodbyeSaid = standing !== null && goodbyeCreated;
              const afterGoodbye = event.on === 'agentQuiet' && goodbyeSaid && step.departure === standing;
              const afterFailedLeave = event.on === 'setLeaving' && goodbyeSaid && goodbyePlayed && step.departure === standing;
              const noSession = (event.on === 'shutdown' || owedShutdownNow) && !open && !goodbyeSaid && step.departure === 'shutdown';
              if (!afterGoodbye && !afterFailedLeave && !noSession) flag('goodbye_is_last', `${JSON.stringify(step)} with the ${standing ?? 'no'} goodbye`);
              hungUp = true;
              standing = null;
              goodbyePlayed = false;
              dropOutstanding();
              break;
            }
          }
        }
        if (creates > 1) flag('one_response_at_a_time', `${creates} responses asked for at once`);
        if (seq.awaitingResponse !== (awaiting !== null)) {
          flag('awaiting_response_reported', `awaitingResponse ${seq.awaitingResponse}, ${awaiting === null ? 'nothing' : awaiting} asked for and not created`);
        }

        let outstanding = 0;
        for (const o of given.values()) if (o.state === 'outstanding') outstanding++;
        if (seq.pendingOutputs !== outstanding) flag('pending_outputs_counted', `pendingOutputs ${seq.pendingOutputs}, expected ${outstanding}`);

        if (goodbyePlayed && !hungUp && !isLeaving) flag('goodbye_played_hangs_up', `the ${standing ?? 'no'} goodbye has played and the call is not hung up`);
        if (shutdownCame && !hungUp && !isLeaving && seq.goodbyeUnderWay !== 'shutdown') {
          flag('shutdown_is_carried_out', `after shutdown, not hung up and the goodbye under way is ${seq.goodbyeUnderWay ?? 'none'}`);
        }
      });
      return found;
    }

    /** Runs the events on the class and on the model: the first difference, if any. */
    function differences(events: readonly Event[], s: ResponseSequencer = new ResponseSequencer()): string[] {
      const m = new Reference();
      for (const [at, event] of events.entries()) {
        const want = observe(m, m.step(event));
        const got = observe(s, apply(s, event));
        if (JSON.stringify(got) !== JSON.stringify(want)) {
          return [`at ${at} ${JSON.stringify(event)}: got ${JSON.stringify(got)}, the rules say ${JSON.stringify(want)}`];
        }
      }
      return [];
    }

    const w = (weight: number, arbitrary: fc.Arbitrary<Event[]>) => ({ weight, arbitrary });
    const responseId = fc.constantFrom('r1', 'r2', 'r3');
    /** Single events in any order, and whole responses (with or without a tool call) to reach deep states. */
    const chunk: fc.Arbitrary<Event[]> = fc.oneof(
      w(3, fc.constant([opened])),
      w(3, fc.constant([configured])),
      w(1, fc.constant([dropped])),
      w(1, fc.constant([rolledOver])),
      w(4, responseId.map((id) => [created(id)])),
      w(4, responseId.map((id) => [done(id)])),
      w(3, responseId.map((id) => [created(id), done(id)])),
      w(2, responseId.map((id) => [created(id), toolOutput(id, ''), done(id)])),
      w(4, responseId.map((id) => [toolOutput(id, '')])),
      w(3, fc.constant([quiet])),
      w(2, fc.constant([callerSpeaks])),
      w(2, fc.constantFrom([silence('ask')], [silence('goodbye')])),
      w(1, fc.constant([shutdown])),
      w(1, fc.constantFrom([leaving(true)], [leaving(false)])),
    );
    /** A call: usually opened and configured first; every tool result with its own call id and output. */
    const call: fc.Arbitrary<Event[]> = fc
      .tuple(fc.constantFrom<Event[]>([], [opened, configured], [opened, configured]), fc.array(chunk, { maxLength: 40, size: 'max' }))
      .map(([start, chunks]) => [...start, ...chunks.flat()])
      .map((events) => events.map((e, i): Event => (e.on === 'toolOutput' ? toolOutput(e.responseId, `c${i}`, `o${i}`) : e)));

    const NUM_RUNS = 1000;

    /** Calls every property runs first: the rules the class once broke that random calls reach rarely. */
    const GREETING_LOST_IN_A_DROP: Event[] = [opened, configured, dropped, opened, configured];
    const GOODBYE_PLAYED_WHILE_LEAVING: Event[] = [opened, configured, created('r1'), done('r1'), shutdown, leaving(true), created('g'), done('g'), quiet, leaving(false)];
    const EXAMPLES: Array<[Event[]]> = [
      [GREETING_LOST_IN_A_DROP], // D6
      [[opened, configured, created('r1'), dropped, opened, configured]], // the greeting heard, then a drop: resume
      [GOODBYE_PLAYED_WHILE_LEAVING], // D7
      [[opened, configured, created('r1'), done('r1'), silence('goodbye'), leaving(true), created('g'), done('g'), quiet, dropped, shutdown, leaving(false)]],
    ];

    const invariants: ReadonlyArray<readonly [Invariant, string]> = [
      ['one_response_at_a_time', 'never a create_response while a response is in progress or one asked for is not created yet, never two at once'],
      ['awaiting_response_reported', 'awaitingResponse is true exactly from a create_response to the next responseCreated or the end of its session'],
      ['nothing_while_leaving', 'nothing at all while a tool is leaving: no request, no tool output, no hang-up'],
      ['nothing_after_hang_up', 'nothing at all after hang_up, whatever comes (a leaving tool reporting its failure included)'],
      [
        'greeting_once_resume_after_drop',
        'the greeting until its response is created, again only after a drop that lost it; a resume only after a drop that came once the greeting was created',
      ],
      ['tool_output_once_never_for_active', 'every tool output sent at most once, as given, never while its own response is in progress, never once refused'],
      ['output_on_its_own_session', 'a tool output only on the session that created its response, and only if given there'],
      ['nothing_without_session', 'no create_response without an open session configured since the last drop; no tool output without an open session'],
      ['pending_outputs_counted', 'pendingOutputs counts exactly the results taken and neither sent nor dropped'],
      ['follow_up_only_after_results', 'a follow-up only after tool results were sent since the last one, on the same session'],
      ['goodbye_is_last', 'nothing but the goodbye after the goodbye (unless the silent caller spoke); hang_up only once it played, or at shutdown without a session'],
      ['goodbye_played_hangs_up', 'once the goodbye has played the call is hung up, at once or, if a tool was leaving, when the tool fails'],
      ['shutdown_is_carried_out', 'after shutdown the call hangs up, or has shutdown’s goodbye under way, or waits for a leaving tool'],
    ];

    for (const [invariant, title] of invariants) {
      it(title, () => {
        fc.assert(
          fc.property(call, (events) => {
            expect(check(events).filter((v) => v.invariant === invariant)).toEqual([]);
          }),
          { numRuns: NUM_RUNS, examples: EXAMPLES },
        );
      });
    }

    it('every step, pendingOutputs, goodbyeUnderWay and awaitingResponse agree with the reference model', () => {
      fc.assert(
        fc.property(call, (events) => {
          expect(differences(events)).toEqual([]);
        }),
        { numRuns: NUM_RUNS, examples: EXAMPLES },
      );
    });

    it('the observer and the model are not vacuous: they catch broken sequencers', () => {
      const events = [opened, configured, created('r1'), leaving(true), toolOutput('r1', 'c1'), done('r1')];
      expect(check(events)).toEqual([]);
      expect(check(events, new IgnoresLeaving()).map((v) => [v.at, v.invariant])).toEqual([
        [4, 'pending_outputs_counted'], // the result kept
        [5, 'nothing_while_leaving'], // then sent
        [5, 'tool_output_once_never_for_active'], // though it was refused
        [5, 'nothing_while_leaving'], // and the follow-up
      ]);

      /** Asks a silent caller whatever the state. */
      class AlwaysPrompts extends ResponseSequencer {
        override silence(action: 'ask' | 'goodbye'): Steps {
          super.silence(action);
          return [create('silence_prompt')];
        }
      }
      expect(check([opened, configured, silence('ask')], new AlwaysPrompts()).map((v) => [v.at, v.invariant])).toEqual([[2, 'one_response_at_a_time']]);
      expect(check([opened, silence('ask')], new AlwaysPrompts()).map((v) => [v.at, v.invariant])).toEqual([
        [1, 'nothing_without_session'],
        [1, 'awaiting_response_reported'], // the class does not know of the request
      ]);
      expect(check([shutdown, silence('ask')], new AlwaysPrompts()).map((v) => [v.at, v.invariant])).toEqual([[1, 'nothing_after_hang_up']]);

      /** Sends every tool result at once. */
      class SendsEveryResult extends ResponseSequencer {
        override toolOutput(responseId: string, callId: string, output: string): Steps {
          super.toolOutput(responseId, callId, output);
          return [send(callId, output)];
        }
      }
      const stale = [opened, configured, created('r1'), done('r1'), dropped, opened, toolOutput('r1', 'c1')];
      expect(check(stale, new SendsEveryResult()).map((v) => [v.at, v.invariant])).toEqual([[6, 'output_on_its_own_session']]);

      /** Forgets a shutdown. */
      class IgnoresShutdown extends ResponseSequencer {
        override shutdown(): Steps {
          return [];
        }
      }
      expect(check([opened, configured, created('r1'), done('r1'), shutdown], new IgnoresShutdown()).map((v) => [v.at, v.invariant])).toEqual([
        [4, 'shutdown_is_carried_out'],
      ]);

      // D6 back: the greeting counts as given once asked for, so one lost in a drop is replaced by the resume.
      expect(check(GREETING_LOST_IN_A_DROP)).toEqual([]);
      expect(differences(GREETING_LOST_IN_A_DROP)).toEqual([]);
      expect(check(GREETING_LOST_IN_A_DROP, resumesLostGreeting()).map((v) => [v.at, v.invariant])).toEqual([[4, 'greeting_once_resume_after_drop']]);
      expect(differences(GREETING_LOST_IN_A_DROP, resumesLostGreeting())).toEqual([expect.stringMatching(/^at 4 .*"kind":"resume".*"kind":"greeting"/)]);

      // D7 back: agentQuiet while a tool is leaving forgets that the goodbye has played.
      expect(check(GOODBYE_PLAYED_WHILE_LEAVING)).toEqual([]);
      expect(differences(GOODBYE_PLAYED_WHILE_LEAVING)).toEqual([]);
      expect(check(GOODBYE_PLAYED_WHILE_LEAVING, new ForgetsGoodbyePlayedWhileLeaving()).map((v) => [v.at, v.invariant])).toEqual([[9, 'goodbye_played_hangs_up']]);
      expect(differences(GOODBYE_PLAYED_WHILE_LEAVING, new ForgetsGoodbyePlayedWhileLeaving())).toEqual([expect.stringMatching(/^at 9 .*"steps":\[\].*"hang_up"/)]);

      /** Loses awaitingResponse once asked for. */
      class NeverAwaits extends ResponseSequencer {
        override get awaitingResponse(): boolean {
          return false;
        }
      }
      expect(check([opened, configured], new NeverAwaits()).map((v) => [v.at, v.invariant])).toEqual([[1, 'awaiting_response_reported']]);
      expect(differences([opened, configured, created('r1')], new NeverAwaits())).toEqual([expect.stringMatching(/^at 1 /)]);

      expect(differences(events)).toEqual([]);
      expect(differences(events, new IgnoresLeaving())).toEqual([expect.stringMatching(/^at 4 /)]);
    });
  });

  // ---- calls ---------------------------------------------------------------------------------

  describe('a call', () => {
    /** Runs events in order, returning each one's steps. */
    const run = (s: ResponseSequencer, ...events: Event[]): Steps[] => events.map((e) => apply(s, e));

    /** Greeted (r1 done), then the caller asks something and r2 is in progress. */
    function greetedAndAsked(s = new ResponseSequencer()): ResponseSequencer {
      expect(run(s, opened, configured, created('r1'), done('r1'), created('r2'))).toEqual([[], [create('greeting')], [], [], []]);
      return s;
    }

    it('greets once the session is configured, holds a tool result until the response that called the tool is done, then follows up', () => {
      const s = new ResponseSequencer();
      expect(s.sessionOpened()).toEqual([]); // its configuration is on its way
      expect(s.silence('ask')).toEqual([]);
      expect(s.awaitingResponse).toBe(false);
      expect(s.sessionConfigured()).toEqual([create('greeting')]);
      expect(s.awaitingResponse).toBe(true);
      expect(s.silence('ask')).toEqual([]); // the greeting is not created yet
      expect(run(s, created('r1'))).toEqual([[]]);
      expect(s.awaitingResponse).toBe(false);
      expect(run(s, done('r1'), created('r2'))).toEqual([[], []]);
      expect(s.toolOutput('r2', 'c1', '{"slots":["9:00"]}')).toEqual([]);
      expect(s.pendingOutputs).toBe(1);
      expect(s.silence('ask')).toEqual([]); // r2 still in progress
      expect(s.responseDone('r2')).toEqual([send('c1', '{"slots":["9:00"]}'), create('follow_up')]);
      expect(s.pendingOutputs).toBe(0);
      expect(run(s, created('r3'), done('r3'), quiet)).toEqual([[], [], []]);
    });

    it('sends two results of one response together, with one follow-up', () => {
      const s = greetedAndAsked();
      expect(run(s, toolOutput('r2', 'c1'), toolOutput('r2', 'c2'))).toEqual([[], []]);
      expect(s.responseDone('r2')).toEqual([send('c1'), send('c2'), create('follow_up')]);
    });

    it('a result arriving after its response is done goes out at once, with the follow-up', () => {
      const s = greetedAndAsked();
      expect(s.responseDone('r2')).toEqual([]);
      expect(s.toolOutput('r2', 'c1', 'result of c1')).toEqual([send('c1'), create('follow_up')]);
    });

    it('a result arriving while the follow-up is asked for goes out at once; a second follow-up comes once the first is said', () => {
      const s = greetedAndAsked();
      expect(run(s, toolOutput('r2', 'c1'), done('r2'))).toEqual([[], [send('c1'), create('follow_up')]]);
      expect(run(s, toolOutput('r2', 'c2'))).toEqual([[send('c2')]]); // not a second request before the first is created
      expect(s.responseCreated('r3')).toEqual([]);
      expect(s.responseDone('r3')).toEqual([create('follow_up')]);
    });

    /** end_call (or transfer_to_human) in r2: the tool acts, then its output comes back. */
    function toolLeavesTheCall(s: ResponseSequencer, outputBeforeDone: boolean): void {
      greetedAndAsked(s);
      const steps: Steps[] = outputBeforeDone
        ? run(s, leaving(true), toolOutput('r2', 'c1', '{"ok":true}'), done('r2'))
        : run(s, done('r2'), leaving(true), toolOutput('r2', 'c1', '{"ok":true}'));
      // Nothing more is ever asked for: not the follow-up, not a silence prompt, not a goodbye.
      steps.push(...run(s, quiet, silence('ask'), silence('goodbye'), callerSpeaks, created('r3'), done('r3'), dropped, opened, configured, rolledOver));
      expect(steps.flat()).toEqual([]);
      expect(s.pendingOutputs).toBe(0);
    }

    it('after end_call has acted, its output brings no follow-up, ever (output before response.done)', () => {
      toolLeavesTheCall(new ResponseSequencer(), true);
    });

    it('after transfer_to_human has acted, its output brings no follow-up, ever (output after response.done)', () => {
      toolLeavesTheCall(new ResponseSequencer(), false);
    });

    it('the leaving scenarios would catch a setLeaving(true) that did nothing', () => {
      expect(() => toolLeavesTheCall(new IgnoresLeaving(), true)).toThrow();
      expect(() => toolLeavesTheCall(new IgnoresLeaving(), false)).toThrow();
    });

    it('a failed transfer (setLeaving(false), then the error output) is followed up', () => {
      const s = greetedAndAsked();
      expect(run(s, leaving(true), done('r2'), leaving(false))).toEqual([[], [], []]);
      expect(s.toolOutput('r2', 'c1', '{"error":"busy"}')).toEqual([send('c1', '{"error":"busy"}'), create('follow_up')]);
    });

    it('a transfer failing while its response is still in progress is followed up once it is done', () => {
      const s = greetedAndAsked();
      expect(run(s, leaving(true), leaving(false), toolOutput('r2', 'c1', '{"error":"busy"}'))).toEqual([[], [], []]);
      expect(s.responseDone('r2')).toEqual([send('c1', '{"error":"busy"}'), create('follow_up')]);
    });

    it('asks a silent caller, says goodbye the second time, and hangs up once the goodbye has played', () => {
      const s = greetedAndAsked();
      expect(s.responseDone('r2')).toEqual([]);
      expect(s.silence('ask')).toEqual([create('silence_prompt')]);
      expect(run(s, created('r3'), done('r3'), quiet)).toEqual([[], [], []]);
      expect(s.silence('goodbye')).toEqual([create('silence_goodbye')]);
      expect(s.goodbyeUnderWay).toBe('caller_silent');
      expect(s.agentQuiet()).toEqual([]); // not even created yet
      expect(s.silence('goodbye')).toEqual([]); // asked once
      expect(s.responseCreated('r4')).toEqual([]);
      expect(s.responseDone('r4')).toEqual([]);
      expect(s.agentQuiet()).toEqual([hangUp('caller_silent')]);
      expect(s.goodbyeUnderWay).toBeNull();
      expect(run(s, quiet, silence('ask'), shutdown, toolOutput('r4', 'c9'), done('r4'), leaving(false))).toEqual([[], [], [], [], [], []]);
    });

    it('a caller who speaks up during the silent goodbye is not hung up on, and the call goes on', () => {
      const s = greetedAndAsked();
      expect(run(s, done('r2'), silence('goodbye'), created('r3'), callerSpeaks, done('r3'), quiet)).toEqual([
        [],
        [create('silence_goodbye')],
        [],
        [],
        [],
        [],
      ]);
      expect(s.goodbyeUnderWay).toBeNull();
      expect(run(s, created('r4'), toolOutput('r4', 'c1'), done('r4'))).toEqual([[], [], [send('c1'), create('follow_up')]]);
      expect(s.silence('ask')).toEqual([]); // the follow-up is not created yet
      expect(run(s, created('r5'), done('r5'), silence('ask'))).toEqual([[], [], [create('silence_prompt')]]);
    });

    it('a caller who speaks before the silent goodbye is asked for calls it off', () => {
      const s = greetedAndAsked();
      expect(run(s, silence('goodbye'), callerSpeaks, done('r2'))).toEqual([[], [], []]);
      expect(run(s, created('r3'), done('r3'), quiet)).toEqual([[], [], []]);
    });

    it('shutdown with no open session hangs up at once, and that is the end', () => {
      expect(new ResponseSequencer().shutdown()).toEqual([hangUp('shutdown')]);
      const s = greetedAndAsked();
      expect(s.sessionDropped()).toEqual([]);
      expect(s.shutdown()).toEqual([hangUp('shutdown')]);
      expect(run(s, opened, configured, shutdown, toolOutput('r2', 'c1'))).toEqual([[], [], [], []]);
    });

    it('shutdown in the first moments of a call: the goodbye waits for the session’s configuration, instead of the greeting', () => {
      const s = new ResponseSequencer();
      expect(run(s, opened, shutdown)).toEqual([[], []]);
      expect(s.goodbyeUnderWay).toBe('shutdown');
      expect(s.sessionConfigured()).toEqual([create('shutdown_goodbye')]);
      expect(run(s, created('g'), done('g'), quiet)).toEqual([[], [], [hangUp('shutdown')]]);
    });

    it('shutdown while a response is in progress: the goodbye waits for it, stands when the caller speaks, then hangs up', () => {
      const s = greetedAndAsked();
      expect(s.toolOutput('r2', 'c1', 'result of c1')).toEqual([]);
      expect(s.shutdown()).toEqual([]);
      expect(s.shutdown()).toEqual([]);
      // The held result goes back (the conversation must not keep an unanswered call), no follow-up.
      expect(s.responseDone('r2')).toEqual([send('c1'), create('shutdown_goodbye')]);
      expect(run(s, created('g'), callerSpeaks, toolOutput('g', 'c2'), done('g'))).toEqual([[], [], [], [send('c2')]]);
      expect(s.agentQuiet()).toEqual([hangUp('shutdown')]);
    });

    it('shutdown right after a follow-up was asked for: the follow-up is said first, then the goodbye', () => {
      const s = greetedAndAsked();
      expect(run(s, toolOutput('r2', 'c1'), done('r2'))).toEqual([[], [send('c1'), create('follow_up')]]);
      expect(s.shutdown()).toEqual([]); // a second request would be refused, or taken for the follow-up
      expect(s.responseCreated('r3')).toEqual([]);
      expect(s.responseDone('r3')).toEqual([create('shutdown_goodbye')]);
      expect(run(s, created('g'), done('g'), quiet)).toEqual([[], [], [hangUp('shutdown')]]);
    });

    it('shutdown during the silent goodbye: the goodbye serves, the hang-up is for shutdown', () => {
      const s = greetedAndAsked();
      expect(run(s, done('r2'), silence('goodbye'), shutdown, created('g'), callerSpeaks, done('g'))).toEqual([
        [],
        [create('silence_goodbye')],
        [],
        [],
        [],
        [],
      ]);
      expect(s.goodbyeUnderWay).toBe('shutdown');
      expect(s.agentQuiet()).toEqual([hangUp('shutdown')]);
    });

    it('a goodbye that plays while a tool is leaving: the tool hangs up the call, agentQuiet does nothing', () => {
      const s = greetedAndAsked();
      // r2's transfer_to_human acts between the goodbye's request and its creation.
      expect(run(s, done('r2'), shutdown, leaving(true), created('g'), done('g'), quiet)).toEqual([[], [create('shutdown_goodbye')], [], [], [], []]);
      expect(s.goodbyeUnderWay).toBe('shutdown'); // still owed, should the transfer fail
    });

    it('a drop while the goodbye is asked for: it is asked for again on the new session, not the resume', () => {
      const s = greetedAndAsked();
      expect(run(s, done('r2'), shutdown, dropped)).toEqual([[], [create('shutdown_goodbye')], []]);
      expect(s.agentQuiet()).toEqual([]);
      expect(s.sessionOpened()).toEqual([]);
      expect(s.sessionConfigured()).toEqual([create('shutdown_goodbye')]);
      expect(run(s, created('g'), done('g'), quiet)).toEqual([[], [], [hangUp('shutdown')]]);
    });

    it('a drop while the goodbye plays: its audio is at Twilio, it is not asked for again', () => {
      const s = greetedAndAsked();
      expect(run(s, done('r2'), silence('goodbye'), created('g'), dropped, opened, configured)).toEqual([
        [],
        [create('silence_goodbye')],
        [],
        [],
        [],
        [],
      ]);
      expect(s.agentQuiet()).toEqual([hangUp('caller_silent')]);
    });

    it('a drop while the silent goodbye plays, then the caller speaks up: no resume after the answer, the goodbye took its place', () => {
      const s = greetedAndAsked();
      expect(run(s, done('r2'), silence('goodbye'), created('g'), dropped, opened, configured)).toEqual([
        [],
        [create('silence_goodbye')],
        [],
        [],
        [],
        [],
      ]);
      // "Hello? Are you still there?": the server answers the caller.
      expect(run(s, callerSpeaks, created('r3'), done('r3'), quiet)).toEqual([[], [], [], []]);
      expect(s.goodbyeUnderWay).toBeNull();
    });

    it('a rollover while the goodbye is asked for: asked for again on the next session, which stays configured', () => {
      const s = greetedAndAsked();
      expect(run(s, done('r2'), silence('goodbye'))).toEqual([[], [create('silence_goodbye')]]);
      expect(s.sessionRolledOver()).toEqual([create('silence_goodbye')]);
      expect(run(s, configured, created('g'), done('g'), quiet)).toEqual([[], [], [], [hangUp('caller_silent')]]);
    });

    it('a drop then a reopen picks the conversation up once the new session is configured, instead of greeting again, once', () => {
      const s = greetedAndAsked();
      expect(s.toolOutput('r2', 'c1', 'result of c1')).toEqual([]);
      expect(s.sessionDropped()).toEqual([]);
      expect(s.pendingOutputs).toBe(0);
      expect(s.silence('ask')).toEqual([]); // mid-reconnect nobody can speak
      expect(s.sessionOpened()).toEqual([]);
      expect(s.silence('ask')).toEqual([]); // not configured yet
      expect(s.sessionConfigured()).toEqual([create('resume')]);
      expect(run(s, created('r3'), done('r3'), configured)).toEqual([[], [], []]);
    });

    it('two drops in a row still resume once', () => {
      const s = greetedAndAsked();
      expect(run(s, dropped, opened, dropped, opened, configured)).toEqual([[], [], [], [], [create('resume')]]);
    });

    it('a resume lost in a second drop is asked of the next session', () => {
      const s = greetedAndAsked();
      expect(run(s, dropped, opened, configured, dropped, opened, configured)).toEqual([[], [], [create('resume')], [], [], [create('resume')]]);
    });

    it('a drop before the first session was configured: the new session greets', () => {
      const s = new ResponseSequencer();
      expect(run(s, opened, dropped, opened, configured)).toEqual([[], [], [], [create('greeting')]]);
      expect(run(s, created('r1'), done('r1'), dropped, opened, configured)).toEqual([[], [], [], [], [create('resume')]]);
    });

    it('a rollover neither resumes nor greets, and the old session’s results and follow-up are dropped', () => {
      const s = greetedAndAsked();
      expect(s.toolOutput('r2', 'c1', 'result of c1')).toEqual([]);
      expect(s.sessionRolledOver()).toEqual([]);
      expect(s.pendingOutputs).toBe(0);
      expect(s.sessionConfigured()).toEqual([]);
      expect(run(s, created('r3'), done('r3'), done('r2'))).toEqual([[], [], []]);

      // A follow-up owed on the old session is dropped as well.
      const t = greetedAndAsked();
      expect(run(t, done('r2'), created('r3'), toolOutput('r2', 'c2'), rolledOver, configured, done('r3'))).toEqual([[], [], [send('c2')], [], [], []]);
    });

    // ---- fixed defects: regression tests -----------------------------------------------------

    it('D1: a caller who speaks before the session is configured: the greeting waits for the server’s answer', () => {
      const s = new ResponseSequencer();
      expect(s.sessionOpened()).toEqual([]);
      expect(s.responseCreated('r1')).toEqual([]); // server VAD answered the caller on its own
      expect(s.sessionConfigured()).toEqual([]); // a greeting now would be refused by the server
      expect(s.responseDone('r1')).toEqual([create('greeting')]);
    });

    it('D1: no resume while the reopened session is already answering the caller; it comes after', () => {
      const s = greetedAndAsked();
      expect(run(s, dropped, opened, created('r3'))).toEqual([[], [], []]);
      expect(s.sessionConfigured()).toEqual([]);
      expect(s.responseDone('r3')).toEqual([create('resume')]);
    });

    it('D2: after the hang-up, a tool reporting its failure does not bring the call back', () => {
      const s = greetedAndAsked();
      // The goodbye response itself called end_call, which waits for the goodbye to play, then acts.
      expect(run(s, done('r2'), silence('goodbye'), created('g'), done('g'))).toEqual([[], [create('silence_goodbye')], [], []]);
      expect(s.agentQuiet()).toEqual([hangUp('caller_silent')]);
      // end_call marks the call as leaving, then its REST hang-up fails.
      expect(run(s, leaving(true), leaving(false))).toEqual([[], []]);
      expect(run(s, silence('ask'), silence('goodbye'), shutdown, created('r9'), done('r9'), toolOutput('r9', 'c1'), opened, configured, quiet)).toEqual([
        [],
        [],
        [],
        [],
        [],
        [],
        [],
        [],
        [],
      ]);
      expect(s.goodbyeUnderWay).toBeNull();
    });

    it('D3: a tool that finishes after its session dropped: its result is not sent to the new session', () => {
      const s = greetedAndAsked();
      expect(run(s, done('r2'), dropped)).toEqual([[], []]); // the tool of r2 is still running
      expect(s.toolOutput('r2', 'c1', 'result of c1')).toEqual([]);
      expect(s.pendingOutputs).toBe(0);
      expect(s.sessionOpened()).toEqual([]);
      expect(s.toolOutput('r2', 'c1', 'result of c1')).toEqual([]); // nor once the new session is open
      expect(s.sessionConfigured()).toEqual([create('resume')]);
    });

    it('D3: a tool that finishes after a rollover: its result is not sent to the next session', () => {
      const s = greetedAndAsked();
      expect(run(s, done('r2'), rolledOver, configured)).toEqual([[], [], []]);
      expect(s.toolOutput('r2', 'c1', 'result of c1')).toEqual([]);
      expect(s.pendingOutputs).toBe(0);
    });

    it('D4: shutdown during a drop, with the goodbye still to be created, hangs up at once', () => {
      const s = greetedAndAsked();
      expect(run(s, done('r2'), silence('goodbye'), dropped)).toEqual([[], [create('silence_goodbye')], []]);
      expect(s.shutdown()).toEqual([hangUp('shutdown')]);
      expect(run(s, opened, configured)).toEqual([[], []]);
    });

    it('D4: shutdown during a drop while the goodbye is being said: it serves, and hangs up for shutdown once played', () => {
      const s = greetedAndAsked();
      expect(run(s, done('r2'), silence('goodbye'), created('g'), dropped, shutdown)).toEqual([[], [create('silence_goodbye')], [], [], []]);
      expect(s.agentQuiet()).toEqual([hangUp('shutdown')]);
    });

    it('D5: shutdown while a transfer is under way is carried out when the transfer fails', () => {
      const s = greetedAndAsked();
      expect(run(s, done('r2'), leaving(true), shutdown)).toEqual([[], [], []]);
      const steps = [...s.setLeaving(false), ...s.toolOutput('r2', 'c1', '{"error":"busy"}')];
      expect(steps).toEqual([create('shutdown_goodbye'), send('c1', '{"error":"busy"}')]);
      expect(run(s, created('g'), done('g'), quiet)).toEqual([[], [], [hangUp('shutdown')]]);
    });

    it('D5: shutdown while a transfer is under way during a drop: the transfer failing hangs up at once', () => {
      const s = greetedAndAsked();
      expect(run(s, leaving(true), dropped, shutdown)).toEqual([[], [], []]);
      expect(s.setLeaving(false)).toEqual([hangUp('shutdown')]);
    });

    it('D5: shutdown while a transfer is under way, and the transfer goes through: nothing more is asked for', () => {
      const s = greetedAndAsked();
      expect(run(s, done('r2'), leaving(true), shutdown, toolOutput('r2', 'c1', '{"transferred":true}'), quiet, created('r3'), done('r3'))).toEqual([
        [],
        [],
        [],
        [],
        [],
        [],
        [],
      ]);
    });

    // D6: the greeting counts as given once its response is created.
    it('a drop before the greeting was created: the reopened session greets, for the caller has heard nothing yet', () => {
      const s = new ResponseSequencer();
      expect(run(s, opened, configured)).toEqual([[], [create('greeting')]]);
      expect(s.awaitingResponse).toBe(true);
      expect(run(s, dropped, opened)).toEqual([[], []]);
      expect(s.awaitingResponse).toBe(false);
      expect(s.sessionConfigured()).toEqual([create('greeting')]);
      // Once this greeting is created, a drop is picked up with the resume.
      expect(run(s, created('r1'), dropped, opened, configured)).toEqual([[], [], [], [create('resume')]]);
    });

    it('a drop while the greeting is being said: the caller has heard it begin, the reopened session picks up', () => {
      const s = new ResponseSequencer();
      expect(run(s, opened, configured, created('r1'), dropped, opened, configured)).toEqual([[], [create('greeting')], [], [], [], [create('resume')]]);
    });

    it('a greeting lost in two drops in a row is still said once, by the session that creates it', () => {
      const s = new ResponseSequencer();
      expect(run(s, opened, configured, dropped, opened, configured, dropped, opened, configured)).toEqual([
        [],
        [create('greeting')],
        [],
        [],
        [create('greeting')],
        [],
        [],
        [create('greeting')],
      ]);
      expect(run(s, created('r1'), done('r1'), rolledOver, configured)).toEqual([[], [], [], []]);
    });

    it('a goodbye that took the place of the greeting, called off during a drop: the reopened session greets', () => {
      const s = new ResponseSequencer();
      expect(run(s, opened, silence('goodbye'), configured, dropped, callerSpeaks, opened, configured)).toEqual([
        [],
        [],
        [create('silence_goodbye')],
        [],
        [],
        [],
        [create('greeting')],
      ]);
    });

    // D7: what comes while a tool is leaving is carried out if the tool fails, a goodbye that played included.
    it('a goodbye that played while a transfer was under way: when the transfer fails, the call hangs up', () => {
      const s = greetedAndAsked();
      // r2's transfer_to_human acts between the goodbye's request and its creation; the goodbye plays.
      expect(run(s, done('r2'), shutdown, leaving(true), created('g'), done('g'), quiet)).toEqual([[], [create('shutdown_goodbye')], [], [], [], []]);
      // The transfer fails. The agent stays quiet: no further agentQuiet comes.
      expect(s.setLeaving(false)).toEqual([hangUp('shutdown')]);
      expect(run(s, quiet, leaving(false), shutdown)).toEqual([[], [], []]);
    });

    it('a silent goodbye that played while a tool was leaving, then shutdown: when the tool fails, the call hangs up for shutdown', () => {
      const s = greetedAndAsked();
      expect(run(s, done('r2'), silence('goodbye'), leaving(true), created('g'), done('g'), quiet, dropped, shutdown)).toEqual([
        [],
        [create('silence_goodbye')],
        [],
        [],
        [],
        [],
        [],
        [],
      ]);
      expect(s.setLeaving(false)).toEqual([hangUp('shutdown')]);
    });

    it('a silent goodbye that played while a tool was leaving, then the caller speaks: when the tool fails, the call goes on', () => {
      const s = greetedAndAsked();
      expect(run(s, done('r2'), silence('goodbye'), leaving(true), created('g'), done('g'), quiet, callerSpeaks)).toEqual([[], [create('silence_goodbye')], [], [], [], [], []]);
      expect(s.setLeaving(false)).toEqual([]);
      expect(s.goodbyeUnderWay).toBeNull();
      expect(s.silence('ask')).toEqual([create('silence_prompt')]);
    });

    it('a goodbye still being said while a tool was leaving: when the tool fails, it hangs up once it has played', () => {
      const s = greetedAndAsked();
      expect(run(s, done('r2'), shutdown, leaving(true), created('g'), leaving(false))).toEqual([[], [create('shutdown_goodbye')], [], [], []]);
      expect(run(s, done('g'), quiet)).toEqual([[], [hangUp('shutdown')]]);
    });
  });
});

// ---- operator messages (POST /api/calls/:callSid/say) ------------------------------------------

describe('ResponseSequencer: operator messages', () => {
  const sentence = (text: string) => ({ text, mode: 'sentence' as const });
  const say = (text: string): SequencerStep => ({ do: 'say_operator_message', message: sentence(text) });

  /** A call whose greeting has been said: the session is open, configured, and nothing is being said. */
  function greeted(): ResponseSequencer {
    const s = new ResponseSequencer();
    s.sessionOpened();
    expect(s.sessionConfigured()).toEqual([create('greeting')]);
    s.responseCreated('r_greeting');
    s.responseDone('r_greeting');
    return s;
  }

  it('is asked for at once when nothing is being said, and the next one after that response', () => {
    const s = greeted();
    expect(s.operatorMessage(sentence('one'))).toEqual([say('one')]);
    expect(s.awaitingResponse).toBe(true);
    expect(s.operatorMessage(sentence('two'))).toEqual([]);
    expect(s.operatorMessagesWaiting).toBe(1);
    expect(s.responseCreated('r1')).toEqual([]);
    expect(s.responseDone('r1')).toEqual([say('two')]);
    expect(s.operatorMessagesWaiting).toBe(0);
  });

  it('waits for the response in progress, and for the greeting of a call not greeted yet', () => {
    const s = new ResponseSequencer();
    expect(s.operatorMessage(sentence('hello from the office'))).toEqual([]);
    s.sessionOpened();
    expect(s.sessionConfigured()).toEqual([create('greeting')]);
    s.responseCreated('r_greeting');
    expect(s.responseDone('r_greeting')).toEqual([say('hello from the office')]);
  });

  it('comes before the follow-up on tool results', () => {
    const s = greeted();
    s.responseCreated('r_tool');
    expect(s.toolOutput('r_tool', 'c1', 'result of c1')).toEqual([]);
    expect(s.operatorMessage(sentence('one'))).toEqual([]);
    expect(s.responseDone('r_tool')).toEqual([send('c1'), say('one')]);
    s.responseCreated('r_say');
    expect(s.responseDone('r_say')).toEqual([create('follow_up')]);
  });

  it('is asked of the next session when the one it was asked of dropped before creating it', () => {
    const s = greeted();
    expect(s.operatorMessage(sentence('one'))).toEqual([say('one')]);
    s.sessionDropped();
    s.sessionOpened();
    expect(s.sessionConfigured()).toEqual([create('resume')]);
    s.responseCreated('r_resume');
    expect(s.responseDone('r_resume')).toEqual([say('one')]);
  });

  it('is refused while the call is leaving or saying goodbye, and when MAX_OPERATOR_MESSAGES wait', () => {
    const full = greeted();
    full.responseCreated('r_busy');
    for (let i = 0; i < MAX_OPERATOR_MESSAGES; i++) expect(full.operatorMessage(sentence(`m${i}`))).toEqual([]);
    expect(full.operatorMessage(sentence('one too many'))).toBeNull();

    const leavingCall = greeted();
    leavingCall.setLeaving(true);
    expect(leavingCall.operatorMessage(sentence('x'))).toBeNull();

    const goodbye = greeted();
    goodbye.silence('goodbye');
    expect(goodbye.operatorMessage(sentence('x'))).toBeNull();

    const hungUp = new ResponseSequencer();
    hungUp.shutdown();
    expect(hungUp.operatorMessage(sentence('x'))).toBeNull();
  });

  it('drops the messages still waiting when the call starts to leave, or says goodbye instead', () => {
    const leavingCall = greeted();
    leavingCall.responseCreated('r_busy');
    leavingCall.operatorMessage(sentence('one'));
    leavingCall.setLeaving(true);
    expect(leavingCall.operatorMessagesWaiting).toBe(0);
    expect(leavingCall.responseDone('r_busy')).toEqual([]);

    const shuttingDown = greeted();
    shuttingDown.responseCreated('r_busy');
    shuttingDown.operatorMessage(sentence('one'));
    shuttingDown.shutdown();
    expect(shuttingDown.responseDone('r_busy')).toEqual([create('shutdown_goodbye')]);
    expect(shuttingDown.operatorMessagesWaiting).toBe(0);
  });
});
