/**
 * Where a warm transfer is: the on-call person's phone rings (`dialing`), they answered and hear
 * the whisper (`whispering`), then either they pressed 1 and the caller is bridged to them, or
 * it ends without them: `declined` (pressed another key, or hung up during the whisper),
 * `no-answer` (busy, no answer, failed, no key pressed), `timed-out` (WARM_TRANSFER_TIMEOUT_SECONDS
 * passed), `caller-gone` (the caller hung up while on hold).
 */
export type WarmTransferStatus = 'dialing' | 'whispering' | 'bridged' | 'declined' | 'no-answer' | 'timed-out' | 'caller-gone';

export const FINAL_STATUSES: ReadonlySet<WarmTransferStatus> = new Set(['bridged', 'declined', 'no-answer', 'timed-out', 'caller-gone']);

/** What happened to the transfer, from Twilio's webhooks, the timer or the call. */
export type WarmTransferEvent =
  | { readonly type: 'whisper_requested' }
  | { readonly type: 'digits'; readonly digits: string }
  | { readonly type: 'leg_status'; readonly status: string }
  | { readonly type: 'timeout' }
  | { readonly type: 'caller_gone' };

/** What the transfer's owner must do after an event. */
export interface WarmTransferEffects {
  readonly status: WarmTransferStatus;
  /** The on-call person's leg is still ringing or connected and must be ended. */
  readonly endLeg: boolean;
  /** Join the caller to the on-call person's conference (over REST) and acknowledge the page. */
  readonly bridge: boolean;
  /** The caller is back with the agent, who must offer a callback. */
  readonly backToAgent: boolean;
  /** The whisper started: the timeout starts again for it. */
  readonly restartTimer: boolean;
}

/** Twilio call statuses that end a leg that never got to the whisper. */
const LEG_FAILED = new Set(['busy', 'no-answer', 'failed', 'canceled']);

/**
 * The warm transfer's decisions, pure: each event gives the next status and what to do, or null
 * when the event changes nothing (late, repeated, or after the end).
 */
export class WarmTransferState {
  private current: WarmTransferStatus = 'dialing';

  get status(): WarmTransferStatus {
    return this.current;
  }

  get finished(): boolean {
    return FINAL_STATUSES.has(this.current);
  }

  on(event: WarmTransferEvent): WarmTransferEffects | null {
    if (this.finished) return null;
    switch (event.type) {
      case 'whisper_requested':
        if (this.current !== 'dialing') return null;
        return this.move('whispering', { restartTimer: true });
      case 'digits':
        if (this.current !== 'whispering') return null;
        if (event.digits === '1') return this.move('bridged', { bridge: true });
        // No key at all is no answer; any other key is a refusal. Either way the leg hangs up itself (its TwiML says goodbye).
        return this.move(event.digits === '' ? 'no-answer' : 'declined', { backToAgent: true });
      case 'leg_status':
        if (LEG_FAILED.has(event.status)) return this.move('no-answer', { backToAgent: true });
        // Hung up before or during the whisper, without a key.
        if (event.status === 'completed') return this.move(this.current === 'whispering' ? 'declined' : 'no-answer', { backToAgent: true });
        return null;
      case 'timeout':
        return this.move('timed-out', { endLeg: true, backToAgent: true });
      case 'caller_gone':
        return this.move('caller-gone', { endLeg: true });
    }
  }

  private move(to: WarmTransferStatus, effects: Partial<Omit<WarmTransferEffects, 'status'>>): WarmTransferEffects {
    this.current = to;
    return { status: to, endLeg: false, bridge: false, backToAgent: false, restartTimer: false, ...effects };
  }
}
