import { useState } from 'preact/hooks';
import { query } from '../api';
import { dateTime } from '../format';
import { useApi } from '../hooks';
import { jobRequestOf } from '../outcome';
import type { CallRecord, OutboundRequest, Page } from '../types';
import { FollowUpBadges } from './follow-up';

const PAGE_SIZE = 25;

/** Calls that left a job request: emergencies first, then newest, each with what has been done since. */
export function LeadsView() {
  const [page, setPage] = useState(1);
  const leads = useApi<Page<CallRecord>>(`/api/calls${query({ outcome: 'job_request', order: 'emergency_first', page, pageSize: PAGE_SIZE })}`);
  // Callbacks placed for these calls (by callbackOf), newest requests first.
  const outbound = useApi<Page<OutboundRequest>>('/api/outbound-calls?pageSize=100');
  const callbacksOf = (callSid: string) => outbound.data?.items.filter((r) => r.callbackOf === callSid) ?? [];
  const pages = leads.data ? Math.max(1, Math.ceil(leads.data.total / PAGE_SIZE)) : 1;
  return (
    <>
      <h1>Leads</h1>
      {leads.error && (
        <p class="error" role="alert">
          {leads.error}
        </p>
      )}
      {leads.data && leads.data.items.length === 0 && <p class="muted">No job request yet.</p>}
      <ul class="cards" data-testid="leads">
        {leads.data?.items.map((call) => {
          const job = jobRequestOf(call)!;
          return (
            <li key={call.callSid} class={`card lead ${job.urgency ?? ''}`}>
              <div class="lead-head">
                {job.urgency && <span class={`badge ${job.urgency}`}>{job.urgency}</span>}
                <a href={`#/calls/${call.callSid}`}>
                  <strong>{job.callerName ?? call.from}</strong>
                </a>
                <span class="muted">{dateTime(call.startedAt)}</span>
              </div>
              <p>{job.problem ?? 'No problem described'}</p>
              <p class="muted">
                {job.serviceAddress ?? 'No address'} · {job.callbackNumber ?? call.from}
                {job.callbackNumberUnverified ? ' (unverified)' : ''}
                {job.preferredTime ? ` · ${job.preferredTime}` : ''}
              </p>
              <FollowUpBadges call={call} callbacks={callbacksOf(call.callSid)} />
            </li>
          );
        })}
      </ul>
      {leads.data && pages > 1 && (
        <nav class="pager" aria-label="Lead pages">
          <button type="button" class="secondary" disabled={page <= 1} onClick={() => setPage(page - 1)}>
            Previous
          </button>
          <span>
            Page {page} of {pages}
          </span>
          <button type="button" class="secondary" disabled={page >= pages} onClick={() => setPage(page + 1)}>
            Next
          </button>
        </nav>
      )}
    </>
  );
}
