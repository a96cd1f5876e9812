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
  /** Set on a call the business placed (a callback, a reminder): why it is calling. */
  readonly outbound?: OutboundPurpose;
}

/** An outbound call's reason, from its request. */
export interface OutboundPurpose {
  readonly requestId: string;
  /** What the agent is calling about, as the business wrote it. */
  readonly purpose: string;
}

/**
 * The profile of a call the business placed: the agent says who is calling and why in its first
 * sentence, knows the person did not call, and offers to stop calling them. The fallback never
 * dials the business's own line from the callee's call.
 */
export function forOutboundCall(profile: CallProfile, outbound: OutboundPurpose): CallProfile {
  const { companyName } = profile;
  return Object.freeze({
    ...profile,
    outbound,
    fallbackNumber: undefined,
    greeting: `Hello, this is the automated assistant of ${companyName}, calling about ${outbound.purpose}. Is now a good time to talk?`,
    instructions:
      `${profile.instructions}\n\n## This call\n` +
      `You placed this call on behalf of ${companyName}; the person did not call you. You are calling about: ${outbound.purpose}\n` +
      'Keep to that purpose. If the person asks not to be called again, call add_to_do_not_call at once, then confirm that ' +
      `${companyName} will not call this number again, and say goodbye.`,
  });
}

/** The apology of the fallback TwiML when no number is dialled. */
export function fallbackApology(profile: CallProfile): string {
  return `Sorry, ${profile.companyName} can't take your call right now. Please call back in a few minutes.`;
}
