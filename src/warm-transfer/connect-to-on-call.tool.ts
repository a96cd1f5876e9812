import type { ToolDefinition } from '../tools/tool';
import type { WarmTransfers } from './warm-transfers';

/** connect_to_on_call: dials the on-call person, who hears a summary before being bridged; the caller stays with the agent meanwhile. */
export function connectToOnCallTool(transfers: WarmTransfers): ToolDefinition {
  return {
    name: 'connect_to_on_call',
    description:
      'Connect the caller now to the plumber on call (a warm transfer): they hear your summary first and press a key to take the call. ' +
      'Use it when the caller wants to speak to someone now about an urgent job. If nobody answers you will be told, and then take a callback time.',
    parameters: {
      type: 'object',
      additionalProperties: false,
      required: ['summary'],
      properties: {
        summary: { type: 'string', minLength: 1, maxLength: 300, description: 'For the on-call plumber: who is calling, where, and the problem, in one or two sentences.' },
      },
    },
    timeoutMs: 15_000,
    offeredTo: () => transfers.available,
    async handler(args, ctx) {
      return transfers.start(ctx, String(args.summary));
    },
  };
}
