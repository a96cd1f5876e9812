/**
 * What an operator can ask of a live call through the API, on whichever instance holds it, and
 * the answer that goes back. Plain data: it crosses Redis between instances as JSON.
 */
export type CallCommand =
  | { readonly action: 'hangup' }
  /** `to`: E.164; without it, the profile's transfer number. */
  | { readonly action: 'transfer'; readonly to?: string }
  /** `sentence`: the agent says `text` as written; `instruction`: the agent is told what to do. */
  | { readonly action: 'say'; readonly text: string; readonly mode: 'sentence' | 'instruction' }
  | WarmTransferLegEvent;

/**
 * A webhook of a warm transfer's on-call leg (src/warm-transfer), taken by whichever instance
 * Twilio reached and carried to the one holding the call, where the transfer lives. Its answer's
 * body carries the TwiML for the leg (`twiml`), when the webhook wants one.
 */
export interface WarmTransferLegEvent {
  readonly action: 'warm-transfer';
  readonly transfer: string;
  /** whisper: the leg answered; digits: the key pressed (`value`); status: the leg's CallStatus (`value`). */
  readonly event: 'whisper' | 'digits' | 'status';
  readonly value: string;
}

export type CallCommandAction = CallCommand['action'];

/**
 * 200: done (or, for say, queued behind what the agent is saying); 404: no such live call;
 * 409: the call cannot do it now; 502: Twilio refused; 504: the holder did not answer in time.
 */
export type CallCommandStatus = 200 | 404 | 409 | 502 | 504;

export interface CallCommandResult {
  readonly status: CallCommandStatus;
  /** 200: what was done. Otherwise why not, in a sentence. */
  readonly body: Readonly<Record<string, unknown>> & { readonly message?: string };
}

export const commandDone = (body: Record<string, unknown>): CallCommandResult => ({ status: 200, body });
export const commandRefused = (status: Exclude<CallCommandStatus, 200>, message: string): CallCommandResult => ({ status, body: { message } });

const ACTIONS: ReadonlySet<string> = new Set<CallCommandAction>(['hangup', 'transfer', 'say', 'warm-transfer']);
const LEG_EVENTS: ReadonlySet<string> = new Set<WarmTransferLegEvent['event']>(['whisper', 'digits', 'status']);

/** A command as read off the wire (another instance's message), or null when it is not one. */
export function readCallCommand(value: unknown): CallCommand | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  if (typeof v.action !== 'string' || !ACTIONS.has(v.action)) return null;
  if (v.action === 'hangup') return { action: 'hangup' };
  if (v.action === 'transfer') {
    if (v.to !== undefined && typeof v.to !== 'string') return null;
    return v.to === undefined ? { action: 'transfer' } : { action: 'transfer', to: v.to };
  }
  if (v.action === 'warm-transfer') {
    if (typeof v.transfer !== 'string' || typeof v.event !== 'string' || !LEG_EVENTS.has(v.event) || typeof v.value !== 'string') return null;
    return { action: 'warm-transfer', transfer: v.transfer, event: v.event as WarmTransferLegEvent['event'], value: v.value };
  }
  if (typeof v.text !== 'string' || (v.mode !== 'sentence' && v.mode !== 'instruction')) return null;
  return { action: 'say', text: v.text, mode: v.mode };
}
