import { useEffect, useRef, useState } from 'preact/hooks';
import { query } from '../api';
import { dateTime, duration, label } from '../format';
import { useApi } from '../hooks';
import { watchLiveCalls, type LiveState } from '../live';
import { jobRequestOf, OUTCOMES, outcomeOf, URGENCIES } from '../outcome';
import type { CallRecord, LiveCall, Page } from '../types';

const PAGE_SIZE = 20;

function LiveCalls({ calls, state }: { calls: LiveCall[] | null; state: LiveState }) {
  return (
    <section aria-labelledby="live-title">
      <h2 id="live-title">
        Live calls <span class={`status ${state}`}>{state === 'open' ? 'live' : state}</span>
      </h2>
      <div aria-live="polite">
        {calls === null ? (
          <p class="muted">Connecting…</p>
        ) : calls.length === 0 ? (
          <p class="muted">No call right now.</p>
        ) : (
          <ul class="cards" data-testid="live-calls">
            {calls.map((c) => (
              <li key={c.callSid} class="card live" data-call-sid={c.callSid}>
                <a href={`#/calls/${c.callSid}`}>
                  <strong>{c.direction === 'inbound' ? c.from : c.to}</strong>
                </a>
                <span class={`badge ${c.state}`}>{c.state}</span>
                <span class="muted">
                  {c.direction} · since {new Date(c.startedAt).toLocaleTimeString()} · {c.instanceId}
                </span>
              </li>
            ))}
          </ul>
        )}
      </div>
    </section>
  );
}

interface Filters {
  number: string;
  from: string;
  to: string;
  outcome: string;
  urgency: string;
}

const EMPTY: Filters = { number: '', from: '', to: '', outcome: '', urgency: '' };

/** A day typed in a date field, as the instant it starts in this browser's zone. */
const dayStart = (day: string, plusDays = 0): string | undefined => {
  if (!day) return undefined;
  const d = new Date(`${day}T00:00:00`);
  d.setDate(d.getDate() + plusDays);
  return d.toISOString();
};

/** Records still in progress whose call is no longer live are being written: looked at again this soon. */
const CATCH_UP_MS = 2_000;

function History({ live }: { live: LiveCall[] | null }) {
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [page, setPage] = useState(1);
  const path = `/api/calls${query({
    page,
    pageSize: PAGE_SIZE,
    number: filters.number.replace(/[\s().-]/g, ''),
    from: dayStart(filters.from),
    to: dayStart(filters.to, 1),
    outcome: filters.outcome,
    urgency: filters.urgency,
  })}`;
  const calls = useApi<Page<CallRecord>>(path);
  const { reload } = calls;
  // A call that starts or ends changes the history.
  const liveSids = live?.map((c) => c.callSid).join() ?? null;
  const seen = useRef(liveSids);
  useEffect(() => {
    if (seen.current === liveSids) return;
    seen.current = liveSids;
    reload();
  }, [liveSids, reload]);
  const catchingUp = live !== null && calls.data?.items.some((c) => c.status === 'in-progress' && !live.some((l) => l.callSid === c.callSid));
  useEffect(() => {
    if (!catchingUp) return;
    const timer = setTimeout(reload, CATCH_UP_MS);
    return () => clearTimeout(timer);
  }, [catchingUp, calls.data, reload]);
  const field = (key: keyof Filters) => ({
    value: draft[key],
    onInput: (e: Event) => setDraft({ ...draft, [key]: (e.currentTarget as HTMLInputElement).value }),
  });
  const pages = calls.data ? Math.max(1, Math.ceil(calls.data.total / PAGE_SIZE)) : 1;

  return (
    <section aria-labelledby="history-title">
      <h2 id="history-title">History</h2>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setPage(1);
          setFilters(draft);
        }}
      >
        <label>
          Number <input type="tel" placeholder="+15551234567" {...field('number')} />
        </label>
        <label>
          From <input type="date" {...field('from')} />
        </label>
        <label>
          To <input type="date" {...field('to')} />
        </label>
        <label>
          Outcome
          <select {...field('outcome')}>
            <option value="">Any</option>
            {OUTCOMES.map((o) => (
              <option key={o} value={o}>
                {label(o)}
              </option>
            ))}
          </select>
        </label>
        <label>
          Urgency
          <select {...field('urgency')}>
            <option value="">Any</option>
            {URGENCIES.map((u) => (
              <option key={u} value={u}>
                {u}
              </option>
            ))}
          </select>
        </label>
        <div class="buttons">
          <button type="submit">Filter</button>
          <button
            type="button"
            class="secondary"
            onClick={() => {
              setDraft(EMPTY);
              setFilters(EMPTY);
              setPage(1);
            }}
          >
            Clear
          </button>
        </div>
      </form>
      {calls.error && (
        <p class="error" role="alert">
          {calls.error}
        </p>
      )}
      {calls.data && (
        <>
          <div class="table-wrap">
            <table data-testid="history">
              <caption class="muted">
                {calls.data.total} call{calls.data.total === 1 ? '' : 's'}
              </caption>
              <thead>
                <tr>
                  <th scope="col">Started</th>
                  <th scope="col">Caller</th>
                  <th scope="col">Length</th>
                  <th scope="col">Outcome</th>
                  <th scope="col">Job</th>
                </tr>
              </thead>
              <tbody>
                {calls.data.items.map((c) => {
                  const job = jobRequestOf(c);
                  return (
                    <tr key={c.callSid} data-call-sid={c.callSid}>
                      <td>
                        <a href={`#/calls/${c.callSid}`}>{dateTime(c.startedAt)}</a>
                      </td>
                      <td>{c.direction === 'inbound' ? c.from : `→ ${c.to}`}</td>
                      <td>{c.status === 'in-progress' ? 'live' : duration(c.durationMs)}</td>
                      <td>{label(outcomeOf(c))}</td>
                      <td>
                        {job?.urgency && <span class={`badge ${job.urgency}`}>{job.urgency}</span>} {job?.problem ?? ''}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          <nav class="pager" aria-label="History pages">
            <button type="button" class="secondary" disabled={page <= 1} onClick={() => setPage(page - 1)}>
              Newer
            </button>
            <span>
              Page {page} of {pages}
            </span>
            <button type="button" class="secondary" disabled={page >= pages} onClick={() => setPage(page + 1)}>
              Older
            </button>
          </nav>
        </>
      )}
    </section>
  );
}

export function CallsView() {
  const [calls, setCalls] = useState<LiveCall[] | null>(null);
  const [state, setState] = useState<LiveState>('connecting');
  useEffect(() => watchLiveCalls(setCalls, setState), []);
  return (
    <>
      <h1>Calls</h1>
      <LiveCalls calls={calls} state={state} />
      <History live={calls} />
    </>
  );
}
