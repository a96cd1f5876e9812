import type { DoNotCallList } from '../../outbound/do-not-call';
import type { ToolDefinition } from '../tool';

/** add_to_do_not_call: on a call the business placed, the person asked not to be called again. */
export function doNotCallTool(dnc: DoNotCallList): ToolDefinition {
  return {
    name: 'add_to_do_not_call',
    description:
      'The person asked not to be called again. Call this at once; then confirm to them that this number will not be called again, and say goodbye.',
    parameters: { type: 'object', additionalProperties: false, properties: { reason: { type: 'string', maxLength: 300 } } },
    offeredTo: (profile) => profile.outbound !== undefined,
    async handler(args, ctx) {
      const reason = typeof args.reason === 'string' && args.reason ? args.reason : 'asked during a call';
      // The callee of a call the business placed is the called number.
      const entry = await dnc.add(ctx.to, 'call', reason);
      ctx.setDetail('doNotCall', { number: entry.number, addedAt: entry.addedAt });
      return { added: true, number: entry.number };
    },
  };
}
