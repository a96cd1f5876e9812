import type { CallRecord, JobRequest } from './types';

export const OUTCOMES = ['job_request', 'transferred', 'no_job_request', 'failed', 'fallback'] as const;
export const URGENCIES = ['emergency', 'urgent', 'routine'] as const;

export function jobRequestOf(call: Pick<CallRecord, 'details'>): JobRequest | null {
  const job = call.details.jobRequest;
  return typeof job === 'object' && job !== null && !Array.isArray(job) ? job : null;
}

/** What the call came to: the rule the API filters on (src/call-log/call-outcome.ts). */
export function outcomeOf(call: Pick<CallRecord, 'status' | 'endReason' | 'details'>): (typeof OUTCOMES)[number] {
  if (call.status === 'fallback') return 'fallback';
  if (jobRequestOf(call)) return 'job_request';
  if (call.endReason === 'transferred') return 'transferred';
  return call.status === 'failed' ? 'failed' : 'no_job_request';
}
