/**
 * Audio for the simulator: any sound file to 8 kHz mu-law (sox when installed, else WAV files read
 * by wavefile), text spoken by espeak-ng, tone "speech" when no voice is wanted, mu-law WAV output,
 * and the frame energy a voice activity detector reads.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { mulaw } from 'alawmulaw';
import { WaveFile } from 'wavefile';
import { BYTES_PER_MS } from '../common/mulaw';
import { FRAME_BYTES } from './twilio-stream-peer';

export const SAMPLE_RATE = 8000;
/** Mu-law code for zero amplitude. */
export const MULAW_SILENCE = 0xff;

/** A clear, actionable error (printed as is by the command-line tools). */
export class AudioError extends Error {
  override readonly name = 'AudioError';
}

/** Runs a program, resolving its stdout; rejects with ENOENT as `missing`. */
function run(program: string, args: readonly string[], maxBuffer = 256 * 1024 * 1024): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile(program, args, { encoding: 'buffer', maxBuffer }, (err, stdout, stderr) => {
      if (err) {
        const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
        reject(missing ? new MissingProgram(program) : new AudioError(`${program} failed: ${stderr.toString('utf8').trim().slice(0, 300) || err.message}`));
        return;
      }
      resolve(stdout);
    });
  });
}

class MissingProgram extends AudioError {
  constructor(readonly program: string) {
    super(`${program} is not installed`);
  }
}

/** Whether `program` can be run (answers --version). */
export async function installed(program: string): Promise<boolean> {
  try {
    await run(program, ['--version']);
    return true;
  } catch (err) {
    return !(err instanceof MissingProgram);
  }
}

/**
 * Any WAV file as a 16-bit linear mono signal at its own rate, read by wavefile: PCM of any depth,
 * float, mu-law and A-law; channels are mixed down.
 */
export function wavToMuLaw(bytes: Buffer, what: string): Buffer {
  const wav = new WaveFile();
  try {
    wav.fromBuffer(bytes);
  } catch (err) {
    throw new AudioError(`${what} is not a WAV file wavefile can read (${(err as Error).message}); install sox to convert other formats`);
  }
  const fmt = { ...(wav.fmt as { numChannels: number; sampleRate: number; audioFormat: number }) };
  // Already Twilio's format: passed through untouched.
  if (fmt.audioFormat === 7 && fmt.numChannels === 1 && fmt.sampleRate === SAMPLE_RATE) {
    return Buffer.from((wav.data as { samples: Uint8Array }).samples);
  }
  if (fmt.audioFormat === 7) wav.fromMuLaw();
  else if (fmt.audioFormat === 6) wav.fromALaw();
  // Float64 samples in the file's own range, one array per channel.
  const channels = wav.getSamples(false, Float64Array) as unknown as Float64Array[] | Float64Array;
  const perChannel = fmt.numChannels > 1 ? (channels as Float64Array[]) : [channels as Float64Array];
  const bitDepth = (wav as unknown as { bitDepth: string }).bitDepth;
  const full = bitDepth === '32f' || bitDepth === '64' ? 1 : 2 ** (Number.parseInt(bitDepth, 10) - 1);
  const mono = new Int16Array(perChannel[0].length);
  for (let i = 0; i < mono.length; i++) {
    let sum = 0;
    for (const ch of perChannel) sum += ch[i];
    mono[i] = Math.max(-32768, Math.min(32767, Math.round((sum / perChannel.length / full) * 32768)));
  }
  const out = new WaveFile();
  out.fromScratch(1, fmt.sampleRate, '16', mono);
  if (fmt.sampleRate !== SAMPLE_RATE) out.toSampleRate(SAMPLE_RATE, { method: 'sinc' });
  const samples = out.getSamples(false, Int16Array) as unknown as Int16Array;
  return Buffer.from(mulaw.encode(samples));
}

/**
 * A sound file as 8 kHz mono mu-law, Twilio's format: converted by sox when it is installed (any
 * format sox reads), else read as WAV.
 */
export async function loadAudioFile(path: string): Promise<Buffer> {
  try {
    return await run('sox', [path, '-t', 'raw', '-r', String(SAMPLE_RATE), '-c', '1', '-e', 'mu-law', '-b', '8', '-']);
  } catch (err) {
    if (!(err instanceof MissingProgram)) throw err;
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new AudioError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return wavToMuLaw(bytes, path);
}

/** `text` spoken by espeak-ng, as 8 kHz mu-law. A clear error when espeak-ng is not installed. */
export async function speak(text: string, opts: { voice?: string; wordsPerMinute?: number } = {}): Promise<Buffer> {
  let wav: Buffer;
  try {
    wav = await run('espeak-ng', ['--stdout', '-v', opts.voice ?? 'en-us', '-s', String(opts.wordsPerMinute ?? 175), '--', text]);
  } catch (err) {
    if (err instanceof MissingProgram) {
      throw new AudioError('speaking text needs espeak-ng, which is not installed (Debian/Ubuntu: apt-get install espeak-ng); or pass a recording with --wav');
    }
    throw err;
  }
  return wavToMuLaw(wav, 'espeak-ng output');
}

/**
 * Tone bursts in place of speech, one 160 ms syllable-like burst a word: energy a voice activity
 * detector hears as talking, with no voice needed. `pitchHz` tells speakers apart on a recording.
 */
export function toneSpeech(text: string, pitchHz = 440, msPerWord = 160): Buffer {
  const words = Math.max(1, text.split(/\s+/).filter(Boolean).length);
  const burst = Math.round(msPerWord * 0.75 * BYTES_PER_MS);
  const gap = Math.round(msPerWord * 0.25 * BYTES_PER_MS);
  const samples = new Int16Array(words * (burst + gap));
  for (let w = 0; w < words; w++) {
    const base = w * (burst + gap);
    // A little pitch movement per word, as a voice has.
    const f = pitchHz * (1 + 0.08 * Math.sin(w));
    for (let i = 0; i < burst; i++) {
      const envelope = Math.sin((Math.PI * i) / burst);
      samples[base + i] = Math.round(9000 * envelope * Math.sin((2 * Math.PI * f * i) / SAMPLE_RATE));
    }
  }
  return Buffer.from(mulaw.encode(samples));
}

export function silence(ms: number): Buffer {
  return Buffer.alloc(Math.round(ms * BYTES_PER_MS), MULAW_SILENCE);
}

/** Root-mean-square level of mu-law audio, 0 (silence) to 32768. */
export function rms(audio: Buffer): number {
  if (audio.length === 0) return 0;
  const samples = mulaw.decode(audio);
  let sum = 0;
  for (const s of samples) sum += s * s;
  return Math.sqrt(sum / samples.length);
}

/** Above this RMS a 20 ms frame counts as voiced: about -40 dBFS, well above line noise. */
export const VOICED_RMS = 330;

/** Where the last voiced 20 ms frame of `audio` ends, in ms (0 when none is voiced). */
export function voicedEndMs(audio: Buffer): number {
  let end = 0;
  for (let off = 0; off < audio.length; off += FRAME_BYTES) {
    if (rms(audio.subarray(off, off + FRAME_BYTES)) > VOICED_RMS) end = Math.min(audio.length, off + FRAME_BYTES);
  }
  return end / BYTES_PER_MS;
}

/** `audio` in 20 ms frames, the last one padded with silence. */
export function toFrames(audio: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  for (let off = 0; off < audio.length; off += FRAME_BYTES) {
    const frame = Buffer.alloc(FRAME_BYTES, MULAW_SILENCE);
    audio.copy(frame, 0, off, Math.min(audio.length, off + FRAME_BYTES));
    frames.push(frame);
  }
  return frames;
}

/** Writes 8 kHz mono mu-law audio as a WAV file. */
export async function writeMuLawWav(path: string, audio: Buffer): Promise<void> {
  const wav = new WaveFile();
  wav.fromScratch(1, SAMPLE_RATE, '8m', audio);
  await writeFile(path, wav.toBuffer());
}
