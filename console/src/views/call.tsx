import { ActionStatus } from './action-status';
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api } from '../api';
import { dateTime, duration, label, usd } from '../format';
import { useAction, useApi } from '../hooks';
import { jobRequestOf, outcomeOf } from '../outcome';
import { activeTurnIndex } from '../transcript';
import type { CallRecord } from '../types';
import { FollowUp } from './follow-up';
import { Player } from './player';

const LIVE_REFRESH_MS = 3_000;

function Facts({ rows }: { rows: Array<[string, ComponentChildren]> }) {
  return (
    <dl class="facts">
      {rows.map(([name, value]) => (
        <div key={name}>
          <dt>{name}</dt>
          <dd>{value ?? '—'}</dd>
        </div>
      ))}
    </dl>
  );
}

/** Hang up, transfer, say: the call-control API, which reaches the call on whichever instance holds it. */
function LiveActions({ callSid, onDone }: { callSid: string; onDone: () => void }) {
  const action = useAction();
  const [to, setTo] = useState('');
  const [text, setText] = useState('');
  const [mode, setMode] = useState<'sentence' | 'instruction'>('sentence');
  const post = (path: string, body: unknown, describe: (r: Record<string, unknown>) => string) =>
    action.run(async () => {
      const result = await api<Record<string, unknown>>(`/api/calls/${callSid}/${path}`, { method: 'POST', body });
      onDone();
      return describe(result);
    });
  return (
    <section class="card actions" aria-labelledby="actions-title">
      <h2 id="actions-title">Live actions</h2>
      <div class="row">
        <button
          type="button"
          class="danger"
          disabled={action.busy}
          onClick={() => {
            if (confirm('Hang up this call now?')) void post('hangup', {}, () => 'Hung up.');
          }}
        >
          Hang up
        </button>
      </div>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          void post('transfer', to.trim() ? { to: to.trim() } : {}, (r) => `Transferred to ${String(r.transferredTo)}.`);
        }}
      >
        <label>
          Transfer to <input type="tel" placeholder="the line's transfer number" value={to} onInput={(e) => setTo(e.currentTarget.value)} />
        </label>
        <button type="submit" disabled={action.busy}>
          Transfer
        </button>
      </form>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          void post('say', { text, mode }, (r) => (r.said === 'now' ? 'Said now.' : `Queued: said next (${String(r.waiting)} waiting).`)).then((ok) => ok && setText(''));
        }}
      >
        <label class="grow">
          Say <textarea maxLength={500} rows={2} value={text} onInput={(e) => setText(e.currentTarget.value)} />
        </label>
        <label>
          As
          <select value={mode} onChange={(e) => setMode(e.currentTarget.value as 'sentence' | 'instruction')}>
            <option value="sentence">words to say</option>
            <option value="instruction">an instruction</option>
          </select>
        </label>
        <button type="submit" disabled={action.busy || text.trim() === ''}>
          Say
        </button>
      </form>
      <ActionStatus action={action} />
    </section>
  );
}

function Transcript({ call, positionMs, playing, seek }: { call: CallRecord; positionMs: number; playing: boolean; seek: (ms: number) => void }) {
  const active = activeTurnIndex(call.transcript, positionMs);
  const list = useRef<HTMLOListElement>(null);
  useEffect(() => {
    if (!playing || active < 0) return;
    list.current?.children[active]?.scrollIntoView({ block: 'nearest' });
  }, [active, playing]);
  if (call.transcript.length === 0) return <p class="muted">Nothing was said.</p>;
  return (
    <ol class="chat" ref={list} data-testid="transcript">
      {call.transcript.map((turn, i) => (
        <li key={i} class={`turn ${turn.speaker}${i === active ? ' active' : ''}`} aria-current={i === active ? 'true' : undefined} data-start-ms={turn.startMs}>
          <div class="meta">
            <span>{turn.speaker === 'caller' ? 'Caller' : 'Agent'}</span>
            <button type="button" class="link" onClick={() => seek(turn.startMs)} aria-label={`Play from ${duration(turn.startMs)}`}>
              {duration(turn.startMs)}
            </button>
          </div>
          <p>
            {turn.text}
            {turn.interrupted && (
              <span class="cut" title="The caller talked over the agent: the text stops where they stopped hearing it">
                {' '}
                — interrupted
              </span>
            )}
          </p>
        </li>
      ))}
    </ol>
  );
}

export function CallView({ callSid }: { callSid: string }) {
  const call = useApi<CallRecord>(`/api/calls/${callSid}`);
  const audio = useRef<HTMLAudioElement>(null);
  const [position, setPosition] = useState(0);
  const [playing, setPlaying] = useState(false);
  const live = call.data?.status === 'in-progress';
  const { reload } = call;

  // A live call's record is written every few seconds: follow it until it ends.
  useEffect(() => {
    if (!live) return;
    const timer = setInterval(reload, LIVE_REFRESH_MS);
    return () => clearInterval(timer);
  }, [live, reload]);

  const onPosition = useCallback((ms: number) => {
    setPosition(ms);
    setPlaying(audio.current ? !audio.current.paused : false);
  }, []);
  const seek = useCallback(
    (ms: number) => {
      if (!audio.current) return;
      audio.current.currentTime = ms / 1000;
      // The turn is marked at once, not only once the element reports 'seeked'.
      onPosition(ms);
    },
    [onPosition],
  );
  const job = useMemo(() => (call.data ? jobRequestOf(call.data) : null), [call.data]);

  if (call.error && !call.data)
    return (
      <p class="error" role="alert">
        {call.error}
      </p>
    );
  if (!call.data) return <p class="muted">Loading…</p>;
  const c = call.data;
  const summary = c.details.summary?.status === 'ready' ? c.details.summary.text : null;
  const u = c.usage;
  return (
    <>
      <p>
        <a href="#/calls">← Calls</a>
      </p>
      <h1>
        {c.direction === 'inbound' ? `Call from ${c.from}` : `Call to ${c.to}`} <span class={`badge ${live ? 'live' : c.status}`}>{live ? 'live' : label(outcomeOf(c))}</span>
      </h1>
      {live && <LiveActions callSid={c.callSid} onDone={reload} />}
      <div class="grid">
        <section class="card" aria-labelledby="caller-title">
          <h2 id="caller-title">Caller</h2>
          <Facts
            rows={[
              ['From', c.from],
              ['To', c.to],
              ['Direction', c.direction],
              ['Started', dateTime(c.startedAt)],
              ['Length', live ? 'in progress' : duration(c.durationMs)],
              ['Ended by', label(c.endReason)],
              ['Call SID', <code>{c.callSid}</code>],
            ]}
          />
          {c.direction === 'inbound' && !live && (
            <p>
              <a class="button" href={`#/outbound?to=${encodeURIComponent(c.from)}&callbackOf=${c.callSid}`}>
                Place a callback
              </a>
            </p>
          )}
        </section>
        <section class="card" aria-labelledby="job-title">
          <h2 id="job-title">Job request</h2>
          {job ? (
            <Facts
              rows={[
                ['Urgency', job.urgency ? <span class={`badge ${job.urgency}`}>{job.urgency}</span> : '—'],
                ['Name', job.callerName],
                ['Callback', job.callbackNumber ? `${job.callbackNumber}${job.callbackNumberUnverified ? ' (unverified)' : ''}` : '—'],
                ['Address', job.serviceAddress],
                ['Problem', job.problem],
                ['When', job.preferredTime],
              ]}
            />
          ) : (
            <p class="muted">No job request was saved.</p>
          )}
          {summary && <p class="summary">{summary}</p>}
        </section>
      </div>

      <section class="card" aria-labelledby="recording-title">
        <h2 id="recording-title">Recording and transcript</h2>
        {c.recording && !live ? <Player callSid={c.callSid} audio={audio} onPosition={onPosition} /> : <p class="muted">{live ? 'The recording is ready when the call ends.' : 'No recording.'}</p>}
        <Transcript call={c} positionMs={position} playing={playing} seek={seek} />
      </section>

      <div class="grid">
        <section class="card" aria-labelledby="follow-title">
          <h2 id="follow-title">Follow-up</h2>
          <FollowUp call={c} />
        </section>
        <section class="card" aria-labelledby="cost-title">
          <h2 id="cost-title">Cost and usage</h2>
          <Facts
            rows={[
              ['Estimated cost', usd(c.costUsd)],
              ['Responses', u.responses],
              ['Input tokens', `${u.inputAudioTokens} audio, ${u.inputTextTokens} text (${u.cachedAudioTokens + u.cachedTextTokens} cached)`],
              ['Output tokens', `${u.outputAudioTokens} audio, ${u.outputTextTokens} text`],
            ]}
          />
        </section>
      </div>
    </>
  );
}
