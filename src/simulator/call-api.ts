/**
 * The service's call API as the simulator reads it (GET /api/calls/:callSid with API_TOKEN): the
 * transcript while the call runs, and the final record once it has ended.
 */
import type { Clock } from '../common/clock';
import type { Scheduler } from '../common/scheduler';
import { SimulatorError } from './voice-webhook';

export interface ApiTranscriptTurn {
  readonly speaker: 'caller' | 'agent';
  readonly text: string;
  readonly startMs: number;
  readonly interrupted?: boolean;
}

/** The fields of a call record the simulator and the scenario checks read. */
export interface ApiCallRecord {
  readonly callSid: string;
  readonly status: string;
  readonly endReason: string | null;
  readonly transcript: readonly ApiTranscriptTurn[];
  readonly details: Readonly<Record<string, unknown>>;
}

export class CallApi {
  constructor(
    private readonly baseUrl: string,
    private readonly apiToken: string,
    private readonly clock: Clock,
    private readonly scheduler: Scheduler,
  ) {}

  /** The record, or null while the service has not written it yet (404). */
  async get(callSid: string): Promise<ApiCallRecord | null> {
    const res = await this.request(`/api/calls/${encodeURIComponent(callSid)}`);
    if (res.status === 404) return null;
    if (res.status === 401 || res.status === 403) throw new SimulatorError(`the call API refused API_TOKEN (${res.status})`);
    if (!res.ok) throw new SimulatorError(`the call API answered ${res.status}`);
    return (await res.json()) as ApiCallRecord;
  }

  /** Sends a request to the service's API with the bearer token. */
  async request(path: string, init: RequestInit = {}): Promise<Response> {
    try {
      return await fetch(new URL(path, this.baseUrl), {
        ...init,
        headers: { authorization: `Bearer ${this.apiToken}`, ...(init.body ? { 'content-type': 'application/json' } : {}), ...(init.headers as Record<string, string> | undefined) },
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      throw new SimulatorError(`could not reach the call API at ${this.baseUrl}: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * The record once the call has ended there and `ready` holds (what is written after the call,
   * such as pages, has come), polled every 250 ms; after `timeoutMs`, the ended record as it is.
   */
  async ended(callSid: string, timeoutMs = 15_000, ready: (r: ApiCallRecord) => boolean = () => true): Promise<ApiCallRecord> {
    const deadline = this.clock.now() + timeoutMs;
    for (;;) {
      const record = await this.get(callSid);
      const late = this.clock.now() >= deadline;
      if (record && record.status !== 'in-progress' && (late || ready(record))) return record;
      if (late) {
        throw new SimulatorError(record ? `the call record of ${callSid} is still ${record.status} after ${timeoutMs} ms` : `no call record of ${callSid} after ${timeoutMs} ms`);
      }
      await new Promise<void>((resolve) => this.scheduler.after(250, resolve));
    }
  }
}

/**
 * Prints the transcript as the service records it (at most every 5 s while the call runs): each
 * turn once, in order, as it first appears.
 */
export class TranscriptFollower {
  private shown = 0;
  private polling = false;

  constructor(
    private readonly api: CallApi,
    private readonly callSid: string,
    private readonly print: (turn: ApiTranscriptTurn) => void,
  ) {}

  /** Shows the turns not shown yet, from `record` or a fresh read. Errors are not fatal here. */
  async poll(record?: ApiCallRecord | null): Promise<void> {
    if (this.polling && !record) return;
    this.polling = true;
    try {
      const current = record ?? (await this.api.get(this.callSid).catch(() => null));
      const turns = current?.transcript ?? [];
      for (; this.shown < turns.length; this.shown++) this.print(turns[this.shown]);
    } finally {
      this.polling = false;
    }
  }
}
