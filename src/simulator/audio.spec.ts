import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WaveFile } from 'wavefile';
import { installed, loadAudioFile, rms, silence, speak, toFrames, toneSpeech, voicedEndMs, VOICED_RMS, wavToMuLaw, writeMuLawWav } from './audio';

/** A 16-bit PCM WAV of a 400 Hz tone. */
function pcmWav(sampleRate: number, channels: number, ms: number): Buffer {
  const n = Math.round((sampleRate * ms) / 1000);
  const data = channels === 1 ? new Int16Array(n) : Array.from({ length: channels }, () => new Int16Array(n));
  for (let i = 0; i < n; i++) {
    const v = Math.round(8000 * Math.sin((2 * Math.PI * 400 * i) / sampleRate));
    if (data instanceof Int16Array) data[i] = v;
    else for (const ch of data) ch[i] = v;
  }
  const wav = new WaveFile();
  wav.fromScratch(channels, sampleRate, '16', data);
  return Buffer.from(wav.toBuffer());
}

describe('simulator audio', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sim-audio-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads PCM WAV at any rate and channel count as 8 kHz mu-law, keeping its length and level', () => {
    for (const [rate, channels] of [[8000, 1], [16000, 1], [44100, 2]] as const) {
      const audio = wavToMuLaw(pcmWav(rate, channels, 500), 'test');
      expect(Math.abs(audio.length - 4000)).toBeLessThanOrEqual(2);
      // 8000 peak: about 5657 RMS.
      expect(rms(audio)).toBeGreaterThan(5000);
      expect(rms(audio)).toBeLessThan(6300);
    }
  });

  it('writes mu-law WAV that reads back unchanged', async () => {
    const audio = toneSpeech('one two three');
    const path = join(dir, 'tone.wav');
    await writeMuLawWav(path, audio);
    expect(wavToMuLaw((await import('node:fs')).readFileSync(path), path)).toEqual(audio);
  });

  it('says clearly what is wrong with a file that is not WAV', async () => {
    const path = join(dir, 'not.wav');
    await writeFile(path, 'hello');
    expect(() => wavToMuLaw(Buffer.from('hello'), path)).toThrow(/not a WAV file/);
    await expect(loadAudioFile(join(dir, 'missing.wav'))).rejects.toThrow(/missing\.wav/);
  });

  it('finds where the voice ends, and splits audio into 20 ms frames', () => {
    const audio = Buffer.concat([toneSpeech('a b c'), silence(300)]);
    expect(voicedEndMs(audio)).toBeGreaterThan(400);
    expect(voicedEndMs(audio)).toBeLessThanOrEqual(480);
    expect(voicedEndMs(silence(500))).toBe(0);
    expect(rms(silence(20))).toBeLessThan(VOICED_RMS);
    const frames = toFrames(Buffer.alloc(170, 1));
    expect(frames.map((f) => f.length)).toEqual([160, 160]);
    expect(frames[1][10]).toBe(0xff);
  });

  it('converts with sox and speaks with espeak-ng when they are installed', async () => {
    if (await installed('sox')) {
      const path = join(dir, 'in.wav');
      await writeFile(path, pcmWav(22050, 1, 1000));
      expect(Math.abs((await loadAudioFile(path)).length - 8000)).toBeLessThanOrEqual(8);
    }
    if (await installed('espeak-ng')) {
      const said = await speak('The pipe burst.');
      expect(voicedEndMs(said)).toBeGreaterThan(300);
    } else {
      await expect(speak('hello')).rejects.toThrow(/espeak-ng/);
    }
  });
});
