import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Global, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { CommonModule } from '../common/common.module';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import { AppLogger } from '../logging/app-logger';
import { RecordingModule } from './recording.module';
import { RecordingService } from './recording.service';
import { parseWavHeader, wavHeader } from './wav';

const SID = 'CA0123456789abcdef0123456789ABCDEF';
const OTHER = 'CAffffffffffffffffffffffffffffffff';

type LogLine = { level: string; msg: string; [key: string]: unknown };

function setup(env: Record<string, string>): { service: RecordingService; lines: LogLine[]; config: AppConfig; logger: AppLogger } {
  const lines: LogLine[] = [];
  const config = new AppConfig(validateEnvironment({ LOG_LEVEL: 'debug', ...env }));
  const logger = new AppLogger(config, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { service: new RecordingService(config, logger), lines, config, logger };
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

describe('RecordingService', () => {
  let base: string;
  let dir: string;

  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'recording-service-spec-'));
    dir = join(base, 'nested', 'recordings');
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  it('starts a recorder writing <callSid>.wav, creating the directory', async () => {
    const { service } = setup({ RECORDINGS_DIR: dir });
    const rec = service.start(SID)!;
    expect(rec).not.toBeNull();
    expect(rec.fileName).toBe(`${SID}.wav`);
    rec.callerAudio(0, Buffer.alloc(160, 1));
    await rec.finish(1000);
    const path = service.pathOf(rec.fileName)!;
    expect(path).toBe(join(dir, `${SID}.wav`));
    expect(parseWavHeader(readFileSync(path))).toMatchObject({ channels: 2, dataSize: 16_000 });
  });

  it('records nothing when RECORDING_ENABLED is false', () => {
    const { service } = setup({ RECORDINGS_DIR: dir, RECORDING_ENABLED: 'false' });
    expect(service.start(SID)).toBeNull();
    expect(existsSync(dir)).toBe(false);
  });

  it.each(['', 'CA123', `${SID}0`, `${SID.slice(0, -1)}g`, `../${SID}`, `${SID}/..`, 'RE0123456789abcdef0123456789abcdef', `${SID}\n`])(
    'refuses %j as a call sid before it becomes a file name',
    (sid) => {
      const { service, lines } = setup({ RECORDINGS_DIR: dir });
      expect(service.start(sid)).toBeNull();
      expect(existsSync(dir)).toBe(false);
      expect(lines.find((l) => l.msg === 'not recorded: invalid call sid')).toBeDefined();
    },
  );

  it('resolves plain recording names inside the directory only', () => {
    const { service } = setup({ RECORDINGS_DIR: dir });
    expect(service.pathOf(`${SID}.wav`)).toBe(join(dir, `${SID}.wav`));
    for (const bad of [
      '',
      SID,
      `${SID}.WAV`,
      `${SID}.wav.bak`,
      `../${SID}.wav`,
      `x/../${SID}.wav`,
      `/etc/${SID}.wav`,
      join(dir, `${SID}.wav`),
      `${SID}.wav\0`,
      `%2e%2e%2f${SID}.wav`,
      'notes.wav',
      '..',
      '.',
    ]) {
      expect(service.pathOf(bad)).toBeNull();
    }
  });

  it('degrades without throwing when the directory cannot be created', () => {
    const file = join(base, 'a-file');
    writeFileSync(file, '');
    const { service, lines } = setup({ RECORDINGS_DIR: join(file, 'recordings') });
    expect(() => service.start(SID)).not.toThrow();
    expect(service.start(SID)).toBeNull();
    expect(lines.find((l) => l.msg === 'not recorded: recordings directory unavailable')).toMatchObject({ level: 'error', callSid: SID });
  });

  it('degrades without throwing when the file cannot be written: the recorder logs once and the call goes on', async () => {
    mkdirSync(join(dir, `${SID}.wav`), { recursive: true }); // a directory where the file would go
    const { service, lines } = setup({ RECORDINGS_DIR: dir });
    const rec = service.start(SID)!;
    expect(rec).not.toBeNull();
    expect(() => {
      for (let t = 0; t < 2000; t += 20) rec.callerAudio(t, Buffer.alloc(160, 1));
    }).not.toThrow();
    await rec.finish(2000);
    expect(rec.failed).toBe(true);
    const failures = lines.filter((l) => l.msg === 'recording failed; the rest of this call is not recorded');
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ callSid: SID, component: 'recording' });
  });

  describe('on boot', () => {
    it('repairs recordings a crash left with a size-0 header and leaves the rest alone', async () => {
      mkdirSync(dir, { recursive: true });
      const crashed = join(dir, `${SID}.wav`);
      writeFileSync(crashed, Buffer.concat([wavHeader(), Buffer.alloc(16_001, 1)]));
      const clean = join(dir, `${OTHER}.wav`);
      const cleanBytes = Buffer.concat([wavHeader(3200), Buffer.alloc(3200, 2)]);
      writeFileSync(clean, cleanBytes);
      writeFileSync(join(dir, 'junk.wav'), 'not a wav');
      writeFileSync(join(dir, 'readme.txt'), 'ignored');

      const { service, lines } = setup({ RECORDINGS_DIR: dir });
      await service.onModuleInit();

      const repaired = readFileSync(crashed);
      expect(repaired.length).toBe(44 + 16_000);
      expect(parseWavHeader(repaired)).toMatchObject({ dataSize: 16_000, riffSize: repaired.length - 8 });
      expect(readFileSync(clean).equals(cleanBytes)).toBe(true);
      expect(readFileSync(join(dir, 'junk.wav'), 'utf8')).toBe('not a wav');
      expect(lines.find((l) => l.msg === 'recordings checked')).toMatchObject({ checked: 3, repaired: 1, failed: 0 });
    });

    it('repairs the file of a recorder that never finished', async () => {
      const { service } = setup({ RECORDINGS_DIR: dir });
      const rec = service.start(SID)!;
      for (let t = 0; t < 3000; t += 20) rec.callerAudio(t, Buffer.alloc(160, 1));
      const path = join(dir, `${SID}.wav`);
      await whenOnDisk(path, () => existsSync(path) && statSync(path).size > 44);
      // As a crash leaves it: audio on disk behind a header with size 0.
      const onDisk = readFileSync(path);
      expect(parseWavHeader(onDisk)).toMatchObject({ dataSize: 0 });

      const next = setup({ RECORDINGS_DIR: dir });
      await next.service.onModuleInit();
      const repaired = readFileSync(path);
      expect(parseWavHeader(repaired)).toMatchObject({ dataSize: repaired.length - 44, riffSize: repaired.length - 8 });
      expect(repaired.length).toBeGreaterThanOrEqual(onDisk.length);
      expect(next.lines.find((l) => l.msg === 'recordings checked')).toMatchObject({ repaired: 1 });
      rec.abort();
      await rec.closed;
    });

    it('boots when there is no directory yet', async () => {
      const { service, lines } = setup({ RECORDINGS_DIR: dir });
      await expect(service.onModuleInit()).resolves.toBeUndefined();
      expect(lines.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
    });
  });

  it('is provided by RecordingModule and repairs on init', async () => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${SID}.wav`), Buffer.concat([wavHeader(), Buffer.alloc(320, 1)]));
    const { config, logger, lines } = setup({ RECORDINGS_DIR: dir });

    @Global()
    @Module({ providers: [{ provide: AppConfig, useValue: config }, { provide: AppLogger, useValue: logger }], exports: [AppConfig, AppLogger] })
    class Globals {}

    // CommonModule is global in the app: RecordingLinks takes its Clock.
    const moduleRef = await Test.createTestingModule({ imports: [Globals, CommonModule, RecordingModule] }).compile();
    await moduleRef.init();
    const service = moduleRef.get(RecordingService);
    expect(service.pathOf(`${SID}.wav`)).toBe(join(dir, `${SID}.wav`));
    expect(lines.find((l) => l.msg === 'recordings checked')).toMatchObject({ repaired: 1 });
    await moduleRef.close();
  });
});
