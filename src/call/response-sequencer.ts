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

/** What the call must do next, in order. */
export type SequencerStep =
  | { readonly do: 'send_tool_output'; readonly callId: string; readonly output: string }
  | { readonly do: 'create_response'; readonly kind: ResponseKind }
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
 * - One response at a time: nothing is asked for while one is in progress (the server would
 *   refuse it); a tool result waits for the response that called the tool to finish.
 * - Nothing is asked for without an open session, and nothing at all once the call is leaving
 *   (a tool is hanging up or transferring it): a reply nobody hears is billed all the same.
 * - A goodbye is the last thing asked for; once it has played the call hangs up. A caller who
 *   speaks up during the goodbye to a silent caller is not hung up on; shutdown's goodbye stands.
 *
 * Pure: every method takes an event and returns the steps to take now.
 */
export class ResponseSequencer {
  private open = false;
  private greeted = false;
  private resumePending = false;
  private active: string | null = null;
  private outputs: PendingOutput[] = [];
  private followUpWanted = false;
  private goodbye: Goodbye | null = null;
  private leaving = false;

  /** Tool results waiting for their response to finish. */
  get pendingOutputs(): number {
    return this.outputs.length;
  }

  /** The goodbye asked for or being said, if any: the call bounds how long it may take. */
  get goodbyeUnderWay(): Departure | null {
    return this.goodbye?.departure ?? null;
  }

  /** A socket of the call's first or reopened session is open. */
  sessionOpened(): Steps {
    this.open = true;
    return this.flush();
  }

  /** The session confirmed its configuration: the call greets once, or picks up after a reopen. */
  sessionConfigured(): Steps {
    const first = !this.greeted;
    const resume = this.resumePending;
    this.greeted = true;
    this.resumePending = false;
    if (this.leaving || !this.open) return NONE;
    if (this.goodbye !== null) return this.flush();
    if (first) return [{ do: 'create_response', kind: 'greeting' }];
    if (resume) return [{ do: 'create_response', kind: 'resume' }];
    return this.flush();
  }

  /** The session's socket dropped and a new one is opening: what was in flight on it is gone. */
  sessionDropped(): Steps {
    this.open = false;
    this.forgetSession();
    // The caller has heard the agent: the new session picks up instead of greeting again.
    if (this.greeted) this.resumePending = true;
    return NONE;
  }

  /** The call moved to the next session at a rollover; the socket was open throughout. */
  sessionRolledOver(): Steps {
    this.forgetSession();
    return this.flush();
  }

  responseCreated(responseId: string): Steps {
    this.active = responseId;
    if (this.goodbye?.phase === 'requested') this.goodbye.phase = 'speaking';
    return NONE;
  }

  responseDone(responseId: string): Steps {
    if (this.active === responseId) this.active = null;
    return this.flush();
  }

  /** A tool called by `responseId` has its result. */
  toolOutput(responseId: string, callId: string, output: string): Steps {
    if (this.leaving) return NONE;
    this.outputs.push({ responseId, callId, output });
    return this.flush();
  }

  /** Nothing of the agent is playing at Twilio and no response is in progress. */
  agentQuiet(): Steps {
    if (this.goodbye?.phase !== 'speaking') return NONE;
    const { departure } = this.goodbye;
    this.goodbye = null;
    this.leaving = true;
    return [{ do: 'hang_up', departure }];
  }

  callerSpeechStarted(): Steps {
    if (this.goodbye?.departure === 'caller_silent') this.goodbye = null;
    return NONE;
  }

  /** The caller has been silent: ask whether they are there, or, the second time, say goodbye. */
  silence(action: 'ask' | 'goodbye'): Steps {
    // Mid-reconnect nobody can speak; the reopened session picks the conversation up instead.
    if (!this.open || this.leaving || this.goodbye !== null) return NONE;
    if (action === 'goodbye') {
      this.goodbye = { departure: 'caller_silent', phase: 'waiting' };
      return this.flush();
    }
    return this.active === null ? [{ do: 'create_response', kind: 'silence_prompt' }] : NONE;
  }

  /** Shutdown reached the call: say goodbye, then hang up; without a session, hang up now. */
  shutdown(): Steps {
    if (this.leaving) return NONE;
    if (this.goodbye !== null) {
      // A goodbye under way serves; it ends the call for shutdown now, whatever the caller says.
      this.goodbye.departure = 'shutdown';
      return this.flush();
    }
    if (!this.open) {
      this.leaving = true;
      return [{ do: 'hang_up', departure: 'shutdown' }];
    }
    this.goodbye = { departure: 'shutdown', phase: 'waiting' };
    return this.flush();
  }

  /** A tool is hanging up or transferring the call (true), or its attempt failed (false). */
  setLeaving(leaving: boolean): Steps {
    this.leaving = leaving;
    if (!leaving) return this.flush();
    this.outputs = [];
    this.followUpWanted = false;
    return NONE;
  }

  private forgetSession(): void {
    this.active = null;
    this.outputs = [];
    this.followUpWanted = false;
    // A goodbye asked of the old session is asked of the new one; one already speaking has its audio at Twilio.
    if (this.goodbye?.phase === 'requested') this.goodbye.phase = 'waiting';
  }

  private flush(): Steps {
    if (this.leaving || !this.open) return NONE;
    const steps: SequencerStep[] = [];
    const active = this.active;
    if (this.outputs.some((o) => o.responseId !== active)) {
      const ready = this.outputs.filter((o) => o.responseId !== active);
      this.outputs = this.outputs.filter((o) => o.responseId === active);
      for (const o of ready) steps.push({ do: 'send_tool_output', callId: o.callId, output: o.output });
      this.followUpWanted = true;
    }
    if (active === null) {
      if (this.goodbye?.phase === 'waiting') {
        this.goodbye.phase = 'requested';
        steps.push({ do: 'create_response', kind: GOODBYE_RESPONSE[this.goodbye.departure] });
      } else if (this.followUpWanted && this.goodbye === null) {
        steps.push({ do: 'create_response', kind: 'follow_up' });
      }
      this.followUpWanted = false;
    }
    return steps;
  }
}
