/**
 * Everything a call says and does on behalf of the business that answers it. Resolved once per
 * call from the called number; the call, its tools and its fallback read these, never the
 * environment.
 */
export interface CallProfile {
  /** Which profile answered: kept on the call record. */
  readonly id: string;
  readonly companyName: string;
  /** The system prompt, company name filled in. */
  readonly instructions: string;
  /** The agent's first words. */
  readonly greeting: string;
  readonly voice: string;
  /** Where transfer_to_human sends the call; unset, the tool is not offered. */
  readonly transferNumber: string | undefined;
  /** Dialled when the agent cannot take the call or its stream fails; unset, apologise and hang up. */
  readonly fallbackNumber: string | undefined;
  /** Said when shutdown ends a call in progress. */
  readonly shutdownGoodbye: string;
  /** How the agent picks up again on a reopened connection, instead of greeting anew. */
  readonly reconnectInstruction: string;
  /** What the agent is told at the caller's first silence, and at the second. */
  readonly silencePrompt: string;
  readonly silenceGoodbye: string;
  /** Whether the business's CRM hears of the call (contact, job request, call engagement). */
  readonly crm: boolean;
}

/** The apology of the fallback TwiML when no number is dialled. */
export function fallbackApology(profile: CallProfile): string {
  return `Sorry, ${profile.companyName} can't take your call right now. Please call back in a few minutes.`;
}
