/**
 * A stand-in for the OpenAI Realtime API that follows a script: the model's side of a scenario.
 * It speaks the way the API does (GA events, mu-law audio deltas faster than real time, tool
 * calls), and hears the caller the way server VAD does: by the energy of the audio appended,
 * speech starting after 100 ms of voice and stopping after the session's silence_duration_ms.
 * Each caller turn it hears gets the script's reply for that turn; the service's own requests
 * (the greeting, check-ins, goodbyes: "say exactly this ...") are spoken as asked. Replies are
 * tone bursts, not words: the plumbing is under test here, not the voice.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import WebSocket, { WebSocketServer, type RawData } from 'ws';
import type { Scheduler, ScheduledTask } from '../common/scheduler';
import { wsText } from '../common/ws-text';
import { rms, toneSpeech, VOICED_RMS } from './audio';

export interface MockToolCall {
  readonly name: string;
  readonly arguments?: Readonly<Record<string, unknown>>;
}

/** What the model does when it answers one caller turn. */
export interface MockReply {
  /** Said first. */
  readonly say?: string;
  /** Called at the end of the response. */
  readonly tools?: readonly MockToolCall[];
  /** Said when the service hands the tools' results back and asks for a response. */
  readonly then?: string;
}

/** The model's side of one call: the reply to each caller turn heard, in order. */
export interface MockScript {
  readonly turns: ReadonlyArray<{ readonly heard: string; readonly reply: MockReply }>;
}

const PATH = '/v1/realtime';
/** Voice this long starts a turn, as server VAD's detector needs some before it decides. */
const SPEECH_START_MS = 100;
/** Audio deltas: 80 ms each, every 40 ms (twice real time, as the API streams). */
const DELTA_BYTES = 640;
const DELTA_EVERY_MS = 40;
/** When the service asks to "say exactly this: "..."", the quoted text. */
const QUOTED = /"([^"]+)"\s*$/;
let sessions = 0;
/** Brisk: a reply takes about as long as said at 500 words a minute, to keep scenario runs short. */
const TONE_MS_PER_WORD = 120;

export class MockModel {
  /** The script the next connection follows (the scenario runner sets it before each call). */
  script: MockScript = { turns: [] };
  private readonly connections = new Set<MockModelConnection>();
  private readonly sockets = new Set<Socket>();
  private readonly wss = new WebSocketServer({ noServer: true, clientTracking: false });

  private constructor(
    private readonly http: Server,
    private readonly scheduler: Scheduler,
  ) {
    http.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      if (new URL(req.url ?? '/', 'http://localhost').pathname !== PATH) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        const conn = new MockModelConnection(ws, this.script, this.scheduler);
        this.connections.add(conn);
        ws.once('close', () => this.connections.delete(conn));
      });
    });
  }

  static async start(scheduler: Scheduler): Promise<MockModel> {
    const http = createServer((_req, res) => res.writeHead(426).end('WebSocket only'));
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(0, '127.0.0.1', () => resolve());
    });
    return new MockModel(http, scheduler);
  }

  /** What to set as the service's OPENAI_REALTIME_URL. */
  get url(): string {
    return `ws://127.0.0.1:${(this.http.address() as AddressInfo).port}${PATH}`;
  }

  async close(): Promise<void> {
    for (const conn of this.connections) conn.close();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}

interface TurnDetection {
  readonly silence_duration_ms?: unknown;
}

/** The parts of the service's client events the mock reads; anything may be missing. */
interface ClientEvent {
  readonly type?: unknown;
  readonly audio?: unknown;
  readonly item_id?: unknown;
  readonly audio_end_ms?: unknown;
  readonly response?: { readonly instructions?: unknown };
  readonly session?: { readonly audio?: { readonly input?: { readonly turn_detection?: TurnDetection } }; readonly turn_detection?: TurnDetection };
}

interface ActiveResponse {
  readonly id: string;
  readonly itemId: string;
  sender: ScheduledTask | null;
}

class MockModelConnection {
  private eventSeq = 0;
  private ids = 0;
  private silenceMs = 500;
  private bufferMs = 0;
  private voicedMs = 0;
  private quietMs = 0;
  private speaking = false;
  private userItem = '';
  private turn = 0;
  private active: ActiveResponse | null = null;
  private pendingThen: string | null = null;

  constructor(
    private readonly ws: WebSocket,
    private readonly script: MockScript,
    private readonly scheduler: Scheduler,
  ) {
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (!isBinary) this.onEvent(wsText(data));
    });
    ws.on('error', () => undefined);
    ws.once('close', () => this.stopSending());
    this.send({ type: 'session.created', session: { type: 'realtime', object: 'realtime.session', id: `sess_mock_${++sessions}`, model: 'mock' } });
  }

  close(): void {
    this.stopSending();
    this.ws.terminate();
  }

  private onEvent(text: string): void {
    let event: ClientEvent;
    try {
      event = JSON.parse(text) as ClientEvent;
    } catch {
      return;
    }
    switch (event.type) {
      case 'session.update': {
        const vad = event.session?.audio?.input?.turn_detection ?? event.session?.turn_detection;
        if (typeof vad?.silence_duration_ms === 'number') this.silenceMs = vad.silence_duration_ms;
        this.send({ type: 'session.updated', session: event.session });
        break;
      }
      case 'input_audio_buffer.append':
        if (typeof event.audio === 'string') this.hear(Buffer.from(event.audio, 'base64'));
        break;
      case 'response.create':
        this.respondTo(event.response?.instructions);
        break;
      case 'response.cancel':
        this.cancel();
        break;
      case 'conversation.item.truncate':
        this.send({ type: 'conversation.item.truncated', item_id: event.item_id, content_index: 0, audio_end_ms: event.audio_end_ms });
        break;
      default:
        break;
    }
  }

  /** Server VAD by energy: 20 ms frames at a time. */
  private hear(audio: Buffer): void {
    const ms = audio.length / 8;
    this.bufferMs += ms;
    const voiced = rms(audio) > VOICED_RMS;
    if (!this.speaking) {
      this.voicedMs = voiced ? this.voicedMs + ms : 0;
      if (this.voicedMs >= SPEECH_START_MS) {
        this.speaking = true;
        this.quietMs = 0;
        this.userItem = this.nextId('item_user');
        this.send({ type: 'input_audio_buffer.speech_started', audio_start_ms: Math.round(this.bufferMs - this.voicedMs), item_id: this.userItem });
      }
      return;
    }
    this.quietMs = voiced ? 0 : this.quietMs + ms;
    if (this.quietMs < this.silenceMs) return;
    this.speaking = false;
    this.voicedMs = 0;
    const item = this.userItem;
    this.send({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: Math.round(this.bufferMs - this.quietMs), item_id: item });
    this.send({ type: 'input_audio_buffer.committed', item_id: item, previous_item_id: null });
    const scripted = this.script.turns[this.turn++];
    this.send({ type: 'conversation.item.input_audio_transcription.completed', item_id: item, content_index: 0, transcript: scripted?.heard ?? '' });
    // create_response: the server answers the turn itself.
    if (scripted) this.reply(scripted.reply);
  }

  private respondTo(instructions: unknown): void {
    if (this.active) {
      this.send({ type: 'error', error: { type: 'invalid_request_error', code: 'conversation_already_has_active_response', message: 'Conversation already has an active response', param: null, event_id: null } });
      return;
    }
    if (typeof instructions === 'string' && instructions) {
      this.reply({ say: QUOTED.exec(instructions)?.[1] ?? instructions });
      return;
    }
    const then = this.pendingThen;
    this.pendingThen = null;
    this.reply({ say: then ?? 'Alright.' });
  }

  private reply(reply: MockReply): void {
    if (this.active) this.cancel();
    const response: ActiveResponse = { id: this.nextId('resp'), itemId: this.nextId('item'), sender: null };
    this.active = response;
    this.send({ type: 'response.created', response: { object: 'realtime.response', id: response.id, status: 'in_progress', status_details: null, output: [], usage: null } });
    const finish = (): void => {
      for (const [i, tool] of (reply.tools ?? []).entries()) {
        this.send({
          type: 'response.function_call_arguments.done',
          response_id: response.id,
          item_id: this.nextId('item_fc'),
          output_index: i + 1,
          call_id: this.nextId('call'),
          name: tool.name,
          arguments: JSON.stringify(tool.arguments ?? {}),
        });
      }
      if (reply.tools?.length) this.pendingThen = reply.then ?? null;
      this.done(response, 'completed');
    };
    if (!reply.say) {
      finish();
      return;
    }
    const text = reply.say;
    const audio = toneSpeech(text, 220, TONE_MS_PER_WORD);
    const ids = { response_id: response.id, item_id: response.itemId, output_index: 0, content_index: 0 };
    this.send({ type: 'response.output_item.added', response_id: response.id, output_index: 0, item: { id: response.itemId, object: 'realtime.item', type: 'message', status: 'in_progress', role: 'assistant', content: [] } });
    this.send({ type: 'conversation.item.added', previous_item_id: null, item: { id: response.itemId, object: 'realtime.item', type: 'message', status: 'in_progress', role: 'assistant', content: [] } });
    let offset = 0;
    const words = text.match(/\S+\s*/g) ?? [];
    let wordsSent = 0;
    const sendChunk = (): void => {
      if (this.active !== response) return;
      if (offset < audio.length) {
        this.send({ type: 'response.output_audio.delta', ...ids, delta: audio.subarray(offset, offset + DELTA_BYTES).toString('base64') });
        offset += DELTA_BYTES;
        // The words go along with their audio, as the API streams them: a cut reply keeps what was heard.
        const wordsSpoken = Math.min(words.length, Math.ceil((offset / audio.length) * words.length));
        if (wordsSpoken > wordsSent) {
          this.send({ type: 'response.output_audio_transcript.delta', ...ids, delta: words.slice(wordsSent, wordsSpoken).join('') });
          wordsSent = wordsSpoken;
        }
        return;
      }
      response.sender?.cancel();
      response.sender = null;
      this.send({ type: 'response.output_audio.done', ...ids });
      this.send({ type: 'response.output_audio_transcript.done', ...ids, transcript: text });
      this.send({ type: 'response.output_item.done', response_id: response.id, output_index: 0, item: { id: response.itemId, object: 'realtime.item', type: 'message', status: 'completed', role: 'assistant', content: [] } });
      finish();
    };
    sendChunk();
    response.sender = this.scheduler.every(DELTA_EVERY_MS, sendChunk);
  }

  private cancel(): void {
    const response = this.active;
    if (!response) {
      this.send({ type: 'error', error: { type: 'invalid_request_error', code: 'response_cancel_not_active', message: 'Cancellation failed: no active response found', param: null, event_id: null } });
      return;
    }
    this.done(response, 'cancelled');
  }

  private done(response: ActiveResponse, status: 'completed' | 'cancelled'): void {
    response.sender?.cancel();
    response.sender = null;
    if (this.active === response) this.active = null;
    this.send({
      type: 'response.done',
      response: {
        object: 'realtime.response',
        id: response.id,
        status,
        status_details: status === 'cancelled' ? { type: 'cancelled', reason: 'turn_detected' } : null,
        output: [],
        usage: { total_tokens: 0, input_tokens: 0, output_tokens: 0, input_token_details: { text_tokens: 0, audio_tokens: 0, cached_tokens: 0 }, output_token_details: { text_tokens: 0, audio_tokens: 0 } },
      },
    });
  }

  private stopSending(): void {
    this.active?.sender?.cancel();
    this.active = null;
  }

  private nextId(prefix: string): string {
    return `${prefix}_${++this.ids}`;
  }

  private send(event: Record<string, unknown>): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    const { type, ...rest } = event;
    this.ws.send(JSON.stringify({ type, event_id: `event_${++this.eventSeq}`, ...rest }));
  }
}
