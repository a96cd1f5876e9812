import { EventSourceParserStream } from 'eventsource-parser/stream';
import { authHeaders, session } from './api';
import type { LiveCall } from './types';

export type LiveState = 'connecting' | 'open' | 'unavailable' | 'closed';

const RETRY_MS = 2_000;

/**
 * Follows GET /api/calls/live/events: the live calls of the whole fleet, sent again whenever they
 * change. Read with fetch rather than EventSource, which cannot send the bearer token; reconnects
 * after RETRY_MS when the stream ends. Returns a function that stops it.
 */
export function watchLiveCalls(onCalls: (calls: LiveCall[]) => void, onState: (state: LiveState) => void): () => void {
  const abort = new AbortController();
  let retry: ReturnType<typeof setTimeout> | undefined;

  const connect = async (): Promise<void> => {
    onState('connecting');
    try {
      const res = await fetch('/api/calls/live/events', { headers: { ...authHeaders(), accept: 'text/event-stream' }, signal: abort.signal });
      if (res.status === 401) {
        session.signOut();
        return;
      }
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      const events = res.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream()).getReader();
      for (;;) {
        const { done, value } = await events.read();
        if (done) break;
        if (value.event === 'calls') {
          onCalls((JSON.parse(value.data) as { items: LiveCall[] }).items);
          onState('open');
        } else if (value.event === 'unavailable') {
          onState('unavailable');
        }
      }
    } catch {
      // Dropped or refused: tried again below.
    }
    if (abort.signal.aborted) return;
    onState('closed');
    retry = setTimeout(() => void connect(), RETRY_MS);
  };

  void connect();
  return () => {
    abort.abort();
    clearTimeout(retry);
  };
}
