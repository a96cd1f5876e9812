import { createWriteStream } from 'node:fs';
import { basename } from 'node:path';
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { BLOCK_ALIGN, MULAW_SILENCE, SAMPLES_PER_MS, WAV_HEADER_BYTES, finalizeWav, repairWav, wavHeader } from './wav';

export interface CallRecorderOptions {
  /**
   * Timeline written per batch. Each write costs a thread-pool round trip, which under load costs
   * more than the audio relay itself, so the disk sees one write a second per call.
   */
  readonly batchMs: number;
  /**
   * How far the writer stays behind the newest caller audio, so agent audio or a clear stamped a
   * little behind the caller's media clock still lands where it belongs instead of at the cursor.
   */
  readonly holdBackMs: number;
  /** Agent audio queued further than this ahead of the write cursor is dropped (memory bound). */
  readonly maxAgentQueueMs: number;
  /** A caller timestamp further than this past the caller audio so far is taken as bogus. */
  readonly maxCallerJumpMs: number;
  /** Bytes waiting for the disk beyond which the recording is abandoned (memory bound). */
  readonly maxBacklogBytes: number;
  /** Opens the output. The default refuses to overwrite an existing file. */
  readonly openStream: (path: string) => Writable;
}

export const DEFAULT_RECORDER_OPTIONS: CallRecorderOptions = {
  batchMs: 1000,
  holdBackMs: 200,
  maxAgentQueueMs: 3 * 60_000,
  maxCallerJumpMs: 60_000,
  maxBacklogBytes: 4 * 1024 * 1024,
  openStream: (path) => createWriteStream(path, { flags: 'wx' }),
};

/** Keeps the file far below the 4 GiB a WAV header can describe. */
const MAX_TIMELINE_MS = 24 * 3_600_000;
/** Largest single write: one second of stereo audio. */
const CHUNK_SAMPLES = 1000 * SAMPLES_PER_MS;
/** An empty track buffer larger than this is replaced by a small one. */
const SHRINK_ABOVE_BYTES = 16 * 1024;
/** Growth step of a track buffer: one second of audio. */
const GROW_BY_BYTES = 1000 * SAMPLES_PER_MS;
/** Slack for caller frames that arrive a little ahead of the newest one. */
const CALLER_SLACK_BYTES = 4 * 160;

type State = 'recording' | 'closing' | 'closed' | 'failed';

/**
 * Write buffers shared by every recorder: one is taken for a write and given back once the disk
 * has taken it (a few milliseconds), so a call holds none between its writes, a second apart.
 */
const spareWriteBuffers: Buffer[] = [];
const MAX_SPARE_WRITE_BUFFERS = 64;

function takeWriteBuffer(): Buffer {
  return spareWriteBuffers.pop() ?? Buffer.allocUnsafe(CHUNK_SAMPLES * BLOCK_ALIGN);
}

function giveBackWriteBuffer(buffer: Buffer): void {
  if (spareWriteBuffers.length < MAX_SPARE_WRITE_BUFFERS) spareWriteBuffers.push(buffer);
}

/**
 * One channel's audio from the write cursor onwards: byte i is the sample i frames after the
 * cursor. Everything past the written extent is silence, so gaps need no work.
 */
class Track {
  private buf: Buffer;
  private head = 0;
  private len = 0;

  constructor(private readonly initialBytes: number) {
    this.buf = Buffer.alloc(initialBytes, MULAW_SILENCE);
  }

  /** Samples held, counted from the cursor (including silent gaps inside). */
  get length(): number {
    return this.len;
  }

  /** Copies `data` to `rel` samples after the cursor; the caller's buffer is not kept. */
  put(rel: number, data: Buffer): void {
    this.reserve(rel + data.length);
    data.copy(this.buf, this.head + rel);
    if (rel + data.length > this.len) this.len = rel + data.length;
  }

  /** As put(), decoding `base64` (of `length` bytes) straight into place: nothing is allocated. */
  putBase64(rel: number, base64: string, length: number): void {
    this.reserve(rel + length);
    this.buf.write(base64, this.head + rel, length, 'base64');
    if (rel + length > this.len) this.len = rel + length;
  }

  /** Silences everything from `rel` samples after the cursor on. */
  truncate(rel: number): void {
    if (rel >= this.len) return;
    this.buf.fill(MULAW_SILENCE, this.head + rel, this.head + this.len);
    this.len = rel;
  }

  /** The next `n` samples, then moves the cursor past them. The view is valid until the next call. */
  take(n: number): Buffer {
    // A long agent answer grew the buffer: give the memory back once it has all been written.
    if (this.len === 0 && this.buf.length > SHRINK_ABOVE_BYTES) {
      this.buf = Buffer.alloc(this.initialBytes, MULAW_SILENCE);
      this.head = 0;
    }
    this.reserve(n);
    const view = this.buf.subarray(this.head, this.head + n);
    this.head += n;
    this.len = Math.max(0, this.len - n);
    return view;
  }

  dispose(): void {
    this.buf = Buffer.alloc(0);
    this.head = this.len = 0;
  }

  private reserve(need: number): void {
    if (this.head + need <= this.buf.length) return;
    if (need <= this.buf.length) {
      // Slide the live bytes to the front: at most one batch's hold-back per batch written.
      this.buf.copyWithin(0, this.head, this.head + this.len);
      this.buf.fill(MULAW_SILENCE, this.len, this.head + this.len);
    } else {
      // Room for what is needed plus a second: an answer arriving ahead of playback grows the
      // buffer a second at a time rather than doubling it.
      const next = Buffer.alloc(need + GROW_BY_BYTES, MULAW_SILENCE);
      this.buf.copy(next, 0, this.head, this.head + this.len);
      this.buf = next;
    }
    this.head = 0;
  }
}

/**
 * Records one call as a stereo mu-law WAV, caller left and agent right, on the call's media
 * timeline (ms since the Twilio media stream started), streaming it to disk as the call goes.
 *
 * The file is written in batches behind the newest caller audio, because only then are both
 * channels final: the caller channel up to the newest frame, the agent channel once nothing
 * sent later can still be scheduled there. The caller's media clock drives the writer since
 * Twilio sends inbound frames throughout the call.
 *
 * The audio-path methods never throw and do no per-frame I/O: a disk error is logged once and
 * the rest of the call goes unrecorded. The header carries size 0 until the call ends, so a file
 * left by a crash is recognisable and repaired at the next boot.
 */
export class CallRecorder {
  /** '<callSid>.wav' */
  readonly fileName: string;
  /** Resolves once finish() or abort() has closed the file (never rejects). */
  readonly closed: Promise<void>;

  private readonly opts: CallRecorderOptions;
  private readonly batchSamples: number;
  private readonly holdBackSamples: number;
  private readonly maxAgentQueue: number;
  private readonly maxCallerJump: number;
  private stream: Writable | null = null;
  private readonly streamClosed: Promise<void>;
  private opened = false;
  private state: State = 'recording';
  private settling = false;
  private resolveClosed!: () => void;

  private readonly caller: Track;
  private readonly agent = new Track(4 * 1024);
  /** Sample frames written to the file. */
  private cursor = 0;
  /** End of the newest caller audio, in sample frames. */
  private callerEnd = 0;
  /** End of Twilio's playback queue, in sample frames (may run past what is kept). */
  private agentEnd = 0;
  private batches = 0;
  /** Agent samples dropped at the maxAgentQueueMs bound: warned about once, counted in 'recording saved'. */
  private agentDropped = 0;
  private warnedJump = false;

  constructor(
    readonly path: string,
    private readonly log: Logger,
    options: Partial<CallRecorderOptions> = {},
  ) {
    this.fileName = basename(path);
    this.opts = { ...DEFAULT_RECORDER_OPTIONS, ...options };
    this.batchSamples = Math.max(1, Math.round(this.opts.batchMs * SAMPLES_PER_MS));
    this.holdBackSamples = Math.max(0, Math.round(this.opts.holdBackMs * SAMPLES_PER_MS));
    this.maxAgentQueue = Math.max(0, Math.round(this.opts.maxAgentQueueMs * SAMPLES_PER_MS));
    this.maxCallerJump = Math.max(0, Math.round(this.opts.maxCallerJumpMs * SAMPLES_PER_MS));
    // Sized for what it holds between writes (a batch plus the hold-back), so it never grows.
    this.caller = new Track(this.batchSamples + this.holdBackSamples + CALLER_SLACK_BYTES);
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));

    let streamDone!: () => void;
    this.streamClosed = new Promise((resolve) => (streamDone = resolve));
    try {
      const stream = this.opts.openStream(path);
      this.stream = stream;
      stream.on('error', (err) => this.fail(err));
      stream.once('open', () => (this.opened = true));
      stream.once('close', () => streamDone());
      stream.write(wavHeader());
    } catch (err) {
      streamDone();
      this.fail(err);
    }
  }

  /** Bytes held in memory: audio not yet written plus writes the disk has not taken yet. */
  get bufferedBytes(): number {
    const pending = this.stream && (this.state === 'recording' || this.state === 'closing') ? this.stream.writableLength : 0;
    return this.caller.length + this.agent.length + pending;
  }

  /** Timeline written to the file so far, in ms. */
  get writtenMs(): number {
    return this.cursor / SAMPLES_PER_MS;
  }

  /** Audio writes issued so far (the header not counted). */
  get batchesWritten(): number {
    return this.batches;
  }

  /** Whether a disk error ended the recording. */
  get failed(): boolean {
    return this.state === 'failed';
  }

  /** A caller frame at its Twilio media timestamp. */
  callerAudio(timestampMs: number, mulaw: Buffer): void {
    const start = this.callerStart(timestampMs, mulaw.length);
    if (start < 0) return;
    try {
      const skip = Math.max(0, this.cursor - start);
      this.caller.put(start + skip - this.cursor, skip > 0 ? mulaw.subarray(skip) : mulaw);
      this.callerPlaced(start + mulaw.length);
    } catch (err) {
      this.fail(err);
    }
  }

  /**
   * A caller frame as Twilio sent it, base64: decoded straight into the recording's buffer, so the
   * audio path allocates nothing per frame for the recording.
   */
  callerAudioBase64(timestampMs: number, base64: string): void {
    const length = Buffer.byteLength(base64, 'base64');
    const start = this.callerStart(timestampMs, length);
    if (start < 0) return;
    try {
      const skip = Math.max(0, this.cursor - start);
      // Partly written already (late or repeated): rare, so the simple way.
      if (skip > 0) this.caller.put(start + skip - this.cursor, Buffer.from(base64, 'base64').subarray(skip));
      else this.caller.putBase64(start - this.cursor, base64, length);
      this.callerPlaced(start + length);
    } catch (err) {
      this.fail(err);
    }
  }

  /** Where a caller frame of `length` samples at `timestampMs` starts, or -1 when it is not kept. */
  private callerStart(timestampMs: number, length: number): number {
    if (this.state !== 'recording') return -1;
    if (!(timestampMs >= 0 && timestampMs <= MAX_TIMELINE_MS)) return -1;
    const start = Math.round(timestampMs * SAMPLES_PER_MS);
    // Late or repeated: that stretch is on disk already.
    if (start + length <= this.cursor) return -1;
    if (start - Math.max(this.callerEnd, this.cursor) > this.maxCallerJump) {
      if (!this.warnedJump) {
        this.warnedJump = true;
        this.log.warn({ fileName: this.fileName, timestampMs, writtenMs: this.writtenMs }, 'recording ignores caller audio stamped far ahead of the call');
      }
      return -1;
    }
    return start;
  }

  private callerPlaced(end: number): void {
    if (end > this.callerEnd) this.callerEnd = end;
    this.pump();
  }

  /**
   * Agent audio sent to the caller at `atMs` (call timeline): base64 mu-law of `length` bytes,
   * decoded straight into place. Queued after the agent audio before it, as Twilio plays it.
   */
  agentAudio(atMs: number, base64: string, length: number): void {
    if (this.state !== 'recording' || length === 0) return;
    try {
      if (!(Math.abs(atMs) <= MAX_TIMELINE_MS)) return;
      // Never before the cursor either: Twilio cannot play audio in the past.
      const start = Math.max(Math.round(atMs * SAMPLES_PER_MS), this.agentEnd, this.cursor);
      this.agentEnd = start + length;
      const keep = Math.min(length, this.cursor + this.maxAgentQueue - start);
      if (keep < length && this.agentDropped === 0) {
        this.log.warn(
          { fileName: this.fileName, maxAgentQueueMs: this.opts.maxAgentQueueMs, writtenMs: this.writtenMs },
          'recording drops agent audio queued too far ahead',
        );
      }
      if (keep < length) this.agentDropped += length - Math.max(keep, 0);
      if (keep === length) this.agent.putBase64(start - this.cursor, base64, length);
      // Over the queue bound: rare, so the simple way.
      else if (keep > 0) this.agent.put(start - this.cursor, Buffer.from(base64, 'base64').subarray(0, keep));
    } catch (err) {
      this.fail(err);
    }
  }

  agentCleared(atMs: number): void {
    if (this.state !== 'recording') return;
    try {
      if (!(Math.abs(atMs) <= MAX_TIMELINE_MS)) return;
      const at = Math.max(Math.round(atMs * SAMPLES_PER_MS), this.cursor);
      if (this.agentEnd <= at) return;
      this.agent.truncate(at - this.cursor);
      this.agentEnd = at;
    } catch (err) {
      this.fail(err);
    }
  }

  /**
   * Writes the call up to `durationMs` (silence where neither side has audio, agent audio beyond
   * it cut), closes the file and writes its final sizes. Resolves once on disk; never rejects.
   */
  finish(durationMs: number): Promise<void> {
    const end = Number.isFinite(durationMs)
      ? Math.round(Math.min(Math.max(durationMs, 0), MAX_TIMELINE_MS) * SAMPLES_PER_MS)
      : Math.max(this.cursor, this.callerEnd);
    void this.settle(end, 'finished');
    return this.closed;
  }

  /** The call ended abnormally: keeps the audio up to the newest caller frame and closes the file. */
  abort(): void {
    void this.settle(Math.max(this.cursor, this.callerEnd), 'aborted');
  }

  /** Writes what both channels have settled, once a batch is due. */
  private pump(): void {
    const horizon = this.callerEnd - this.holdBackSamples;
    if (horizon - this.cursor < this.batchSamples) return;
    while (this.cursor < horizon && this.state === 'recording') this.writeChunk(Math.min(horizon - this.cursor, CHUNK_SAMPLES));
    const backlog = this.stream?.writableLength ?? 0;
    if (backlog > this.opts.maxBacklogBytes) {
      this.fail(Object.assign(new Error(`disk too slow: ${backlog} bytes waiting`), { code: 'EBACKLOG' }));
    }
  }

  private writeChunk(n: number): void {
    const left = this.caller.take(n);
    const right = this.agent.take(n);
    const buffer = takeWriteBuffer();
    const out = buffer.subarray(0, n * BLOCK_ALIGN);
    for (let i = 0, j = 0; i < n; i++, j += 2) {
      out[j] = left[i];
      out[j + 1] = right[i];
    }
    this.cursor += n;
    this.batches++;
    this.stream!.write(out, () => giveBackWriteBuffer(buffer));
  }

  private async settle(end: number, how: 'finished' | 'aborted'): Promise<void> {
    if (this.settling) return;
    this.settling = true;
    try {
      if (this.state === 'recording') {
        this.state = 'closing';
        while (this.cursor < end && this.isClosing()) {
          this.writeChunk(Math.min(end - this.cursor, CHUNK_SAMPLES));
          if (this.stream!.writableNeedDrain) await this.drained();
        }
        this.caller.dispose();
        this.agent.dispose();
        if (this.isClosing()) this.stream!.end();
      }
      await this.streamClosed;
      if (this.isClosing()) {
        const dataBytes = Math.min(this.cursor, end) * BLOCK_ALIGN;
        await finalizeWav(this.path, dataBytes);
        this.state = 'closed';
        this.log.info({ fileName: this.fileName, how, durationMs: dataBytes / BLOCK_ALIGN / SAMPLES_PER_MS, bytes: WAV_HEADER_BYTES + dataBytes, agentAudioDroppedMs: this.agentDropped / SAMPLES_PER_MS }, 'recording saved');
      } else if (this.opened) {
        // Keep whatever reached the disk playable.
        await repairWav(this.path).catch(() => false);
      }
    } catch (err) {
      this.fail(err);
    } finally {
      this.resolveClosed();
    }
  }

  /** Re-reads the state, which changes across awaits and error events. */
  private isClosing(): boolean {
    return this.state === 'closing';
  }

  private drained(): Promise<void> {
    const stream = this.stream!;
    return new Promise((resolve) => {
      const done = (): void => {
        stream.off('drain', done);
        stream.off('close', done);
        resolve();
      };
      stream.on('drain', done);
      stream.on('close', done);
    });
  }

  private fail(err: unknown): void {
    if (this.state === 'failed' || this.state === 'closed') return;
    this.state = 'failed';
    this.log.error({ err, fileName: this.fileName }, 'recording failed; the rest of this call is not recorded');
    this.caller.dispose();
    this.agent.dispose();
    this.stream?.destroy();
  }
}
