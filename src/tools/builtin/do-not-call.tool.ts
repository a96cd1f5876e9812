import type { DoNotCallList } from '../../outbound/do-not-call';
import { E164 } from '../../outbound/outbound.dto';
import type { ToolDefinition } from '../tool';

/**
 * add_to_do_not_call: the person asked not to be called again. On a call the business placed that
 * is the called number; on an inbound call, the caller's (someone calling back after a voicemail
 * to say so), when it is not withheld.
 */
export function doNotCallTool(dnc: DoNotCallList): ToolDefinition {
  return {
    name: 'add_to_do_not_call',
    description:
      'The person asked not to be called again. Call this at once; then confirm to them that this number will not be called again, and say goodbye.',
    parameters: { type: 'object', additionalProperties: false, properties: { reason: { type: 'string', maxLength: 300 } } },
    async handler(args, ctx) {
      const number = ctx.profile.outbound ? ctx.to : ctx.from;
      if (!E164.test(number)) return { added: false, why: 'the caller withheld their number: ask them to tell the business by another way' };
      const reason = typeof args.reason === 'string' && args.reason ? args.reason : 'asked during a call';
      const entry = await dnc.add(number, 'call', reason);
      ctx.setDetail('doNotCall', { number: entry.number, addedAt: entry.addedAt });
      return { added: true, number: entry.number };
    },
  };
}
