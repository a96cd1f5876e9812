import { EventSourceParserStream } from 'eventsource-parser/stream';
import { DEFAULT_TIMEOUT_MS, summarize, Waiters } from './wait';

export interface LiveEvent {
  readonly event: string | undefined;
  readonly data: any;
}

/** A client of GET /api/calls/live/events, as the console reads it: fetch with the bearer token, events parsed as they come. */
export class LiveEvents {
  readonly events: LiveEvent[] = [];
  private readonly waiters = new Waiters('LiveEvents');
  private readonly abort = new AbortController();

  private constructor() {}

  static async open(httpUrl: string, token: string): Promise<LiveEvents> {
    const client = new LiveEvents();
    const res = await fetch(`${httpUrl}/api/calls/live/events`, { headers: { authorization: `Bearer ${token}` }, signal: client.abort.signal });
    if (res.status !== 200 || !res.body) throw new Error(`live events: HTTP ${res.status}`);
    void client.read(res.body);
    return client;
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const reader = body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream()).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        this.events.push({ event: value.event, data: JSON.parse(value.data) });
        this.waiters.notify();
      }
      this.waiters.fail('the stream ended');
    } catch (err) {
      this.waiters.fail(`the stream failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** The first event, from the start, that `match` accepts. */
  waitFor(what: string, match: (e: LiveEvent) => boolean, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<LiveEvent> {
    return this.waiters.until(what, () => this.events.find(match), () => summarize(this.events.map((e) => `${e.event}(${e.data?.total ?? ''})`)), timeoutMs);
  }

  close(): void {
    this.abort.abort();
  }
}
