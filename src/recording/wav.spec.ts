import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BLOCK_ALIGN,
  BYTE_RATE,
  MULAW_SILENCE,
  WAVE_FORMAT_MULAW,
  WAV_HEADER_BYTES,
  finalizeWav,
  parseWavHeader,
  repairWav,
  wavHeader,
} from './wav';

/** Bytes that are never mu-law silence, so misplaced audio shows. */
function audio(length: number, seed = 1): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = (i * 7 + seed * 13) % 0xff;
  return out;
}

function chunk(id: string, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.write(id, 0, 'ascii');
  head.writeUInt32LE(body.length, 4);
  return Buffer.concat([head, body, body.length & 1 ? Buffer.alloc(1) : Buffer.alloc(0)]);
}

/** What SoX itself writes for mu-law: an 18-byte fmt (cbSize 0) and a fact chunk, data at 58. */
function soxStyleWav(data: Buffer): Buffer {
  const fmt = Buffer.alloc(18);
  fmt.writeUInt16LE(7, 0);
  fmt.writeUInt16LE(2, 2);
  fmt.writeUInt32LE(8000, 4);
  fmt.writeUInt32LE(16000, 8);
  fmt.writeUInt16LE(2, 12);
  fmt.writeUInt16LE(8, 14);
  const fact = Buffer.alloc(4);
  fact.writeUInt32LE(data.length / 2, 0);
  const body = Buffer.concat([Buffer.from('WAVE'), chunk('fmt ', fmt), chunk('fact', fact), chunk('data', data)]);
  const riff = Buffer.alloc(8);
  riff.write('RIFF', 0, 'ascii');
  riff.writeUInt32LE(body.length, 4);
  return Buffer.concat([riff, body]);
}

describe('wav', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'wav-spec-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a 44-byte stereo mu-law header whose fields parse back', () => {
    const header = wavHeader(16_000);
    expect(header.length).toBe(WAV_HEADER_BYTES);
    expect(header.toString('ascii', 0, 4)).toBe('RIFF');
    expect(header.toString('ascii', 8, 16)).toBe('WAVEfmt ');
    expect(header.readUInt32LE(16)).toBe(16);
    expect(header.toString('ascii', 36, 40)).toBe('data');
    expect(parseWavHeader(header)).toEqual({
      audioFormat: WAVE_FORMAT_MULAW,
      channels: 2,
      sampleRate: 8000,
      byteRate: 16_000,
      blockAlign: 2,
      bitsPerSample: 8,
      riffSize: 36 + 16_000,
      dataOffset: 44,
      dataSize: 16_000,
    });
    expect(WAVE_FORMAT_MULAW).toBe(7);
    expect(BLOCK_ALIGN).toBe(2);
    expect(BYTE_RATE).toBe(16_000);
    expect(MULAW_SILENCE).toBe(0xff);
  });

  it('writes sizes 0 while the length is unknown', () => {
    const h = parseWavHeader(wavHeader())!;
    expect(h.dataSize).toBe(0);
    expect(h.riffSize).toBe(0);
    expect(parseWavHeader(wavHeader(0))).toMatchObject({ dataSize: 0, riffSize: 36 });
  });

  it('parses the layout SoX writes (18-byte fmt, fact chunk) with the data offset after them', () => {
    const h = parseWavHeader(soxStyleWav(audio(100)))!;
    expect(h).toMatchObject({ audioFormat: 7, channels: 2, sampleRate: 8000, blockAlign: 2, dataOffset: 58, dataSize: 100 });
  });

  it('rejects what is not a WAVE file or stops before the data chunk', () => {
    expect(parseWavHeader(Buffer.alloc(0))).toBeNull();
    expect(parseWavHeader(Buffer.from('RIFF\0\0\0\0AVI LIST'))).toBeNull();
    expect(parseWavHeader(wavHeader().subarray(0, 40))).toBeNull();
    // data before fmt
    const noFmt = Buffer.concat([Buffer.from('RIFF\0\0\0\0WAVE'), chunk('data', audio(4))]);
    expect(parseWavHeader(noFmt)).toBeNull();
  });

  describe('repairWav', () => {
    it('fixes the sizes of a file a crash left at 0, dropping a trailing partial sample frame', async () => {
      const path = join(dir, 'crashed.wav');
      const data = audio(16_001);
      writeFileSync(path, Buffer.concat([wavHeader(), data]));

      await expect(repairWav(path)).resolves.toBe(true);

      const file = readFileSync(path);
      expect(file.length).toBe(44 + 16_000);
      const h = parseWavHeader(file)!;
      expect(h.dataSize).toBe(16_000);
      expect(h.riffSize).toBe(file.length - 8);
      expect(h.dataSize).toBe(file.length - h.dataOffset);
      expect(file.subarray(44).equals(data.subarray(0, 16_000))).toBe(true);
      await expect(repairWav(path)).resolves.toBe(false);
    });

    it('leaves a consistent file byte for byte as it was', async () => {
      const path = join(dir, 'clean.wav');
      const bytes = Buffer.concat([wavHeader(3200), audio(3200)]);
      writeFileSync(path, bytes);
      const before = statSync(path).mtimeMs;

      await expect(repairWav(path)).resolves.toBe(false);

      expect(readFileSync(path).equals(bytes)).toBe(true);
      expect(statSync(path).mtimeMs).toBe(before);
    });

    it('shrinks sizes that claim more data than the file holds', async () => {
      const path = join(dir, 'cut.wav');
      writeFileSync(path, Buffer.concat([wavHeader(32_000), audio(1000)]));
      await expect(repairWav(path)).resolves.toBe(true);
      expect(parseWavHeader(readFileSync(path))).toMatchObject({ dataSize: 1000, riffSize: 1036 });
    });

    it('repairs a header a crash left before any data', async () => {
      const path = join(dir, 'empty.wav');
      writeFileSync(path, wavHeader());
      await expect(repairWav(path)).resolves.toBe(true);
      expect(parseWavHeader(readFileSync(path))).toMatchObject({ dataSize: 0, riffSize: 36 });
    });

    it('repairs other layouts at their own data offset', async () => {
      const path = join(dir, 'sox.wav');
      const wav = soxStyleWav(audio(400));
      wav.writeUInt32LE(0, 4);
      wav.writeUInt32LE(0, 54);
      writeFileSync(path, wav);
      await expect(repairWav(path)).resolves.toBe(true);
      const file = readFileSync(path);
      expect(parseWavHeader(file)).toMatchObject({ dataOffset: 58, dataSize: 400, riffSize: file.length - 8 });
    });

    it('does not swallow well-formed chunks that follow the data', async () => {
      const path = join(dir, 'tagged.wav');
      const data = audio(1000);
      const list = chunk('LIST', Buffer.from('INFOISFT\x05\0\0\0sox\0\0\0'));
      const wav = Buffer.concat([wavHeader(1000), data, list]);
      wav.writeUInt32LE(wav.length - 8, 4);
      writeFileSync(path, wav);
      await expect(repairWav(path)).resolves.toBe(false);
      expect(readFileSync(path).equals(wav)).toBe(true);
    });

    it('ignores files that are not WAVE and directories named *.wav', async () => {
      const text = join(dir, 'notes.wav');
      writeFileSync(text, 'not audio at all, just text long enough to look like something');
      await expect(repairWav(text)).resolves.toBe(false);
      expect(readFileSync(text, 'utf8')).toMatch(/^not audio/);

      const folder = join(dir, 'folder.wav');
      mkdirSync(folder);
      await expect(repairWav(folder)).resolves.toBe(false);
    });

    it('rejects when the file does not exist', async () => {
      await expect(repairWav(join(dir, 'missing.wav'))).rejects.toMatchObject({ code: 'ENOENT' });
    });
  });

  it('finalizeWav writes the sizes and cuts the file to the data length', async () => {
    const path = join(dir, 'final.wav');
    writeFileSync(path, Buffer.concat([wavHeader(), audio(5000)]));
    await finalizeWav(path, 4000);
    const file = readFileSync(path);
    expect(file.length).toBe(4044);
    expect(parseWavHeader(file)).toMatchObject({ dataSize: 4000, riffSize: 4036 });
  });
});
