import type { Departure } from './call-end';

/** The responses the call asks the model for. The call turns each into a `response.create`. */
export type ResponseKind =
  /** The call's first words, on its first configured session. */
  | 'greeting'
  /** Picking the conversation up on a session reopened after a drop. */
  | 'resume'
  /** Speaking about tool results. */
  | 'follow_up'
  /** Asking a silent caller whether they are still there. */
  | 'silence_prompt'
  /** Goodbyes, after which the call is hung up. */
  | 'silence_goodbye'
  | 'shutdown_goodbye';

/** A sentence to say, or an instruction to follow, sent by an operator. */
export interface OperatorMessage {
  readonly text: string;
  readonly mode: 'sentence' | 'instruction';
}

/** Operator messages waiting their turn; more are refused (the agent would be reading a queue). */
export const MAX_OPERATOR_MESSAGES = 3;

/** What the call must do next, in order. */
export type SequencerStep =
  | { readonly do: 'send_tool_output'; readonly callId: string; readonly output: string }
  | { readonly do: 'create_response'; readonly kind: ResponseKind }
  /** A response saying what an operator asked for, through the API. */
  | { readonly do: 'say_operator_message'; readonly message: OperatorMessage }
  /** The goodbye has played (or cannot be said): hang up. */
  | { readonly do: 'hang_up'; readonly departure: Departure };

type Steps = readonly SequencerStep[];
const NONE: Steps = [];

interface PendingOutput {
  readonly responseId: string;
  readonly callId: string;
  readonly output: string;
}

interface Goodbye {
  departure: Departure;
  /** waiting: not asked for yet; requested: asked, not created; speaking: its response exists. */
  phase: 'waiting' | 'requested' | 'speaking';
  /** It has played while a tool was leaving: the hang-up is owed should the tool fail. */
  played: boolean;
}

const GOODBYE_RESPONSE: Readonly<Record<Departure, ResponseKind>> = {
  caller_silent: 'silence_goodbye',
  shutdown: 'shutdown_goodbye',
};

/**
 * Decides when the call asks the model to speak, and is the only one that does: the greeting, the
 * pick-up after a reopened session, the follow-up on tool results, the silence check-in, and the
 * two goodbyes (to a silent caller, and at shutdown) after which the call hangs up.
 *
 * Rules:
 * - One response at a time: nothing is asked for while one is in progress, or while one asked for
 *   has not been created yet (the server would refuse it, and the next response would be taken
 *   for the wrong one). A tool result waits for the response that called the tool to finish.
 * - Nothing is asked for without a configured session, and nothing at all once the call is
 *   leaving (a tool is hanging up or transferring it): a reply nobody hears is billed all the same.
 * - A tool result belongs to the session whose response called the tool: one that arrives for
 *   another session, or with none open, is dropped.
 * - The first configured session greets; one reopened after a drop picks up instead, unless the
 *   greeting never got under way (then the caller has heard nothing and is greeted).
 * - An operator's message is said after the greeting, once nothing else is being said, before a
 *   follow-up; none is taken while the call is leaving or saying goodbye, and those waiting are
 *   dropped when it starts to.
 * - A goodbye is the last thing asked for; once it has played the call hangs up, and after that
 *   nothing happens at all. A caller who speaks up during the goodbye to a silent caller is not hung
 *   up on; shutdown's goodbye stands. What comes while a tool is leaving (a shutdown, a goodbye
 *   that finished playing) is carried out if the tool fails.
 *
 * Pure: every method takes an event and returns the steps to take now.
 */
export class ResponseSequencer {
  private open = false;
  private configured = false;
  /** What the next configured session says first. */
  private opener: 'greeting' | 'resume' | null = 'greeting';
  private greeted = false;
  private active: string | null = null;
  /** A response.create is out and its response.created has not come back: what it asked for. */
  private requested: ResponseKind | 'operator_message' | null = null;
  /** Responses created on the current session: the only ones whose tool results it can take. */
  private sessionResponses = new Set<string>();
  private outputs: PendingOutput[] = [];
  private followUpWanted = false;
  private operatorMessages: OperatorMessage[] = [];
  /** The operator's message asked for and not created yet: asked again of the next session if this one drops. */
  private operatorAsked: OperatorMessage | null = null;
  private goodbye: Goodbye | null = null;
  private leaving = false;
  /** Shutdown came while a tool was leaving: carried out if the tool fails. */
  private shutdownOwed = false;
  private hungUp = false;

  /** Tool results waiting for their response to finish. */
  get pendingOutputs(): number {
    return this.outputs.length;
  }

  /** A response was asked for and has not been created yet. */
  get awaitingResponse(): boolean {
    return this.requested !== null;
  }

  /** The goodbye asked for or being said, if any: the call bounds how long it may take. */
  get goodbyeUnderWay(): Departure | null {
    return this.goodbye?.departure ?? null;
  }

  /** A socket of the call's first or reopened session is open (its configuration is on its way). */
  sessionOpened(): Steps {
    this.open = true;
    return this.flush();
  }

  /** The session confirmed its configuration: the call greets once, or picks up after a reopen. */
  sessionConfigured(): Steps {
    this.configured = true;
    return this.flush();
  }

  /** The session's socket dropped and a new one is opening: what was in flight on it is gone. */
  sessionDropped(): Steps {
    this.open = false;
    this.configured = false;
    this.forgetSession();
    // A caller who has heard the agent is picked up; one who has not is greeted by the new session.
    this.opener = this.greeted ? 'resume' : 'greeting';
    return NONE;
  }

  /** The call moved to the next session at a rollover; the socket was open throughout. */
  sessionRolledOver(): Steps {
    this.forgetSession();
    return this.flush();
  }

  responseCreated(responseId: string): Steps {
    this.active = responseId;
    this.operatorAsked = null;
    if (this.requested === 'greeting') this.greeted = true;
    this.requested = null;
    this.sessionResponses.add(responseId);
    if (this.goodbye?.phase === 'requested') this.goodbye.phase = 'speaking';
    return NONE;
  }

  responseDone(responseId: string): Steps {
    if (this.active === responseId) this.active = null;
    return this.flush();
  }

  /** A tool called by `responseId` has its result. */
  toolOutput(responseId: string, callId: string, output: string): Steps {
    if (this.hungUp || this.leaving || !this.open || !this.sessionResponses.has(responseId)) return NONE;
    this.outputs.push({ responseId, callId, output });
    return this.flush();
  }

  /** Nothing of the agent is playing at Twilio and no response is in progress. */
  agentQuiet(): Steps {
    if (this.hungUp || this.goodbye?.phase !== 'speaking') return NONE;
    // A tool that is leaving hangs up itself; should it fail, the hang-up is still owed.
    if (this.leaving) {
      this.goodbye.played = true;
      return NONE;
    }
    return this.hangUp(this.goodbye.departure);
  }

  callerSpeechStarted(): Steps {
    if (this.goodbye?.departure === 'caller_silent') this.goodbye = null;
    return NONE;
  }

  /** The caller has been silent: ask whether they are there, or, the second time, say goodbye. */
  silence(action: 'ask' | 'goodbye'): Steps {
    // Mid-reconnect nobody can speak; the reopened session picks the conversation up instead.
    if (this.hungUp || !this.open || this.leaving || this.goodbye !== null) return NONE;
    if (action === 'goodbye') {
      this.goodbye = { departure: 'caller_silent', phase: 'waiting', played: false };
      return this.flush();
    }
    return this.mayAsk() ? this.ask('silence_prompt') : NONE;
  }

  /**
   * An operator wants the agent to say something: the steps to take now (it is asked for at once
   * when nothing else is being said), or null when the call cannot take it (leaving, saying
   * goodbye, or MAX_OPERATOR_MESSAGES already waiting).
   */
  operatorMessage(message: OperatorMessage): Steps | null {
    if (this.hungUp || this.leaving || this.goodbye !== null || this.shutdownOwed) return null;
    if (this.operatorMessages.length >= MAX_OPERATOR_MESSAGES) return null;
    this.operatorMessages.push(message);
    return this.flush();
  }

  /** Operator messages not asked for yet. */
  get operatorMessagesWaiting(): number {
    return this.operatorMessages.length;
  }

  /** Shutdown reached the call: say goodbye, then hang up; with nobody to say it, hang up now. */
  shutdown(): Steps {
    if (this.hungUp) return NONE;
    if (this.leaving) {
      this.shutdownOwed = true;
      return NONE;
    }
    // A goodbye already playing serves; it now ends the call for shutdown, whatever the caller says.
    if (this.goodbye?.phase === 'speaking') {
      this.goodbye.departure = 'shutdown';
      return NONE;
    }
    if (!this.open) return this.hangUp('shutdown');
    this.goodbye = { departure: 'shutdown', phase: this.goodbye?.phase ?? 'waiting', played: false };
    return this.flush();
  }

  /** A tool is hanging up or transferring the call (true), or its attempt failed (false). */
  setLeaving(leaving: boolean): Steps {
    if (this.hungUp) return NONE;
    this.leaving = leaving;
    if (leaving) {
      this.outputs = [];
      this.followUpWanted = false;
      this.operatorMessages = [];
      return NONE;
    }
    if (this.shutdownOwed) {
      this.shutdownOwed = false;
      const steps = this.shutdown();
      if (steps.length > 0) return steps;
    }
    if (this.goodbye?.played) return this.hangUp(this.goodbye.departure);
    return this.flush();
  }

  private hangUp(departure: Departure): Steps {
    this.hungUp = true;
    this.goodbye = null;
    this.outputs = [];
    this.followUpWanted = false;
    this.operatorMessages = [];
    return [{ do: 'hang_up', departure }];
  }

  private forgetSession(): void {
    if (this.operatorAsked !== null) this.operatorMessages.unshift(this.operatorAsked);
    this.operatorAsked = null;
    this.active = null;
    this.requested = null;
    this.sessionResponses = new Set();
    this.outputs = [];
    this.followUpWanted = false;
    // A goodbye asked of the old session is asked of the new one; one already speaking has its audio at Twilio.
    if (this.goodbye?.phase === 'requested') this.goodbye.phase = 'waiting';
  }

  private mayAsk(): boolean {
    return this.configured && this.active === null && this.requested === null;
  }

  private ask(kind: ResponseKind): Steps {
    this.requested = kind;
    return [{ do: 'create_response', kind }];
  }

  private flush(): Steps {
    if (this.hungUp || this.leaving || !this.open) return NONE;
    const steps: SequencerStep[] = [];
    const active = this.active;
    if (this.outputs.some((o) => o.responseId !== active)) {
      const ready = this.outputs.filter((o) => o.responseId !== active);
      this.outputs = this.outputs.filter((o) => o.responseId === active);
      for (const o of ready) steps.push({ do: 'send_tool_output', callId: o.callId, output: o.output });
      this.followUpWanted = true;
    }
    if (!this.mayAsk()) return steps;
    const goodbye = this.goodbye;
    if (goodbye !== null) {
      // The goodbye comes instead of a greeting, an operator's message or a follow-up.
      this.opener = null;
      this.followUpWanted = false;
      this.operatorMessages = [];
      if (goodbye.phase === 'waiting') {
        goodbye.phase = 'requested';
        steps.push(...this.ask(GOODBYE_RESPONSE[goodbye.departure]));
      }
    } else if (this.opener !== null) {
      const opener = this.opener;
      this.opener = null;
      steps.push(...this.ask(opener));
    } else if (this.operatorMessages.length > 0) {
      this.requested = 'operator_message';
      this.operatorAsked = this.operatorMessages.shift()!;
      steps.push({ do: 'say_operator_message', message: this.operatorAsked });
    } else if (this.followUpWanted) {
      this.followUpWanted = false;
      steps.push(...this.ask('follow_up'));
    }
    return steps;
  }
}
