/**
 * What the call came to, for a reader that only routes or filters on it:
 * - `job_request`: the agent saved a job request (whatever ended the call);
 * - `transferred`: no job request, the call was handed to a person;
 * - `no_job_request`: the call ended normally without one (the caller hung up, went silent…);
 * - `failed`: the call failed (the agent's connection, the line, the instance) before one was saved;
 * - `fallback`: the call never reached the agent (no OpenAI key, at capacity, draining).
 */
export type CallOutcome = 'job_request' | 'transferred' | 'no_job_request' | 'failed' | 'fallback';
export const CALL_OUTCOMES: readonly CallOutcome[] = ['job_request', 'transferred', 'no_job_request', 'failed', 'fallback'];

export type Urgency = 'emergency' | 'urgent' | 'routine';
export const URGENCIES: readonly Urgency[] = ['emergency', 'urgent', 'routine'];

const hasJobRequest = (details: Readonly<Record<string, unknown>>): boolean => {
  const job = details.jobRequest;
  return typeof job === 'object' && job !== null && !Array.isArray(job);
};

/** What a call record (CallRecord) came to; the record's fields are named here so the record's module can name the outcome. */
export function callOutcome(record: { readonly status: string; readonly endReason: string | null; readonly details: Readonly<Record<string, unknown>> }): CallOutcome {
  if (record.status === 'fallback') return 'fallback';
  if (hasJobRequest(record.details)) return 'job_request';
  if (record.endReason === 'transferred') return 'transferred';
  return record.status === 'failed' ? 'failed' : 'no_job_request';
}

/** callOutcome as a SQL condition on the calls table, so that the call log filters on it. */
export function outcomeCondition(outcome: CallOutcome): string {
  // IS NOT DISTINCT FROM: a missing job request reads false, never NULL, so NOT applies to it.
  const job = `jsonb_typeof(details->'jobRequest') IS NOT DISTINCT FROM 'object'`;
  const transferred = `end_reason IS NOT DISTINCT FROM 'transferred'`;
  switch (outcome) {
    case 'fallback':
      return `status = 'fallback'`;
    case 'job_request':
      return `(status <> 'fallback' AND ${job})`;
    case 'transferred':
      return `(status <> 'fallback' AND NOT ${job} AND ${transferred})`;
    case 'failed':
      return `(status = 'failed' AND NOT ${job} AND NOT ${transferred})`;
    case 'no_job_request':
      return `(status IN ('completed', 'in-progress') AND NOT ${job} AND NOT ${transferred})`;
  }
}
