import { ActionStatus } from './action-status';
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { dateTime } from '../format';
import { useAction, useApi } from '../hooks';
import type { OnCall, Override, Rota } from '../types';

function AddOverride({ rota, onSaved }: { rota: Rota; onSaved: () => void }) {
  const [start, setStart] = useState('');
  const [end, setEnd] = useState('');
  const [people, setPeople] = useState<string[]>([]);
  const [note, setNote] = useState('');
  const action = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    void action
      .run(async () => {
        // datetime-local gives a wall time without a zone: the API reads it in the rota's zone.
        await api<Override>('/api/on-call/overrides', { method: 'POST', body: { start, end, people, ...(note.trim() ? { note: note.trim() } : {}) } });
        return 'Override saved.';
      })
      .then((ok) => ok && onSaved());
  };
  return (
    <form class="card" onSubmit={submit} aria-labelledby="override-title">
      <h2 id="override-title">Add an override</h2>
      <p class="hint">Times are on the rota's clock ({rota.timezone}).</p>
      <div class="row">
        <label>
          From <input type="datetime-local" required value={start} onInput={(e) => setStart(e.currentTarget.value)} />
        </label>
        <label>
          Until <input type="datetime-local" required value={end} onInput={(e) => setEnd(e.currentTarget.value)} />
        </label>
      </div>
      <fieldset>
        <legend>On call, in order</legend>
        {rota.people.map((p) => (
          <label key={p.id} class="check">
            <input
              type="checkbox"
              checked={people.includes(p.id)}
              onChange={(e) => setPeople(e.currentTarget.checked ? [...people, p.id] : people.filter((id) => id !== p.id))}
            />
            {p.name}
          </label>
        ))}
      </fieldset>
      <label>
        Note <input value={note} onInput={(e) => setNote(e.currentTarget.value)} />
      </label>
      <button type="submit" disabled={action.busy || people.length === 0}>
        Save override
      </button>
      <ActionStatus action={action} />
    </form>
  );
}

/** The whole rota as JSON (people, weekly windows, overrides), as README's On call section describes it. */
function EditRota({ rota, onSaved }: { rota: Rota; onSaved: () => void }) {
  const [text, setText] = useState(() => JSON.stringify(rota, null, 2));
  useEffect(() => setText(JSON.stringify(rota, null, 2)), [rota]);
  const action = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    void action
      .run(async () => {
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch (err) {
          throw new Error(`Not valid JSON: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
        }
        await api('/api/on-call', { method: 'PUT', body });
        return 'Rota saved.';
      })
      .then((ok) => ok && onSaved());
  };
  return (
    <form class="card" onSubmit={submit} aria-labelledby="edit-title">
      <h2 id="edit-title">Edit the rota</h2>
      <label for="rota-json">People, weekly windows and overrides (JSON)</label>
      <textarea id="rota-json" class="code" rows={16} spellcheck={false} value={text} onInput={(e) => setText(e.currentTarget.value)} />
      <button type="submit" disabled={action.busy}>
        Save rota
      </button>
      <ActionStatus action={action} />
    </form>
  );
}

export function OnCallView() {
  const onCall = useApi<OnCall>('/api/on-call');
  const action = useAction();
  if (onCall.error && !onCall.data)
    return (
      <p class="error" role="alert">
        {onCall.error}
      </p>
    );
  if (!onCall.data) return <p class="muted">Loading…</p>;
  const { rota, onCallNow, source, updatedAt } = onCall.data;
  const name = (id: string) => rota.people.find((p) => p.id === id)?.name ?? id;
  const remove = (id: string) =>
    void action
      .run(async () => {
        await api(`/api/on-call/overrides/${encodeURIComponent(id)}`, { method: 'DELETE' });
        return 'Override removed.';
      })
      .then(() => onCall.reload());
  return (
    <>
      <h1>On call</h1>
      <section class="card" aria-labelledby="now-title">
        <h2 id="now-title">Now</h2>
        {onCallNow.length === 0 ? <p class="error">Nobody is on call now.</p> : <p data-testid="on-call-now">{onCallNow.map((p) => p.name).join(', then ')}</p>}
        <p class="muted">
          Rota from {source === 'database' ? `this console or the API (${dateTime(updatedAt)})` : source === 'default' ? 'the service configuration' : 'nowhere: none is set'}, read in {rota.timezone}.
        </p>
      </section>
      <div class="grid">
        <section class="card" aria-labelledby="people-title">
          <h2 id="people-title">People</h2>
          <ul class="plain">
            {rota.people.map((p) => (
              <li key={p.id}>
                {p.name} <span class="muted">({p.id}, {p.mobile})</span>
              </li>
            ))}
          </ul>
          <h3>Weekly windows</h3>
          <ul class="plain">
            {rota.windows.map((w, i) => (
              <li key={i}>
                {w.days ? `${w.days.join(', ')} ${w.start}–${w.end}` : `${w.start} – ${w.end}`}: {w.people.map(name).join(' → ')}
              </li>
            ))}
          </ul>
          <h3>Overrides</h3>
          {rota.overrides.length === 0 && <p class="muted">None.</p>}
          <ul class="plain">
            {rota.overrides.map((o) => (
              <li key={o.id} class="row">
                <span class="grow">
                  {dateTime(o.start)} – {dateTime(o.end)}: {o.people.map(name).join(' → ')} {o.note && <span class="muted">({o.note})</span>}
                </span>
                <button type="button" class="secondary" onClick={() => remove(o.id)} aria-label={`Remove the override from ${dateTime(o.start)}`}>
                  Remove
                </button>
              </li>
            ))}
          </ul>
          {action.error && (
            <p class="error" role="alert">
              {action.error}
            </p>
          )}
        </section>
        <AddOverride rota={rota} onSaved={onCall.reload} />
      </div>
      <EditRota rota={rota} onSaved={onCall.reload} />
    </>
  );
}
