import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import type { CrmService, JobRequest } from '../../crm/crm.port';
import type { ToolDefinition } from '../tool';

const FIELDS = ['callerName', 'callbackNumber', 'serviceAddress', 'problem', 'urgency', 'preferredTime'] as const;

/** The number in E.164, or null when it cannot be a phone number of that region (or international). */
export function normalisePhone(raw: string, region: string): string | null {
  const parsed = parsePhoneNumberFromString(raw, region as CountryCode);
  return parsed?.isValid() ? parsed.number : null;
}

/**
 * save_job_request: the plumbing job as the caller described it. Called again, it corrects the
 * fields it is given and keeps the others. Stored on the call record and sent to the CRM.
 */
export function saveJobRequestTool(crm: CrmService, region: string): ToolDefinition {
  return {
    name: 'save_job_request',
    description:
      "Save the caller's job request as soon as you have any of its details, and again whenever a detail is added or corrected. " +
      'Only pass the fields you know; earlier values are kept.',
    parameters: {
      type: 'object',
      additionalProperties: false,
      properties: {
        caller_name: { type: 'string', minLength: 1, maxLength: 120 },
        callback_number: { type: 'string', minLength: 3, maxLength: 40, description: 'As the caller said it; it is normalised to E.164.' },
        service_address: { type: 'string', minLength: 3, maxLength: 300 },
        problem: { type: 'string', minLength: 2, maxLength: 1000 },
        urgency: { type: 'string', enum: ['emergency', 'urgent', 'routine'] },
        preferred_time: { type: 'string', minLength: 1, maxLength: 200 },
      },
    },
    async handler(args, ctx) {
      const given: Record<string, string> = {};
      if (typeof args.caller_name === 'string') given.callerName = args.caller_name.trim();
      if (typeof args.callback_number === 'string') {
        const e164 = normalisePhone(args.callback_number, region);
        if (!e164) {
          return { saved: false, error: `"${args.callback_number}" is not a valid phone number. Ask the caller to repeat it.` };
        }
        given.callbackNumber = e164;
      }
      if (typeof args.service_address === 'string') given.serviceAddress = args.service_address.trim();
      if (typeof args.problem === 'string') given.problem = args.problem.trim();
      if (typeof args.urgency === 'string') given.urgency = args.urgency;
      if (typeof args.preferred_time === 'string') given.preferredTime = args.preferred_time.trim();
      const previous = (ctx.getDetail('jobRequest') ?? {}) as JobRequest;
      const job = { ...previous, ...given };
      ctx.setDetail('jobRequest', job);
      crm.jobRequested({ callSid: ctx.callSid, from: ctx.from }, job);
      return { saved: true, jobRequest: job, stillMissing: FIELDS.filter((f) => job[f] === undefined) };
    },
  };
}
