import type { TwilioCallControl } from '../../twilio/twilio-call-control';
import type { ToolDefinition } from '../tool';

/** Long enough for the agent to finish its last sentence before the call moves. */
const CALL_CONTROL_TIMEOUT_MS = 30_000;

/** transfer_to_human: after the agent's last sentence has played, the live call dials the profile's transfer number. */
export function transferToHumanTool(control: TwilioCallControl): ToolDefinition {
  return {
    name: 'transfer_to_human',
    description:
      'Transfer the caller to a person on the team. First tell the caller you are transferring them; the transfer happens once you have finished speaking.',
    parameters: { type: 'object', additionalProperties: false, properties: { reason: { type: 'string', maxLength: 300 } } },
    timeoutMs: CALL_CONTROL_TIMEOUT_MS,
    offeredTo: (profile) => profile.transferNumber !== undefined,
    async handler(_args, ctx) {
      const transferNumber = ctx.profile.transferNumber;
      if (transferNumber === undefined) throw new Error('No transfer number is configured for this line.');
      await ctx.call.agentFinishedSpeaking();
      // Marked first: Twilio stops the stream as soon as the update lands.
      ctx.call.markOutcome('transferred');
      try {
        await control.transfer(ctx.callSid, transferNumber);
      } catch (err) {
        ctx.call.markOutcome(null);
        throw err;
      }
      return { transferred: true };
    },
  };
}

/** end_call: hangs up once the goodbye has played. */
export function endCallTool(control: TwilioCallControl): ToolDefinition {
  return {
    name: 'end_call',
    description: 'End the call after you have said goodbye. Only use it once the caller has nothing more to add.',
    parameters: { type: 'object', additionalProperties: false, properties: { reason: { type: 'string', maxLength: 300 } } },
    timeoutMs: CALL_CONTROL_TIMEOUT_MS,
    async handler(_args, ctx) {
      await ctx.call.agentFinishedSpeaking();
      ctx.call.markOutcome('hangup');
      try {
        await control.hangUp(ctx.callSid);
      } catch (err) {
        ctx.call.markOutcome(null);
        throw err;
      }
      return { ended: true };
    },
  };
}
