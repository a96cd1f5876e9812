import { execFileSync, spawnSync } from 'node:child_process';
import {
  closeSync,
  createWriteStream,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  watch,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import pino from 'pino';
import { LogCapture } from '../../test/support/log-capture';
import { testAudio as audio } from '../../test/support/test-audio';
import { CallRecorder, type CallRecorderOptions } from './call-recorder';
import { parseWavHeader } from './wav';

/** Agent audio as the recorder takes it: base64 and its length in bytes. */
const b64 = (bytes: Buffer): [string, number] => [bytes.toString('base64'), bytes.length];

const SID = 'CA0123456789abcdef0123456789abcdef';
const FRAME = 160;
const SILENT = 0xff;

type LogLine = LogCapture['lines'][number];

function capture(): { logger: pino.Logger; logs: LogCapture } {
  const logs = new LogCapture();
  const logger = pino({ level: 'debug', formatters: { level: (label) => ({ level: label }) } }, logs);
  return { logger, logs };
}

/**
 * An output the test runs in place of the file stream. The stream hands it one write at a time;
 * each goes into the file at `path` at once, so the file shows what the disk has taken, and is
 * acknowledged at once or, while holding, when the test calls release(). Past `failAfterBytes`
 * written, writes fail with ENOSPC. Like a file stream it emits 'open' (at the first write, when
 * the recorder listens) and 'close'.
 */
function testDisk(path: string, options: { holding?: boolean; failAfterBytes?: number } = {}) {
  const fd = openSync(path, 'wx');
  const acks: Array<() => void> = [];
  let holding = options.holding ?? false;
  let bytes = 0;
  let opened = false;
  const stream = new Writable({
    write(chunk: Buffer, _encoding, cb) {
      if (!opened) {
        opened = true;
        this.emit('open', fd);
      }
      if (options.failAfterBytes !== undefined && bytes > options.failAfterBytes) {
        cb(Object.assign(new Error('disk full'), { code: 'ENOSPC' }));
        return;
      }
      for (let at = 0; at < chunk.length; ) at += writeSync(fd, chunk, at);
      bytes += chunk.length;
      if (holding) acks.push(() => cb());
      else cb();
    },
    destroy(err, cb) {
      closeSync(fd);
      cb(err);
    },
  });
  return {
    stream,
    /** Acknowledges the writes held, and those the stream hands over meanwhile. */
    release(): void {
      while (acks.length > 0) acks.shift()!();
    },
    /** Acknowledges every write from now on at once. */
    flow(): void {
      holding = false;
      this.release();
    },
  };
}

/**
 * Resolves once `check()` holds, checking again at each change inotify reports in the file's
 * directory: the file is written by Node's thread pool, and nothing else says when it has been.
 */
async function whenOnDisk(path: string, check: () => boolean): Promise<void> {
  const watcher = watch(dirname(path));
  try {
    while (!check()) await once(watcher, 'change');
  } finally {
    watcher.close();
  }
}

/** The file's two channels, de-interleaved. */
function channels(path: string): { left: Buffer; right: Buffer; samples: number; file: Buffer } {
  const file = readFileSync(path);
  const h = parseWavHeader(file)!;
  expect(h).not.toBeNull();
  expect(h.dataSize).toBe(file.length - h.dataOffset);
  expect(h.riffSize).toBe(file.length - 8);
  const data = file.subarray(h.dataOffset);
  const samples = data.length / 2;
  const left = Buffer.alloc(samples);
  const right = Buffer.alloc(samples);
  for (let i = 0; i < samples; i++) {
    left[i] = data[2 * i];
    right[i] = data[2 * i + 1];
  }
  return { left, right, samples, file };
}

function expectSilent(buf: Buffer, from = 0, to = buf.length): void {
  const firstNonSilent = buf.subarray(from, to).findIndex((b) => b !== SILENT);
  expect(firstNonSilent === -1 ? -1 : from + firstNonSilent).toBe(-1);
}

describe('CallRecorder', () => {
  let dir: string;
  let path: string;
  let logs: LogCapture;
  let lines: LogLine[];
  let logger: pino.Logger;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'recorder-spec-'));
    path = join(dir, `${SID}.wav`);
    ({ logger, logs } = capture());
    lines = logs.lines;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const recorder = (options: Partial<CallRecorderOptions> = {}): CallRecorder => new CallRecorder(path, logger, options);

  /** Caller frames every 20 ms over [fromMs, toMs), each with its own content. */
  function feedCaller(rec: CallRecorder, fromMs: number, toMs: number, skip: (ms: number) => boolean = () => false): Map<number, Buffer> {
    const sent = new Map<number, Buffer>();
    for (let t = fromMs; t < toMs; t += 20) {
      if (skip(t)) continue;
      const frame = audio(FRAME, t + 1);
      sent.set(t, frame);
      rec.callerAudio(t, frame);
    }
    return sent;
  }

  it('is named after the call', async () => {
    const rec = recorder();
    expect(rec.fileName).toBe(`${SID}.wav`);
    await rec.finish(0);
  });

  it('records caller frames given as base64 exactly as the same frames decoded', async () => {
    const other = join(dir, 'CA' + 'f'.repeat(32) + '.wav');
    const fromBuffers = new CallRecorder(path, logger, { batchMs: 200 });
    const fromBase64 = new CallRecorder(other, logger, { batchMs: 200 });
    const feed = (t: number, frame: Buffer): void => {
      fromBuffers.callerAudio(t, frame);
      fromBase64.callerAudioBase64(t, frame.toString('base64'));
    };
    for (let t = 0; t < 3000; t += 20) {
      feed(t, audio(FRAME, t + 1));
      if (t === 1500) feed(10, audio(FRAME, 7)); // late: already written
      if (t === 2000) feed(fromBuffers.writtenMs - 10, audio(FRAME, 9)); // half written already
      if (t === 2500) feed(t + 10, audio(FRAME + 80, 11)); // overlapping, longer
      if (t === 2600) feed(10 * 60_000, audio(FRAME, 13)); // far ahead: ignored
    }
    fromBuffers.agentAudio(400, ...b64(audio(4000, 5)));
    fromBase64.agentAudio(400, ...b64(audio(4000, 5)));
    await Promise.all([fromBuffers.finish(3000), fromBase64.finish(3000)]);
    expect(readFileSync(other).equals(readFileSync(path))).toBe(true);
    expect(channels(other).samples).toBe(24_000);
  });

  describe('alignment', () => {
    it('puts a caller frame stamped t at sample t*8 of the left channel and nowhere else', async () => {
      const rec = recorder();
      const frame = audio(FRAME, 42);
      rec.callerAudio(1000, frame);
      await rec.finish(2000);

      const { left, right, samples } = channels(path);
      expect(samples).toBe(16_000);
      expect(left.subarray(8000, 8000 + FRAME).equals(frame)).toBe(true);
      expectSilent(left, 0, 8000);
      expectSilent(left, 8000 + FRAME);
      expectSilent(right);
    });

    it('keeps a stream of caller frames in place, with missing frames as silence on both channels', async () => {
      const rec = recorder();
      const missing = (t: number): boolean => t >= 1000 && t < 1200;
      const sent = feedCaller(rec, 0, 3000, missing);
      await rec.finish(3000);

      const { left, right } = channels(path);
      for (let t = 0; t < 3000; t += 20) {
        const at = t * 8;
        if (missing(t)) expectSilent(left, at, at + FRAME);
        else expect(left.subarray(at, at + FRAME).equals(sent.get(t)!)).toBe(true);
      }
      expectSilent(right);
    });

    it('puts agent audio sent at t at sample t*8 of the right channel', async () => {
      const rec = recorder();
      const tone = audio(800, 7);
      rec.agentAudio(500, ...b64(tone));
      await rec.finish(1000);

      const { left, right } = channels(path);
      expect(right.subarray(4000, 4800).equals(tone)).toBe(true);
      expectSilent(right, 0, 4000);
      expectSilent(right, 4800);
      expectSilent(left);
    });

    it('queues agent audio sent while earlier audio still plays, drops what a clear cut, and starts afresh after', async () => {
      const rec = recorder();
      const a = audio(800, 1); // 500..600 ms
      const b = audio(1600, 2); // sent at 520, queued: 600..800 ms
      const c = audio(FRAME, 3); // sent at 700 after the clear at 650: plays at 700
      const d = audio(FRAME, 4); // sent at 2000, long after the queue ran dry
      rec.agentAudio(500, ...b64(a));
      rec.agentAudio(520, ...b64(b));
      rec.agentCleared(650);
      rec.agentAudio(700, ...b64(c));
      rec.agentAudio(2000, ...b64(d));
      await rec.finish(3000);

      const { right } = channels(path);
      expectSilent(right, 0, 4000);
      expect(right.subarray(4000, 4800).equals(a)).toBe(true);
      // b started right after a, not at its send time (520 ms = 4160), and was cut at 650 ms.
      expect(right.subarray(4800, 5200).equals(b.subarray(0, 400))).toBe(true);
      expectSilent(right, 5200, 5600);
      expect(right.subarray(5600, 5760).equals(c)).toBe(true);
      expectSilent(right, 5760, 16_000);
      expect(right.subarray(16_000, 16_160).equals(d)).toBe(true);
      expectSilent(right, 16_160);
    });

    it('keeps both channels aligned while the file is written during the call', async () => {
      // Small batches, so the file is written many times while both channels change; the disk takes
      // each write at once, so every batch is built in the buffer the one before used.
      const rec = recorder({ batchMs: 200, openStream: (p) => testDisk(p).stream });
      const answer = audio(8000, 9); // 1 s, sent in one burst at 1000 ms as Realtime does
      const second = audio(8000, 10); // sent at 1500 ms: queued to 2000 ms, then barged in on at 2400 ms
      let sent = new Map<number, Buffer>();
      for (let t = 0; t < 4000; t += 20) {
        if (t === 1000) rec.agentAudio(t, ...b64(answer));
        if (t === 1500) rec.agentAudio(t, ...b64(second));
        if (t === 2400) rec.agentCleared(t);
        sent = new Map([...sent, ...feedCaller(rec, t, t + 20)]);
      }
      expect(rec.batchesWritten).toBeGreaterThan(5);
      await rec.finish(4000);

      const { left, right, samples } = channels(path);
      expect(samples).toBe(32_000);
      for (const [t, frame] of sent) expect(left.subarray(t * 8, t * 8 + FRAME).equals(frame)).toBe(true);
      expectSilent(right, 0, 8000);
      expect(right.subarray(8000, 16_000).equals(answer)).toBe(true);
      expect(right.subarray(16_000, 19_200).equals(second.subarray(0, 3200))).toBe(true);
      expectSilent(right, 19_200);
    });

    it('drops caller audio that arrives for a stretch already written, without corrupting the file', async () => {
      const rec = recorder({ batchMs: 200 });
      const sent = feedCaller(rec, 0, 2000);
      const cursor = rec.writtenMs;
      expect(cursor).toBeGreaterThan(1000);

      rec.callerAudio(0, audio(FRAME, 999)); // late
      rec.callerAudio(cursor - FRAME / 8, audio(FRAME, 998)); // ends exactly at the cursor
      const straddling = audio(FRAME, 997); // half before the cursor, half after
      rec.callerAudio(cursor - 10, straddling);
      await rec.finish(2000);

      const { left, samples } = channels(path);
      expect(samples).toBe(16_000);
      const at = cursor * 8;
      for (const [t, frame] of sent) {
        if (t * 8 + FRAME <= at) expect(left.subarray(t * 8, t * 8 + FRAME).equals(frame)).toBe(true);
      }
      expect(left.subarray(at, at + 80).equals(straddling.subarray(80))).toBe(true);
    });

    it('places agent audio stamped before the written stretch at the cursor: Twilio cannot play the past', async () => {
      const rec = recorder();
      feedCaller(rec, 0, 2000);
      const cursor = rec.writtenMs;
      const late = audio(FRAME, 5);
      rec.agentAudio(100, ...b64(late));
      await rec.finish(2000);
      const { right } = channels(path);
      expect(right.subarray(cursor * 8, cursor * 8 + FRAME).equals(late)).toBe(true);
      expectSilent(right, 0, cursor * 8);
    });

    it('stays aligned after a long answer has been written out and its memory released', async () => {
      const rec = recorder();
      const long = audio(160_000, 1); // 20 s
      const later = audio(1600, 2);
      rec.agentAudio(0, ...b64(long));
      feedCaller(rec, 0, 25_000);
      rec.agentAudio(25_000, ...b64(later));
      feedCaller(rec, 25_000, 26_000);
      await rec.finish(26_000);
      const { right } = channels(path);
      expect(right.subarray(0, 160_000).equals(long)).toBe(true);
      expectSilent(right, 160_000, 200_000);
      expect(right.subarray(200_000, 201_600).equals(later)).toBe(true);
      expectSilent(right, 201_600);
    });

    it('copies what it keeps: the caller may reuse its buffers', async () => {
      const rec = recorder();
      const reused = Buffer.alloc(FRAME);
      audio(FRAME, 1).copy(reused);
      rec.callerAudio(0, reused);
      rec.agentAudio(0, ...b64(reused));
      reused.fill(0x00);
      await rec.finish(40);
      const { left, right } = channels(path);
      expect(left.subarray(0, FRAME).equals(audio(FRAME, 1))).toBe(true);
      expect(right.subarray(0, FRAME).equals(audio(FRAME, 1))).toBe(true);
    });
  });

  describe('duration', () => {
    const samplesOf = (p: string): number => (statSync(p).size - 44) / 2;

    it('pads both channels with silence when the caller frames stop early', async () => {
      const rec = recorder();
      feedCaller(rec, 0, 1000);
      await rec.finish(5000);
      const { left, right, samples } = channels(path);
      expect(samples).toBe(40_000);
      expectSilent(left, 8000);
      expectSilent(right);
    });

    it('cuts agent audio scheduled beyond the end', async () => {
      const rec = recorder();
      const long = audio(80_000, 3); // 10 s
      rec.agentAudio(0, ...b64(long));
      feedCaller(rec, 0, 1000);
      await rec.finish(3000);
      const { right, samples } = channels(path);
      expect(samples).toBe(24_000);
      expect(right.equals(long.subarray(0, 24_000))).toBe(true);
    });

    it('rounds the duration to whole samples', async () => {
      const rec = recorder();
      await rec.finish(1234.56);
      expect(samplesOf(path)).toBe(9876);
    });

    it('cuts what was already written beyond a shorter duration', async () => {
      const rec = recorder();
      feedCaller(rec, 0, 5000);
      expect(rec.writtenMs).toBeGreaterThan(1000);
      await rec.finish(1000);
      expect(samplesOf(path)).toBe(8000);
    });

    it('on abort keeps the audio up to the newest caller frame, with a correct header', async () => {
      const rec = recorder();
      const sent = feedCaller(rec, 0, 1500);
      rec.agentAudio(1000, ...b64(audio(16_000, 4))); // would run to 3 s: never played
      rec.abort();
      await rec.closed;
      const { left, samples } = channels(path);
      expect(samples).toBe(12_000);
      expect(left.subarray(1480 * 8).equals(sent.get(1480)!)).toBe(true);
      expect(lines.find((l) => l.msg === 'recording saved')).toMatchObject({ how: 'aborted', durationMs: 1500 });
    });

    it('finishes once; later calls are ignored', async () => {
      const rec = recorder();
      feedCaller(rec, 0, 500);
      const first = rec.finish(1000);
      const second = rec.finish(9000);
      rec.abort();
      rec.callerAudio(600, audio(FRAME, 1));
      rec.agentAudio(600, ...b64(audio(FRAME, 1)));
      rec.agentCleared(600);
      await Promise.all([first, second, rec.closed]);
      expect(samplesOf(path)).toBe(8000);
      expect(rec.bufferedBytes).toBe(0);
      expect(lines.filter((l) => l.msg === 'recording saved')).toHaveLength(1);
    });
  });

  describe('streaming', () => {
    it('writes a 10-minute call in batches as it goes, holding only a bounded amount in memory', async () => {
      // The disk takes the writes of each second of the call at the end of that second.
      const disk = testDisk(path, { holding: true });
      const rec = recorder({ openStream: () => disk.stream });
      const minutes = 10;
      const endMs = minutes * 60_000;
      let maxBuffered = 0;
      let maxHeld = 0;
      let sizeMidway = 0;
      const answers = new Map<number, Buffer>();
      for (let t = 0; t < endMs; t += 20) {
        // The agent answers for 2 s every 10 s, the audio arriving in one burst.
        if (t % 10_000 === 5_000) {
          const answer = audio(16_000, t);
          answers.set(t, answer);
          rec.agentAudio(t, ...b64(answer));
        }
        rec.callerAudio(t, audio(FRAME, t + 1));
        maxBuffered = Math.max(maxBuffered, rec.bufferedBytes);
        maxHeld = Math.max(maxHeld, rec.bufferedBytes - disk.stream.writableLength);
        // Fed far faster than real time: the disk catches up as it would at 20 ms a frame.
        if (t % 1000 === 0) disk.release();
        if (t === endMs / 2) sizeMidway = statSync(path).size;
      }
      const frames = endMs / 20;
      const batchesBeforeFinish = rec.batchesWritten;
      const finished = rec.finish(endMs);
      disk.flow();
      await finished;

      // Written during the call, not at the end: half the call was on disk halfway through.
      expect(sizeMidway).toBeGreaterThan(44 + (endMs / 2 - 2000) * 16);
      // A batch per ~1 s of timeline rather than a write per 20 ms frame.
      expect(batchesBeforeFinish).toBeGreaterThan(frames / 100);
      expect(batchesBeforeFinish).toBeLessThanOrEqual(frames / 50);
      // The recorder holds at most an agent answer (16 kB) and, on each channel, a batch plus the
      // hold-back (1000 + 200 ms) and a frame; with a second of writes the disk has not taken yet,
      // still nowhere near the 9.6 MB of the call.
      expect(maxHeld).toBeLessThanOrEqual(16_000 + 2 * (8000 + 1600 + FRAME));
      expect(maxBuffered).toBeLessThan(maxHeld + 16 * 1024 + 16_000 + 3200);
      expect(rec.bufferedBytes).toBe(0);

      const { left, right, samples } = channels(path);
      expect(samples).toBe(endMs * 8);
      for (let t = 0; t < endMs; t += 20) {
        if (!left.subarray(t * 8, t * 8 + FRAME).equals(audio(FRAME, t + 1))) throw new Error(`caller frame ${t} misplaced`);
      }
      let agentSamples = 0;
      for (const [t, answer] of answers) {
        expect(right.subarray(t * 8, t * 8 + answer.length).equals(answer)).toBe(true);
        agentSamples += answer.length;
      }
      expect(right.filter((b) => b !== SILENT).length).toBeLessThanOrEqual(agentSamples);
    }, 60_000);

    it('caps agent audio queued far ahead, warning once', async () => {
      const rec = recorder({ maxAgentQueueMs: 1000, batchMs: 200 });
      const first = audio(8000, 1);
      rec.agentAudio(0, ...b64(first)); // 0..1 s: kept
      for (let i = 0; i < 100; i++) rec.agentAudio(0, ...b64(audio(FRAME, 100 + i))); // queued 1..3 s: dropped
      expect(rec.bufferedBytes).toBe(8000 + 44);
      // The queue keeps its place: audio after the dropped stretch lands where Twilio would play it.
      feedCaller(rec, 0, 2800);
      // Written to 2.4..2.6 s: 3 s is back within the 1 s the queue may run ahead.
      expect(rec.writtenMs).toBeGreaterThan(2020);
      expect(rec.writtenMs).toBeLessThan(3000);
      const after = audio(FRAME, 7);
      rec.agentAudio(0, ...b64(after));
      await rec.finish(4000);

      const { right } = channels(path);
      expect(right.subarray(0, 8000).equals(first)).toBe(true);
      expectSilent(right, 8000, 24_000);
      expect(right.subarray(24_000, 24_160).equals(after)).toBe(true);
      expect(lines.filter((l) => l.msg === 'recording drops agent audio queued too far ahead')).toHaveLength(1);
      expect(lines.find((l) => l.msg === 'recording saved')).toMatchObject({ agentAudioDroppedMs: 2000 });
    });

    it('ignores a caller timestamp far ahead of the call, warning once', async () => {
      const rec = recorder();
      feedCaller(rec, 0, 1000);
      rec.callerAudio(10 * 3_600_000, audio(FRAME, 1));
      rec.callerAudio(10 * 3_600_000 + 20, audio(FRAME, 2));
      rec.callerAudio(Number.NaN, audio(FRAME, 3));
      rec.callerAudio(-20, audio(FRAME, 4));
      expect(rec.bufferedBytes).toBeLessThan(16_000);
      await rec.finish(1000);
      expect(channels(path).samples).toBe(8000);
      expect(lines.filter((l) => l.msg === 'recording ignores caller audio stamped far ahead of the call')).toHaveLength(1);
    });
  });

  describe('disk errors', () => {
    const failures = (): LogLine[] => lines.filter((l) => l.msg === 'recording failed; the rest of this call is not recorded');

    const devFull = existsSync('/dev/full') ? it : it.skip;
    devFull('logs a full disk once, then records nothing and never throws', async () => {
      const rec = recorder({ openStream: () => createWriteStream('/dev/full') });
      const play = (fromMs: number, toMs: number): void => {
        for (let t = fromMs; t < toMs; t += 20) {
          expect(() => {
            rec.callerAudio(t, audio(FRAME, t));
            rec.agentAudio(t, ...b64(audio(FRAME, t)));
            if (t % 1000 === 0) rec.agentCleared(t);
          }).not.toThrow();
        }
      };
      // Batches are written from 1.2 s on; the disk reports the first one full a little later.
      play(0, 2500);
      await logs.waitFor('recording failed; the rest of this call is not recorded');
      expect(rec.failed).toBe(true);
      play(2500, 5000);
      await rec.finish(5000);
      expect(rec.failed).toBe(true);
      expect(rec.bufferedBytes).toBe(0);
      expect(failures()).toHaveLength(1);
      expect(failures()[0]).toMatchObject({ level: 'error', fileName: `${SID}.wav`, err: { code: 'ENOSPC' } });
    });

    it('does not overwrite an existing recording: logs and degrades', async () => {
      writeFileSync(path, 'an earlier recording');
      const rec = recorder();
      feedCaller(rec, 0, 2000);
      await rec.finish(2000);
      expect(readFileSync(path, 'utf8')).toBe('an earlier recording');
      expect(failures()).toHaveLength(1);
      expect(failures()[0]).toMatchObject({ err: { code: 'EEXIST' } });
    });

    it('survives an output that cannot even be opened', async () => {
      const rec = recorder({
        openStream: () => {
          throw Object.assign(new Error('no'), { code: 'EACCES' });
        },
      });
      expect(() => feedCaller(rec, 0, 1000)).not.toThrow();
      await rec.finish(1000);
      expect(rec.failed).toBe(true);
      expect(failures()[0]).toMatchObject({ err: { code: 'EACCES' } });
    });

    it('gives up rather than buffer without bound when the disk stops taking writes', async () => {
      const stalled = new Writable({ write: () => undefined }); // never calls back
      const rec = recorder({ openStream: () => stalled, maxBacklogBytes: 32 * 1024 });
      feedCaller(rec, 0, 10_000);
      expect(rec.failed).toBe(true);
      expect(rec.bufferedBytes).toBe(0);
      await rec.finish(10_000); // must not hang
      expect(failures()).toHaveLength(1);
      expect(failures()[0]).toMatchObject({ err: { code: 'EBACKLOG' } });
    });

    it('never reuses a write buffer the disk has not taken yet', async () => {
      const written: Buffer[] = []; // each chunk as it was when written
      const taken: Buffer[] = []; // and as it was when the disk took it
      const held: Array<() => void> = [];
      let flowing = false;
      const slow = new Writable({
        write(chunk: Buffer, _enc, cb) {
          taken.push(Buffer.from(chunk));
          if (flowing) cb();
          else held.push(cb);
        },
      });
      const write = slow.write.bind(slow) as (chunk: Buffer) => boolean;
      slow.write = ((chunk: Buffer) => {
        written.push(Buffer.from(chunk));
        return write(chunk);
      }) as typeof slow.write;
      const rec = recorder({ openStream: () => slow, batchMs: 200 });
      for (let t = 0; t < 10_000; t += 20) {
        feedCaller(rec, t, t + 20);
        // Batches every 200 ms, and the disk takes a write now and then: some find it idle, most busy.
        if (t % 700 === 0) held.shift()?.();
      }
      // Finishing writes the rest while the disk is still busy; then it takes everything at once.
      const finished = rec.finish(10_000);
      flowing = true;
      while (held.length > 0) held.shift()!();
      await finished;
      expect(written.length).toBeGreaterThan(5);
      expect(taken).toHaveLength(written.length);
      taken.forEach((chunk, i) => expect(chunk.equals(written[i])).toBe(true));
    });

    it('leaves a playable file when the disk fails mid-call', async () => {
      // The disk takes the header and two 1 s batches, then fails the third, written at 3.2 s.
      const rec = recorder({ openStream: (p) => testDisk(p, { failAfterBytes: 20_000 }).stream });
      expect(() => feedCaller(rec, 0, 4000)).not.toThrow();
      const failure = await logs.waitFor('recording failed; the rest of this call is not recorded');
      expect(failure).toMatchObject({ err: { code: 'ENOSPC' } });
      expect(rec.failed).toBe(true);
      expect(() => feedCaller(rec, 4000, 5000)).not.toThrow();
      await rec.finish(5000);
      expect(rec.failed).toBe(true);
      const { samples } = channels(path); // asserts the header matches the size
      expect(samples).toBeGreaterThan(9000);
      expect(samples).toBeLessThan(40_000);
    });
  });

  describe('crash', () => {
    it('leaves a size-0 header until finished, so a crashed file is recognisable', async () => {
      const rec = recorder();
      feedCaller(rec, 0, 3000);
      // Two batches are written; wait for the first audio to reach the file.
      await whenOnDisk(path, () => existsSync(path) && statSync(path).size > 44);
      const onDisk = readFileSync(path);
      expect(onDisk.length).toBeGreaterThan(44);
      expect(parseWavHeader(onDisk)).toMatchObject({ riffSize: 0, dataSize: 0, dataOffset: 44 });
      await rec.finish(3000);
      expect(parseWavHeader(readFileSync(path))).toMatchObject({ dataSize: 48_000 });
    });
  });

  describe('with sox', () => {
    const soxInstalled = ((): boolean => {
      try {
        execFileSync('sox', ['--version'], { stdio: 'ignore' });
        execFileSync('soxi', ['-V0', '/dev/null'], { stdio: 'ignore' });
        return true;
      } catch (err) {
        // soxi exits non-zero on /dev/null; only a missing binary means sox is absent.
        return (err as NodeJS.ErrnoException).code !== 'ENOENT';
      }
    })();

    async function record(durationMs: number): Promise<void> {
      const rec = recorder();
      feedCaller(rec, 0, 2500);
      rec.agentAudio(1000, ...b64(audio(40_000, 1))); // 5 s: overruns the end
      await rec.finish(durationMs);
    }

    if (soxInstalled) {
      it('sox reads the recording: duration, 2 channels, 8000 Hz, u-law, same samples, no warnings', async () => {
        await record(3210);

        const seconds = Number(execFileSync('soxi', ['-D', path], { encoding: 'utf8' }).trim());
        expect(Math.abs(seconds - 3.21)).toBeLessThanOrEqual(0.02);

        const info = execFileSync('sox', ['--i', path], { encoding: 'utf8' });
        expect(info).toMatch(/^Channels\s*:\s*2$/m);
        expect(info).toMatch(/^Sample Rate\s*:\s*8000$/m);
        expect(info).toMatch(/^Sample Encoding\s*:\s*8-bit u-law$/m);
        expect(info).toMatch(/= 25680 samples/);

        // sox decodes our samples from byte 44 on, channel order included (it re-encodes 0x7F,
        // mu-law's negative zero, as 0xFF).
        const raw = execFileSync('sox', [path, '-t', 'raw', '-e', 'u-law', '-b', '8', '-'], { maxBuffer: 1 << 20 });
        const ours = Buffer.from(readFileSync(path).subarray(44).map((b) => (b === 0x7f ? 0xff : b)));
        expect(raw.equals(ours)).toBe(true);

        // Warnings go to stderr, which execFileSync does not return.
        const check = spawnSync('sox', ['-V2', path, '-n'], { encoding: 'utf8' });
        expect(check.status).toBe(0);
        expect(check.stderr).toBe('');
      });
    } else if (process.env.CI) {
      it('sox reads the recording', () => {
        throw new Error('sox is not installed but CI is set: install it (apt-get install -y sox) so recordings are checked with the real tool');
      });
    } else {
      it.skip('sox reads the recording (skipped: sox is not installed; apt-get install -y sox)', () => undefined);
    }
  });
});
