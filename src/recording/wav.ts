import { open, stat, type FileHandle } from 'node:fs/promises';

/**
 * Call recordings are stereo G.711 mu-law WAV files: caller left, agent right, 8 kHz.
 *
 * The header is the canonical 44-byte layout (RIFF, a 16-byte `fmt ` chunk, then `data`), so the
 * audio always starts at byte 44 and the two size fields can be patched in place once the call
 * ends. SoX 14.4 reads this layout for format 7 without a warning; the 18-byte `fmt ` with
 * cbSize = 0 and the `fact` chunk that the WAVE spec suggests for non-PCM data are optional for
 * it, and leaving them out keeps every size derivable from the file length alone.
 */
export const WAVE_FORMAT_MULAW = 7;
export const SAMPLE_RATE = 8000;
export const CHANNELS = 2;
export const BITS_PER_SAMPLE = 8;
/** Bytes per sample frame (one byte per channel). */
export const BLOCK_ALIGN = CHANNELS * (BITS_PER_SAMPLE / 8);
export const BYTE_RATE = SAMPLE_RATE * BLOCK_ALIGN;
export const WAV_HEADER_BYTES = 44;
/** Mu-law code for zero amplitude. */
export const MULAW_SILENCE = 0xff;
/** Sample frames per millisecond of timeline. */
export const SAMPLES_PER_MS = SAMPLE_RATE / 1000;

/** The largest data chunk whose RIFF size still fits in 32 bits, whole sample frames only. */
export const MAX_DATA_BYTES = Math.floor((0xffffffff - (WAV_HEADER_BYTES - 8)) / BLOCK_ALIGN) * BLOCK_ALIGN;

export interface WavHeader {
  readonly audioFormat: number;
  readonly channels: number;
  readonly sampleRate: number;
  readonly byteRate: number;
  readonly blockAlign: number;
  readonly bitsPerSample: number;
  /** The RIFF chunk size as written (file size − 8 when consistent). */
  readonly riffSize: number;
  /** Where the audio starts. */
  readonly dataOffset: number;
  /** The data chunk size as written. */
  readonly dataSize: number;
}

/**
 * The 44-byte header for `dataBytes` of stereo mu-law audio. Without a length both sizes are 0:
 * the mark of a file still being written (or left by a crash), never a valid finished file.
 */
export function wavHeader(dataBytes?: number): Buffer {
  const h = Buffer.alloc(WAV_HEADER_BYTES);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(dataBytes === undefined ? 0 : WAV_HEADER_BYTES - 8 + dataBytes, 4);
  h.write('WAVE', 8, 'ascii');
  h.write('fmt ', 12, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(WAVE_FORMAT_MULAW, 20);
  h.writeUInt16LE(CHANNELS, 22);
  h.writeUInt32LE(SAMPLE_RATE, 24);
  h.writeUInt32LE(BYTE_RATE, 28);
  h.writeUInt16LE(BLOCK_ALIGN, 32);
  h.writeUInt16LE(BITS_PER_SAMPLE, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(dataBytes ?? 0, 40);
  return h;
}

/**
 * Reads a RIFF/WAVE header up to the start of the data chunk, whatever chunks precede it (so files
 * written by other tools, e.g. with an 18-byte fmt and a fact chunk, parse too). Null when `buf`
 * is not a WAVE file or ends before the data chunk's header.
 */
export function parseWavHeader(buf: Buffer): WavHeader | null {
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') return null;
  let fmt: Omit<WavHeader, 'riffSize' | 'dataOffset' | 'dataSize'> | null = null;
  for (let off = 12; off + 8 <= buf.length; ) {
    const id = buf.toString('ascii', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    const body = off + 8;
    if (id === 'data') {
      if (!fmt) return null;
      return { ...fmt, riffSize: buf.readUInt32LE(4), dataOffset: body, dataSize: size };
    }
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > buf.length) return null;
      fmt = {
        audioFormat: buf.readUInt16LE(body),
        channels: buf.readUInt16LE(body + 2),
        sampleRate: buf.readUInt32LE(body + 4),
        byteRate: buf.readUInt32LE(body + 8),
        blockAlign: buf.readUInt16LE(body + 12),
        bitsPerSample: buf.readUInt16LE(body + 14),
      };
    }
    // Chunks are padded to an even length.
    off = body + size + (size & 1);
  }
  return null;
}

/**
 * Writes the final header of a file this service recorded (44-byte layout) and cuts it to exactly
 * `dataBytes` of audio.
 */
export async function finalizeWav(path: string, dataBytes: number): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.write(wavHeader(dataBytes), 0, WAV_HEADER_BYTES, 0);
    await fh.truncate(WAV_HEADER_BYTES + dataBytes);
  } finally {
    await fh.close();
  }
}

/** How much of a file is read to find the data chunk. */
const HEADER_PROBE_BYTES = 4096;
/** Trailing chunks after the data are only looked for this far. */
const TAIL_PROBE_BYTES = 64 * 1024;

/**
 * Makes a WAV file's RIFF and data sizes match its length, as when a crash left the header's
 * sizes at 0: the data chunk is taken to run to the end of the file, less any trailing partial
 * sample frame, which is cut off. A consistent file (including one with well-formed chunks after
 * its data) is not touched. Resolves whether the file was changed; false too for anything that is
 * not a regular WAVE file. Rejects on I/O errors.
 */
export async function repairWav(path: string): Promise<boolean> {
  // Not opened unless regular: a directory or FIFO named *.wav is none of our business.
  if (!(await stat(path)).isFile()) return false;
  const fh = await open(path, 'r+');
  try {
    const size = (await fh.stat()).size;
    const head = Buffer.alloc(Math.min(size, HEADER_PROBE_BYTES));
    await fh.read(head, 0, head.length, 0);
    const h = parseWavHeader(head);
    if (!h || h.blockAlign === 0) return false;
    if (await isConsistent(fh, h, size)) return false;

    const available = Math.max(0, size - h.dataOffset);
    const dataBytes = Math.min(available - (available % h.blockAlign), MAX_DATA_BYTES - (MAX_DATA_BYTES % h.blockAlign));
    const sizes = Buffer.alloc(4);
    sizes.writeUInt32LE(h.dataOffset - 8 + dataBytes, 0);
    await fh.write(sizes, 0, 4, 4);
    sizes.writeUInt32LE(dataBytes, 0);
    await fh.write(sizes, 0, 4, h.dataOffset - 4);
    if (size !== h.dataOffset + dataBytes) await fh.truncate(h.dataOffset + dataBytes);
    return true;
  } finally {
    await fh.close();
  }
}

/** Whether the header's sizes describe the file: data then only well-formed chunks to the end. */
async function isConsistent(fh: FileHandle, h: WavHeader, size: number): Promise<boolean> {
  if (h.riffSize !== size - 8) return false;
  if (h.dataSize % h.blockAlign !== 0) return false;
  let off = h.dataOffset + h.dataSize + (h.dataSize & 1);
  if (off === size) return true;
  // A crash leaves dataSize short of the file, like a file with chunks (LIST, ...) after its data:
  // only the latter has valid chunk headers all the way to the end.
  if (off > size || size - off > TAIL_PROBE_BYTES) return false;
  const tail = Buffer.alloc(size - off);
  await fh.read(tail, 0, tail.length, off);
  off = 0;
  while (off + 8 <= tail.length) {
    if (!/^[\x20-\x7e]{4}$/.test(tail.toString('latin1', off, off + 4))) return false;
    const chunk = tail.readUInt32LE(off + 4);
    off += 8 + chunk + (chunk & 1);
  }
  return off === tail.length;
}
