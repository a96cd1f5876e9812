import { ActionStatus } from './action-status';
import { useState } from 'preact/hooks';
import { api, query } from '../api';
import { dateTime, label } from '../format';
import { useAction, useApi } from '../hooks';
import type { DncEntry, OutboundRequest, Page } from '../types';

const UNFINISHED = new Set(['queued', 'dialing']);

function Attempts({ request }: { request: OutboundRequest }) {
  if (request.attempts.length === 0) return <p class="muted">No attempt yet{request.nextAttemptAt ? `; next at ${dateTime(request.nextAttemptAt)}` : ''}.</p>;
  return (
    <ol class="plain">
      {request.attempts.map((a) => (
        <li key={a.attempt}>
          {dateTime(a.startedAt)}: {label(a.status)}
          {a.answeredBy && `, answered by ${label(a.answeredBy)}`}
          {typeof a.detail.outcome === 'string' && ` → ${label(a.detail.outcome)}`}
          {a.callSid && (
            <>
              {' '}
              <a href={`#/calls/${a.callSid}`}>call</a>
            </>
          )}
        </li>
      ))}
    </ol>
  );
}

/** Place a callback: to someone who called (callbackOf: their call), or with recorded consent. */
function NewCallback({ params, onPlaced }: { params: URLSearchParams; onPlaced: () => void }) {
  const [to, setTo] = useState(params.get('to') ?? '');
  const [callbackOf, setCallbackOf] = useState(params.get('callbackOf') ?? '');
  const [purpose, setPurpose] = useState(params.get('callbackOf') ? 'returning your call' : '');
  const [consent, setConsent] = useState('');
  const action = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    const body = {
      to: to.trim(),
      purpose: purpose.trim(),
      ...(callbackOf.trim() ? { callbackOf: callbackOf.trim() } : { consent: { source: consent.trim(), obtainedAt: new Date().toISOString() } }),
    };
    void action
      .run(async () => {
        const created = await api<OutboundRequest>('/api/outbound-calls', { method: 'POST', body });
        return `Callback to ${created.to} ${created.status}.`;
      })
      .then((ok) => ok && onPlaced());
  };
  return (
    <form class="card" onSubmit={submit} aria-labelledby="callback-title">
      <h2 id="callback-title">Place a callback</h2>
      <label>
        Number <input name="to" type="tel" required placeholder="+15551234567" value={to} onInput={(e) => setTo(e.currentTarget.value)} />
      </label>
      <label>
        About (the agent says it) <input name="purpose" required minLength={3} maxLength={500} value={purpose} onInput={(e) => setPurpose(e.currentTarget.value)} />
      </label>
      <label>
        Returning call (Call SID) <input name="callbackOf" placeholder="CA…" value={callbackOf} onInput={(e) => setCallbackOf(e.currentTarget.value)} />
      </label>
      {!callbackOf.trim() && (
        <label>
          Consent: how the callee agreed to be called
          <input name="consent" required placeholder="web form, 2026-12-01" value={consent} onInput={(e) => setConsent(e.currentTarget.value)} />
        </label>
      )}
      <button type="submit" disabled={action.busy}>
        Place callback
      </button>
      <ActionStatus action={action} />
    </form>
  );
}

function DoNotCall() {
  const list = useApi<Page<DncEntry>>('/api/dnc?pageSize=100');
  const [number, setNumber] = useState('');
  const [reason, setReason] = useState('');
  const action = useAction();
  const add = (e: Event) => {
    e.preventDefault();
    void action
      .run(async () => {
        const entry = await api<DncEntry>('/api/dnc', { method: 'POST', body: { number: number.trim(), ...(reason.trim() ? { reason: reason.trim() } : {}) } });
        setNumber('');
        setReason('');
        return `${entry.number} will not be called.`;
      })
      .then(() => list.reload());
  };
  const remove = (n: string) =>
    void action
      .run(async () => {
        await api(`/api/dnc/${encodeURIComponent(n)}`, { method: 'DELETE' });
        return `${n} removed from the list.`;
      })
      .then(() => list.reload());
  return (
    <section class="card" aria-labelledby="dnc-title">
      <h2 id="dnc-title">Do not call</h2>
      <form class="row" onSubmit={add}>
        <label>
          Number <input name="dnc-number" type="tel" required placeholder="+15551234567" value={number} onInput={(e) => setNumber(e.currentTarget.value)} />
        </label>
        <label class="grow">
          Reason <input name="dnc-reason" value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
        </label>
        <button type="submit" disabled={action.busy}>
          Add
        </button>
      </form>
      <ActionStatus action={action} />
      {list.data && list.data.items.length === 0 && <p class="muted">The list is empty.</p>}
      <ul class="plain" data-testid="dnc">
        {list.data?.items.map((e) => (
          <li key={e.number} class="row">
            <span class="grow">
              <strong>{e.number}</strong> {e.reason && `— ${e.reason}`} <span class="muted">({e.source}, {dateTime(e.addedAt)})</span>
            </span>
            <button type="button" class="secondary" onClick={() => remove(e.number)} aria-label={`Remove ${e.number}`}>
              Remove
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}

export function OutboundView({ params }: { params: URLSearchParams }) {
  const [status, setStatus] = useState('');
  const requests = useApi<Page<OutboundRequest>>(`/api/outbound-calls${query({ status, pageSize: 50 })}`);
  const action = useAction();
  const cancel = (id: string) =>
    void action
      .run(async () => {
        await api(`/api/outbound-calls/${id}`, { method: 'DELETE' });
        return 'Cancelled.';
      })
      .then(() => requests.reload());
  return (
    <>
      <h1>Outbound</h1>
      <div class="grid">
        <NewCallback params={params} onPlaced={requests.reload} />
        <DoNotCall />
      </div>
      <section aria-labelledby="requests-title">
        <h2 id="requests-title">Requests and attempts</h2>
        <label>
          Status
          <select value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
            <option value="">Any</option>
            {['queued', 'dialing', 'completed', 'exhausted', 'cancelled', 'refused'].map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        {requests.error && (
          <p class="error" role="alert">
            {requests.error}
          </p>
        )}
        {action.error && (
          <p class="error" role="alert">
            {action.error}
          </p>
        )}
        {requests.data && requests.data.items.length === 0 && <p class="muted">No outbound call yet.</p>}
        <ul class="cards" data-testid="outbound-requests">
          {requests.data?.items.map((r) => (
            <li key={r.id} class="card">
              <div class="lead-head">
                <strong>{r.to}</strong> <span class={`badge ${r.status}`}>{r.status}</span>
                <span class="muted">{dateTime(r.createdAt)}</span>
              </div>
              <p>{r.purpose}</p>
              {r.statusReason && <p class="muted">{label(r.statusReason)}</p>}
              {r.callbackOf && (
                <p class="muted">
                  Returning <a href={`#/calls/${r.callbackOf}`}>a call</a>
                </p>
              )}
              <Attempts request={r} />
              {UNFINISHED.has(r.status) && (
                <button type="button" class="secondary" onClick={() => cancel(r.id)}>
                  Cancel
                </button>
              )}
            </li>
          ))}
        </ul>
      </section>
    </>
  );
}
