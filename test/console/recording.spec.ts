import { wavHeader } from '../../src/recording/wav';
import { decodeWav, muLawToLinear, peaks, toPcmWav } from '../../console/src/recording';
import { activeTurnIndex, type Turn } from '../../console/src/transcript';

/** The console decodes the recordings the service writes: the service's own header, mu-law stereo. */
function serviceWav(frames: Array<[number, number]>): ArrayBuffer {
  const data = Buffer.from(frames.flat());
  const file = Buffer.concat([wavHeader(data.length), data]);
  return file.buffer.slice(file.byteOffset, file.byteOffset + file.length);
}

describe('the console reads recordings', () => {
  it('decodes G.711 mu-law as the standard tables give it', () => {
    expect(muLawToLinear(0xff)).toBe(0);
    expect(muLawToLinear(0x7f)).toBe(0);
    expect(muLawToLinear(0x80)).toBe(32124);
    expect(muLawToLinear(0x00)).toBe(-32124);
    expect(muLawToLinear(0xf0)).toBe(120);
    expect(muLawToLinear(0x70)).toBe(-120);
    // Louder codes are further from zero on each side.
    for (let b = 0x81; b <= 0xff; b++) expect(muLawToLinear(b)).toBeLessThanOrEqual(muLawToLinear(b - 1));
  });

  it('splits the channels: caller left, agent right, on one timeline', () => {
    const frames: Array<[number, number]> = [];
    for (let i = 0; i < 8000; i++) frames.push(i < 4000 ? [0x10, 0xff] : [0xff, 0x90]);
    const rec = decodeWav(serviceWav(frames));
    expect(rec.sampleRate).toBe(8000);
    expect(rec.durationMs).toBe(1000);
    const [caller, agent] = rec.channels;
    expect(caller[0]).toBeCloseTo(muLawToLinear(0x10) / 32768, 6);
    expect(agent[0]).toBe(0);
    expect(caller[4000]).toBe(0);
    expect(agent[4000]).toBeCloseTo(muLawToLinear(0x90) / 32768, 6);
  });

  it('reads a file cut short, whose header says more than is there, as far as it goes', () => {
    const data = Buffer.alloc(1600, 0xff);
    const file = Buffer.concat([wavHeader(16_000), data]);
    expect(decodeWav(file.buffer.slice(file.byteOffset, file.byteOffset + file.length)).durationMs).toBe(100);
    expect(() => decodeWav(new ArrayBuffer(8))).toThrow('not a WAV file');
  });

  it('draws peaks per column, and plays a 16-bit PCM copy', async () => {
    const samples = Float32Array.from([0, 0.5, -0.25, 0, 0, 0, 1, -1]);
    const { min, max } = peaks(samples, 4);
    expect([...max]).toEqual([0.5, 0, 0, 1]);
    expect([...min]).toEqual([0, -0.25, 0, -1]);

    const rec = decodeWav(serviceWav([[0x80, 0x00], [0xff, 0xff]]));
    const pcm = Buffer.from(await toPcmWav(rec).arrayBuffer());
    expect(pcm.toString('ascii', 0, 4)).toBe('RIFF');
    expect(pcm.readUInt16LE(20)).toBe(1);
    expect(pcm.readUInt16LE(22)).toBe(2);
    expect(pcm.readUInt32LE(24)).toBe(8000);
    expect(pcm.readUInt16LE(34)).toBe(16);
    expect([pcm.readInt16LE(44), pcm.readInt16LE(46)]).toEqual([32124, -32124]);
    expect(decodeWav(pcm.buffer.slice(pcm.byteOffset, pcm.byteOffset + pcm.length)).channels[0][0]).toBeCloseTo(32124 / 32768, 6);
  });
});

describe("the transcript's cursor", () => {
  const turns: Turn[] = [
    { speaker: 'agent', text: 'Hello', startMs: 0 },
    { speaker: 'caller', text: 'Hi', startMs: 1200 },
    { speaker: 'agent', text: 'How can', startMs: 2500, interrupted: true },
    { speaker: 'caller', text: 'Leak', startMs: 2900 },
  ];

  it.each([
    [-1, -1],
    [0, 0],
    [1199, 0],
    [1200, 1],
    [2600, 2],
    [2900, 3],
    [99_000, 3],
  ])('at %i ms is on turn %i', (ms, index) => {
    expect(activeTurnIndex(turns, ms)).toBe(index);
  });

  it('is on no turn of an empty transcript', () => {
    expect(activeTurnIndex([], 500)).toBe(-1);
  });
});
