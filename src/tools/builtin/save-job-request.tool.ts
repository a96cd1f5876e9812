import { parsePhoneNumberFromString, type CountryCode, type PhoneNumber } from 'libphonenumber-js';
import type { CrmService, JobRequest } from '../../crm/crm.port';
import type { EmergencyAlert, EmergencyAlerts } from '../../on-call/emergency-alerts';
import type { EmergencyFacts } from '../../on-call/page-message';
import type { ToolCallContext, ToolDefinition } from '../tool';

const FIELDS = ['callerName', 'callbackNumber', 'serviceAddress', 'problem', 'urgency', 'preferredTime'] as const;

/** Call detail: the model has been told to ask for the callback number again, and no valid one has come since. */
export const CALLBACK_NUMBER_REASKED = 'callbackNumberReasked';

/** Call detail: the emergency was raised with the on-call rota, and what the caller was told of it (EmergencyAlert). */
export const ON_CALL_DETAIL = 'onCall';

/** Only the digits, a leading + kept: "2 2 2, 5 5 5…" as a transcript may write it. */
function digitsOf(raw: string): string {
  const digits = raw.replace(/\D/g, '');
  return digits && raw.trim().startsWith('+') ? `+${digits}` : digits;
}

/** As written, else as bare digits (the library gives up on some spoken-style punctuation). */
function parse(raw: string, region: string): PhoneNumber | undefined {
  return parsePhoneNumberFromString(raw, region as CountryCode) ?? parsePhoneNumberFromString(digitsOf(raw), region as CountryCode);
}

/** The number in E.164, or null when it cannot be a phone number of that region (or international). */
export function normalisePhone(raw: string, region: string): string | null {
  const parsed = parse(raw, region);
  return parsed?.isValid() ? parsed.number : null;
}

/**
 * A number that failed validation, kept as well as it can be: E.164 when the library sees a
 * possible number (right length, e.g. a new area code its metadata does not know yet), else the
 * digits as said (a leading + kept). Null when nothing in it is a digit.
 */
export function unverifiedPhone(raw: string, region: string): string | null {
  const parsed = parse(raw, region);
  if (parsed?.isPossible()) return parsed.number;
  return digitsOf(raw) || null;
}

type CallbackOutcome =
  | { readonly kind: 'none' }
  | { readonly kind: 'valid'; readonly number: string }
  | { readonly kind: 'unverified'; readonly number: string }
  | { readonly kind: 'reask'; readonly said: string };

/**
 * save_job_request: the plumbing job as the caller described it. Called again, it corrects the
 * fields it is given and keeps the others. Stored on the call record and, when the call's
 * profile has a CRM, sent to it.
 *
 * A callback number that does not validate never costs the lead: the other fields are saved
 * anyway, the model is told once to ask the caller to repeat the number, and a number that still
 * does not validate on the next try is saved as heard, flagged unverified, for a person to check.
 * Metadata lags new area codes, and a number with a mis-heard digit beats no number.
 */
export function saveJobRequestTool(crm: CrmService, region: string, emergencies?: Pick<EmergencyAlerts, 'raise' | 'update'>): ToolDefinition {
  // Emergencies being raised, by call: a second save while the first is raising waits for it instead of raising again.
  const raising = new Map<string, Promise<EmergencyAlert>>();
  return {
    name: 'save_job_request',
    description:
      "Save the caller's job request as soon as you have any of its details, and again whenever a detail is added or corrected. " +
      'Only pass the fields you know; earlier values are kept. If the result asks you to repeat the callback number, ask the caller ' +
      'for it again, digit by digit, and call this tool with what they say; that second number is saved even if it cannot be verified. ' +
      'Saved with urgency emergency, the on-call plumber is paged at once; the result says what to tell the caller (tellCaller).',
    parameters: {
      type: 'object',
      additionalProperties: false,
      properties: {
        caller_name: { type: 'string', minLength: 1, maxLength: 120 },
        callback_number: {
          type: 'string',
          minLength: 3,
          maxLength: 40,
          description:
            'As the caller said it; it is normalised to E.164. One that is not a valid number is asked for again once, ' +
            'then saved as heard and marked unverified.',
        },
        service_address: { type: 'string', minLength: 3, maxLength: 300 },
        problem: { type: 'string', minLength: 2, maxLength: 1000 },
        urgency: { type: 'string', enum: ['emergency', 'urgent', 'routine'] },
        preferred_time: { type: 'string', minLength: 1, maxLength: 200 },
      },
    },
    async handler(args, ctx) {
      const given: Record<string, string> = {};
      if (typeof args.caller_name === 'string') given.callerName = args.caller_name.trim();
      if (typeof args.service_address === 'string') given.serviceAddress = args.service_address.trim();
      if (typeof args.problem === 'string') given.problem = args.problem.trim();
      if (typeof args.urgency === 'string') given.urgency = args.urgency;
      if (typeof args.preferred_time === 'string') given.preferredTime = args.preferred_time.trim();

      const reasked = ctx.getDetail(CALLBACK_NUMBER_REASKED) === true;
      const callback = readCallback(args.callback_number, region, reasked);
      if (callback.kind === 'reask') ctx.setDetail(CALLBACK_NUMBER_REASKED, true);
      // A valid number ends the episode: a later wrong correction is asked for again too.
      else if (callback.kind === 'valid' && reasked) ctx.setDetail(CALLBACK_NUMBER_REASKED, false);

      let job = (ctx.getDetail('jobRequest') ?? {}) as JobRequest;
      const changed = Object.keys(given).length > 0 || callback.kind === 'valid' || callback.kind === 'unverified';
      if (changed) {
        // A new callback number replaces the old one and its flag; a valid one carries none.
        if (callback.kind === 'valid' || callback.kind === 'unverified') {
          const { callbackNumberUnverified: _old, ...rest } = job;
          job = { ...rest, callbackNumber: callback.number, ...(callback.kind === 'unverified' ? { callbackNumberUnverified: true } : {}) };
        }
        job = { ...job, ...given };
        ctx.setDetail('jobRequest', job);
        if (ctx.profile.crm) crm.jobRequested({ callSid: ctx.callSid, from: ctx.from }, job);
      }

      const result: Record<string, unknown> = { saved: changed, jobRequest: job, stillMissing: FIELDS.filter((f) => job[f] === undefined) };
      if (changed && job.urgency === 'emergency' && emergencies) Object.assign(result, await alertOnCall(emergencies, raising, job, ctx));
      if (callback.kind === 'reask') {
        result.callbackNumberSaved = false;
        result.askAgain =
          `"${callback.said}" is not a valid phone number${changed ? '; everything else was saved' : ''}. ` +
          'Ask the caller to repeat their callback number, digit by digit, then call save_job_request with it.';
      } else if (callback.kind === 'unverified') {
        result.callbackNumberSaved = true;
        result.note = 'The callback number could not be verified; it was saved as heard and marked unverified. Do not ask for it again.';
      }
      return result;
    },
  };
}

/** What the pages say of the job. */
function factsOf(job: JobRequest, ctx: ToolCallContext): EmergencyFacts {
  const { callerName, callbackNumber, callbackNumberUnverified, serviceAddress, problem } = job;
  const known = Object.entries({ callerName, callbackNumber, callbackNumberUnverified, serviceAddress, problem }).filter(([, v]) => v !== undefined);
  return { business: ctx.profile.companyName, ...Object.fromEntries(known), callerNumber: ctx.from };
}

/**
 * The first save as an emergency raises it with the on-call rota (paging starts in the background)
 * and tells the model what to say, honestly; later saves only bring the pages' facts up to date.
 */
async function alertOnCall(
  emergencies: Pick<EmergencyAlerts, 'raise' | 'update'>,
  raising: Map<string, Promise<EmergencyAlert>>,
  job: JobRequest,
  ctx: ToolCallContext,
): Promise<Record<string, unknown>> {
  // Nothing awaited before `raising` is set, unless something is in it: a save alongside must find it.
  const inFlight = raising.get(ctx.callSid);
  const raised = (ctx.getDetail(ON_CALL_DETAIL) as EmergencyAlert | undefined) ?? (inFlight && (await inFlight));
  if (raised) {
    if (raised.alerted) emergencies.update(ctx.callSid, factsOf(job, ctx));
    return {};
  }
  const pending = emergencies
    .raise(ctx.callSid, factsOf(job, ctx))
    .then((alert) => {
      ctx.setDetail(ON_CALL_DETAIL, alert);
      return alert;
    })
    .finally(() => raising.delete(ctx.callSid));
  raising.set(ctx.callSid, pending);
  const alert = await pending;
  if (alert.alerted) {
    return {
      onCall: alert,
      tellCaller:
        `Tell the caller, once: "I've alerted our on-call plumber, ${alert.person.name}, who will call you back within ${alert.callbackWithinMinutes} minutes." ` +
        'Promise nothing more (no arrival time), and keep them on the safety step that applies.',
    };
  }
  return {
    onCall: alert,
    tellCaller:
      'Nobody could be alerted right now: no on-call plumber has been paged. Tell the caller honestly that their emergency is saved and ' +
      'marked as an emergency so the team sees it first, that you cannot say when someone will call back, and to call 911 if anyone is in danger.',
  };
}

function readCallback(raw: unknown, region: string, reasked: boolean): CallbackOutcome {
  if (typeof raw !== 'string') return { kind: 'none' };
  const e164 = normalisePhone(raw, region);
  if (e164) return { kind: 'valid', number: e164 };
  const asHeard = reasked ? unverifiedPhone(raw, region) : null;
  // Without a single digit there is nothing to keep: it can only be asked for again.
  return asHeard ? { kind: 'unverified', number: asHeard } : { kind: 'reask', said: raw.trim() };
}
