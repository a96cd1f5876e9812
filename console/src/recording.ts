/**
 * The call's recording as the service stores it: a stereo WAV, caller on the left channel, agent on
 * the right, 8 kHz G.711 mu-law (format 7); 16-bit PCM (format 1) is read too. Decoded here, in the
 * page, because the recording is fetched with the API token (an <audio src> cannot send it) and
 * because not every browser plays mu-law: the player gets a 16-bit PCM copy.
 */

export interface Recording {
  readonly sampleRate: number;
  /** [caller, agent]; samples in -1..1. */
  readonly channels: readonly [Float32Array, Float32Array];
  readonly durationMs: number;
}

const FORMAT_PCM = 1;
const FORMAT_MULAW = 7;
const FORMAT_EXTENSIBLE = 0xfffe;

/** G.711 mu-law byte to a 16-bit linear sample. */
export function muLawToLinear(byte: number): number {
  const u = ~byte & 0xff;
  const exponent = (u >> 4) & 0x07;
  const magnitude = (((u & 0x0f) << 3) + 0x84) << exponent;
  return u & 0x80 ? 0x84 - magnitude : magnitude - 0x84;
}

const MULAW_TABLE = Float32Array.from({ length: 256 }, (_, b) => muLawToLinear(b) / 32768);

export function decodeWav(buffer: ArrayBuffer): Recording {
  const view = new DataView(buffer);
  const tag = (offset: number) => String.fromCharCode(...new Uint8Array(buffer, offset, 4));
  if (buffer.byteLength < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') throw new Error('not a WAV file');
  let format = 0;
  let channels = 0;
  let sampleRate = 0;
  let bits = 0;
  let data: Uint8Array | null = null;
  for (let offset = 12; offset + 8 <= buffer.byteLength; ) {
    const id = tag(offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      format = view.getUint16(body, true);
      channels = view.getUint16(body + 2, true);
      sampleRate = view.getUint32(body + 4, true);
      bits = view.getUint16(body + 14, true);
      if (format === FORMAT_EXTENSIBLE && size >= 26) format = view.getUint16(body + 24, true);
    } else if (id === 'data') {
      // A file cut short says more than is there: read what is.
      data = new Uint8Array(buffer, body, Math.min(size, buffer.byteLength - body));
      break;
    }
    offset = body + size + (size % 2);
  }
  if (!data || channels < 1 || sampleRate <= 0) throw new Error('the WAV file has no audio');
  const bytesPerSample = format === FORMAT_MULAW && bits === 8 ? 1 : format === FORMAT_PCM && bits === 16 ? 2 : 0;
  if (bytesPerSample === 0) throw new Error(`unsupported WAV encoding (format ${format}, ${bits} bits)`);
  const frames = Math.floor(data.length / (bytesPerSample * channels));
  const left = new Float32Array(frames);
  const right = new Float32Array(frames);
  const pcm = bytesPerSample === 2 ? new DataView(data.buffer, data.byteOffset, data.length) : null;
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < Math.min(channels, 2); c++) {
      const at = i * channels + c;
      const sample = pcm ? pcm.getInt16(at * 2, true) / 32768 : MULAW_TABLE[data[at]];
      (c === 0 ? left : right)[i] = sample;
    }
    if (channels === 1) right[i] = 0;
  }
  return { sampleRate, channels: [left, right], durationMs: (frames / sampleRate) * 1000 };
}

/** Per column of a waveform `width` columns wide: the lowest and highest sample in it. */
export function peaks(samples: Float32Array, width: number): { min: Float32Array; max: Float32Array } {
  const min = new Float32Array(width);
  const max = new Float32Array(width);
  const per = samples.length / width;
  for (let x = 0; x < width; x++) {
    const from = Math.floor(x * per);
    const to = Math.max(from + 1, Math.floor((x + 1) * per));
    let lo = 0;
    let hi = 0;
    for (let i = from; i < to && i < samples.length; i++) {
      const s = samples[i];
      if (s < lo) lo = s;
      if (s > hi) hi = s;
    }
    min[x] = lo;
    max[x] = hi;
  }
  return { min, max };
}

/** A 16-bit PCM stereo WAV of the recording, which every browser's player takes. */
export function toPcmWav(recording: Recording): Blob {
  const [left, right] = recording.channels;
  const frames = left.length;
  const out = new DataView(new ArrayBuffer(44 + frames * 4));
  const ascii = (offset: number, text: string) => [...text].forEach((ch, i) => out.setUint8(offset + i, ch.charCodeAt(0)));
  ascii(0, 'RIFF');
  out.setUint32(4, 36 + frames * 4, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  out.setUint32(16, 16, true);
  out.setUint16(20, FORMAT_PCM, true);
  out.setUint16(22, 2, true);
  out.setUint32(24, recording.sampleRate, true);
  out.setUint32(28, recording.sampleRate * 4, true);
  out.setUint16(32, 4, true);
  out.setUint16(34, 16, true);
  ascii(36, 'data');
  out.setUint32(40, frames * 4, true);
  const clip = (s: number) => Math.max(-32768, Math.min(32767, Math.round(s * 32768)));
  for (let i = 0; i < frames; i++) {
    out.setInt16(44 + i * 4, clip(left[i]), true);
    out.setInt16(46 + i * 4, clip(right[i]), true);
  }
  return new Blob([out.buffer], { type: 'audio/wav' });
}
