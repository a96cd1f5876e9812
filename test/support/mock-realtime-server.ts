/**
 * A fake OpenAI Realtime WebSocket server (PROTOCOLS B1-B4) for e2e tests. It records what the
 * client sends and emits server events only when the test tells it to, except session.created on
 * connect and (by default) session.updated in reply to session.update.
 */
import { wsBytes } from '../../src/common/ws-text';
import { createServer, IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'http';
import { AddressInfo, Socket } from 'net';
import WebSocket, { RawData, WebSocketServer } from 'ws';
import { summarize, Waiters, withTimeout, DEFAULT_TIMEOUT_MS } from './wait';

export type RealtimeShape = 'ga' | 'beta';

export interface MockRealtimeOptions {
  /** Which event names the server emits. Default 'ga'. */
  shape?: RealtimeShape;
  /** Reply to each session.update with session.updated echoing its `session`. Default true. */
  autoSessionUpdated?: boolean;
  /** When false, upgrades are refused with HTTP 503. Default true. Can be changed later. */
  acceptConnections?: boolean;
  /** Send session.created as soon as a connection opens, like the real API. Default true. */
  sendSessionCreated?: boolean;
}

const PATH = '/v1/realtime';

const NAMES: Record<RealtimeShape, Record<'audioDelta' | 'audioDone' | 'transcriptDelta' | 'transcriptDone' | 'itemAdded', string>> = {
  ga: {
    audioDelta: 'response.output_audio.delta',
    audioDone: 'response.output_audio.done',
    transcriptDelta: 'response.output_audio_transcript.delta',
    transcriptDone: 'response.output_audio_transcript.done',
    itemAdded: 'conversation.item.added',
  },
  beta: {
    audioDelta: 'response.audio.delta',
    audioDone: 'response.audio.done',
    transcriptDelta: 'response.audio_transcript.delta',
    transcriptDone: 'response.audio_transcript.done',
    itemAdded: 'conversation.item.created',
  },
};

/** The session.updated reply to a session.update: echoes the requested session object. */
export function sessionUpdatedFor(sessionUpdate: { session?: unknown }): { type: 'session.updated'; session: unknown } {
  return { type: 'session.updated', session: sessionUpdate.session ?? {} };
}

/** An empty response.done usage as each shape reports it: only GA breaks cached tokens down. */
function zeroUsage(shape: RealtimeShape): object {
  const input = { text_tokens: 0, audio_tokens: 0, cached_tokens: 0 };
  return {
    total_tokens: 0,
    input_tokens: 0,
    output_tokens: 0,
    input_token_details:
      shape === 'ga' ? { ...input, image_tokens: 0, cached_tokens_details: { text_tokens: 0, audio_tokens: 0, image_tokens: 0 } } : input,
    output_token_details: { text_tokens: 0, audio_tokens: 0 },
  };
}

function defaultSession(shape: RealtimeShape, id: string, model: string | null): object {
  return shape === 'ga'
    ? {
        type: 'realtime',
        object: 'realtime.session',
        id,
        model: model ?? 'gpt-realtime',
        output_modalities: ['audio'],
        audio: {
          input: { format: { type: 'audio/pcm', rate: 24000 }, turn_detection: { type: 'server_vad' } },
          output: { format: { type: 'audio/pcm', rate: 24000 }, voice: 'alloy' },
        },
      }
    : {
        object: 'realtime.session',
        id,
        model: model ?? 'gpt-4o-realtime-preview',
        modalities: ['audio', 'text'],
        input_audio_format: 'pcm16',
        output_audio_format: 'pcm16',
        voice: 'alloy',
        turn_detection: { type: 'server_vad' },
      };
}

export class MockRealtimeServer {
  readonly connections: MockRealtimeConnection[] = [];
  /** Mutable so a test can refuse reconnects after the first connection. */
  acceptConnections: boolean;
  private nextIndex = 0;
  private readonly waiters = new Waiters('MockRealtimeServer');
  private readonly wss = new WebSocketServer({ noServer: true, clientTracking: false });
  private readonly rawSockets = new Set<Socket>();
  private closing: Promise<void> | undefined;
  /** Upgrades waiting while connections are held (to keep a client in its connecting state). */
  private held: Array<() => void> | null = null;
  /** How many more upgrades are held; later ones are answered as usual. */
  private holdRemaining = 0;

  private constructor(
    private readonly http: Server,
    readonly url: string,
    private readonly opts: Required<MockRealtimeOptions>,
  ) {
    this.acceptConnections = opts.acceptConnections;
    http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.onUpgrade(req, socket, head));
  }

  /** Plain HTTP requests (not upgrades) go here when set: see serveHttp. */
  private httpHandler: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;

  static async start(opts: MockRealtimeOptions = {}): Promise<MockRealtimeServer> {
    let server: MockRealtimeServer | undefined;
    const http = createServer((req, res) => (server?.httpHandler ? server.httpHandler(req, res) : res.writeHead(426).end('WebSocket only')));
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = http.address() as AddressInfo;
    return (server = new MockRealtimeServer(http, `ws://127.0.0.1:${port}${PATH}`, {
      shape: opts.shape ?? 'ga',
      autoSessionUpdated: opts.autoSessionUpdated ?? true,
      acceptConnections: opts.acceptConnections ?? true,
      sendSessionCreated: opts.sendSessionCreated ?? true,
    }));
  }

  /**
   * Answers plain HTTP requests with `handler`: OpenAI's HTTP API beside the Realtime endpoint, as
   * the app derives it from OPENAI_REALTIME_URL (a FakeOpenAiApi's `handle`). Without one: 426.
   */
  serveHttp(handler: (req: IncomingMessage, res: ServerResponse) => void): void {
    this.httpHandler = handler;
  }

  /** The next connection not yet returned by this method; already-open ones count. */
  nextConnection(timeoutMs: number = DEFAULT_TIMEOUT_MS): Promise<MockRealtimeConnection> {
    return this.waiters.until(
      `connection #${this.nextIndex + 1}`,
      () => (this.nextIndex < this.connections.length ? this.connections[this.nextIndex++] : undefined),
      () => `${this.connections.length} connection(s), ${this.nextIndex} already returned`,
      timeoutMs,
    );
  }

  /** Drops the connections nextConnection() has returned from `connections`, for long runs. */
  forgetReturned(): void {
    this.connections.splice(0, this.nextIndex);
    this.nextIndex = 0;
  }

  /**
   * Leaves new upgrade requests unanswered until releaseConnections(); only the next `count` of
   * them when given (e.g. 1: the first connect hangs, a retry gets through).
   */
  holdConnections(count = Number.POSITIVE_INFINITY): void {
    this.held ??= [];
    this.holdRemaining = count;
  }

  /** Resolves once an upgrade request is being held. */
  waitForHeldConnection(timeoutMs: number = DEFAULT_TIMEOUT_MS): Promise<void> {
    return this.waiters.until(
      'a held upgrade request',
      () => ((this.held?.length ?? 0) > 0 ? true : undefined),
      () => `${this.held?.length ?? 0} held`,
      timeoutMs,
    ).then(() => undefined);
  }

  /** Answers the held upgrades and stops holding. */
  releaseConnections(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const upgrade of held) upgrade();
  }

  /** Terminates every socket and stops listening. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.waiters.fail('server closed');
    for (const conn of this.connections) conn.terminate();
    for (const socket of this.rawSockets) socket.destroy();
    await Promise.all(this.connections.map((c) => c.closed));
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve, reject) => {
      this.http.close((err) => (err ? reject(err) : resolve()));
      this.http.closeAllConnections();
    });
  }

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    this.rawSockets.add(socket);
    socket.once('close', () => this.rawSockets.delete(socket));
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== PATH) return refuse(socket, 404, 'Not Found');
    if (!this.acceptConnections) return refuse(socket, 503, 'Service Unavailable');
    if (this.held && this.holdRemaining > 0) {
      this.holdRemaining--;
      this.held.push(() => this.accept(req, socket, head, url));
      this.waiters.notify();
      return;
    }
    this.accept(req, socket, head, url);
  }

  private accept(req: IncomingMessage, socket: Socket, head: Buffer, url: URL): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.rawSockets.delete(socket);
      const conn = new MockRealtimeConnection(ws, req, url.searchParams.get('model'), this.connections.length + 1, this.opts);
      this.connections.push(conn);
      this.waiters.notify();
    });
  }
}

function refuse(socket: Socket, status: number, text: string): void {
  const body = `${status} ${text}`;
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

export class MockRealtimeConnection {
  readonly headers: IncomingHttpHeaders;
  /** Every client event, parsed, in arrival order; non-JSON frames as { type: '__invalid__', raw }. */
  readonly received: any[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly shape: RealtimeShape;
  private readonly returned = new Set<unknown>();
  private readonly waiters: Waiters;
  private eventSeq = 0;
  private userItemSeq = 0;

  constructor(
    private readonly ws: WebSocket,
    req: IncomingMessage,
    readonly model: string | null,
    readonly index: number,
    private readonly opts: Required<MockRealtimeOptions>,
  ) {
    this.headers = req.headers;
    this.shape = opts.shape;
    this.waiters = new Waiters(`MockRealtimeConnection #${index}`);
    this.closed = new Promise((resolve) => {
      ws.once('close', (code, reason) => {
        this.waiters.fail(`connection closed (code ${code})`);
        resolve({ code, reason: reason.toString() });
      });
    });
    // A client that drops abruptly surfaces as an 'error' here; 'close' follows and is what counts.
    ws.on('error', () => undefined);
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    if (opts.sendSessionCreated) {
      this.send({ type: 'session.created', session: defaultSession(opts.shape, `sess_mock_${index}`, model) });
    }
  }

  /**
   * The first received event of `type` (matching `predicate`) not returned by an earlier call;
   * resolves immediately when it has already arrived.
   */
  waitFor(type: string, predicate?: (e: any) => boolean, timeoutMs: number = DEFAULT_TIMEOUT_MS): Promise<any> {
    return this.waiters.until(
      `client event "${type}"${predicate ? ' matching the predicate' : ''}`,
      () => {
        const found = this.received.find((e) => e.type === type && !this.returned.has(e) && (!predicate || predicate(e)));
        if (found !== undefined) this.returned.add(found);
        return found;
      },
      () => summarize(this.received.map((e) => String(e?.type))),
      timeoutMs,
    );
  }

  /** Resolves with the close code and reason, or rejects after `timeoutMs`. */
  waitForClose(timeoutMs: number = DEFAULT_TIMEOUT_MS): Promise<{ code: number; reason: string }> {
    return withTimeout(this.closed, `MockRealtimeConnection #${this.index} to close`, timeoutMs);
  }

  /** All input_audio_buffer.append payloads, decoded and concatenated in arrival order. */
  appendedAudio(): Buffer {
    return Buffer.concat(
      this.received
        .filter((e) => e.type === 'input_audio_buffer.append' && typeof e.audio === 'string')
        .map((e) => Buffer.from(e.audio, 'base64')),
    );
  }

  /**
   * Sends an object (an `event_id` is added unless present) or a string as-is. Dropped silently
   * once the socket is no longer open, so scripted replies racing a client hang-up do not throw.
   */
  send(event: object | string): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    if (typeof event === 'string') this.ws.send(event);
    else {
      // The API's order: type, then event_id, then the rest.
      const { type, ...rest } = event as { type?: unknown };
      this.ws.send(JSON.stringify({ type, event_id: `event_${++this.eventSeq}`, ...rest }));
    }
  }

  responseCreated(responseId: string): void {
    this.send({
      type: 'response.created',
      // status_details and usage are null on the wire here (the SDK types them as optional objects).
      response: {
        object: 'realtime.response',
        id: responseId,
        status: 'in_progress',
        status_details: null,
        output: [],
        conversation_id: `conv_mock_${this.index}`,
        usage: null,
      },
    });
  }

  /** conversation.item.added (GA) / conversation.item.created (beta) for an assistant message. */
  itemAdded(itemId: string, previousItemId: string | null = null): void {
    this.send({
      type: NAMES[this.shape].itemAdded,
      previous_item_id: previousItemId,
      item: { id: itemId, object: 'realtime.item', type: 'message', status: 'in_progress', role: 'assistant', content: [] },
    });
  }

  outputItemAdded(responseId: string, itemId: string): void {
    this.send({
      type: 'response.output_item.added',
      response_id: responseId,
      output_index: 0,
      item: { id: itemId, object: 'realtime.item', type: 'message', status: 'in_progress', role: 'assistant', content: [] },
    });
  }

  outputItemDone(responseId: string, itemId: string, status: 'completed' | 'incomplete' = 'completed'): void {
    this.send({
      type: 'response.output_item.done',
      response_id: responseId,
      output_index: 0,
      item: { id: itemId, object: 'realtime.item', type: 'message', status, role: 'assistant', content: [] },
    });
  }

  audioDelta(responseId: string, itemId: string, audio: Buffer): void {
    this.send({ type: NAMES[this.shape].audioDelta, ...this.ids(responseId, itemId), delta: audio.toString('base64') });
  }

  /** Splits `audio` into deltas of `chunkBytes`, sent back-to-back (faster than real time, like the API). */
  sendAudio(responseId: string, itemId: string, audio: Buffer, chunkBytes = 800): void {
    if (chunkBytes <= 0) throw new Error(`chunkBytes must be positive, got ${chunkBytes}`);
    for (let off = 0; off < audio.length; off += chunkBytes) {
      this.audioDelta(responseId, itemId, audio.subarray(off, off + chunkBytes));
    }
  }

  audioDone(responseId: string, itemId: string): void {
    this.send({ type: NAMES[this.shape].audioDone, ...this.ids(responseId, itemId) });
  }

  transcriptDelta(responseId: string, itemId: string, delta: string): void {
    this.send({ type: NAMES[this.shape].transcriptDelta, ...this.ids(responseId, itemId), delta });
  }

  transcriptDone(responseId: string, itemId: string, transcript: string): void {
    this.send({ type: NAMES[this.shape].transcriptDone, ...this.ids(responseId, itemId), transcript });
  }

  speechStarted(audioStartMs = 0, itemId: string = `item_user_${++this.userItemSeq}`): void {
    this.send({ type: 'input_audio_buffer.speech_started', audio_start_ms: audioStartMs, item_id: itemId });
  }

  speechStopped(audioEndMs = 0, itemId: string = `item_user_${Math.max(this.userItemSeq, 1)}`): void {
    this.send({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: audioEndMs, item_id: itemId });
  }

  /**
   * response.done. A cancelled response gets status_details reason 'turn_detected' (VAD barge-in)
   * unless `statusDetails` says otherwise.
   */
  responseDone(responseId: string, status: 'completed' | 'cancelled' = 'completed', usage?: object, statusDetails?: object): void {
    this.send({
      type: 'response.done',
      response: {
        object: 'realtime.response',
        id: responseId,
        status,
        status_details: statusDetails ?? (status === 'cancelled' ? { type: 'cancelled', reason: 'turn_detected' } : null),
        output: [],
        conversation_id: `conv_mock_${this.index}`,
        usage: usage ?? zeroUsage(this.shape),
      },
    });
  }

  /**
   * A whole spoken reply: response.created, output item and conversation item added, audio deltas,
   * audio done, transcript done, output item done, response.done (completed).
   */
  speak(responseId: string, itemId: string, audio: Buffer, opts: { transcript?: string; chunkBytes?: number } = {}): void {
    this.responseCreated(responseId);
    this.outputItemAdded(responseId, itemId);
    this.itemAdded(itemId);
    this.sendAudio(responseId, itemId, audio, opts.chunkBytes);
    this.audioDone(responseId, itemId);
    this.transcriptDone(responseId, itemId, opts.transcript ?? '');
    this.outputItemDone(responseId, itemId);
    this.responseDone(responseId);
  }

  error(code: string, message: string = code): void {
    this.send({ type: 'error', error: { type: 'invalid_request_error', code, message, param: null, event_id: null } });
  }

  close(code = 1000, reason = ''): void {
    this.ws.close(code, reason);
  }

  /** Abrupt drop: no close frame (the client sees 1006). */
  terminate(): void {
    this.ws.terminate();
  }

  private ids(responseId: string, itemId: string) {
    return { response_id: responseId, item_id: itemId, output_index: 0, content_index: 0 };
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    const raw = wsBytes(data);
    let event: any;
    try {
      event = isBinary ? undefined : JSON.parse(raw.toString('utf8'));
    } catch {
      event = undefined;
    }
    if (typeof event !== 'object' || event === null || Array.isArray(event)) {
      event = { type: '__invalid__', raw: isBinary ? raw : raw.toString('utf8') };
    }
    this.received.push(event);
    if (event.type === 'session.update' && this.opts.autoSessionUpdated) this.send(sessionUpdatedFor(event));
    this.waiters.notify();
  }
}
