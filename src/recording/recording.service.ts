import { mkdirSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { Injectable, type BeforeApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Logger } from 'pino';
import { AppConfig } from '../config/app-config';
import { CALL_SID } from '../twilio/twilio-protocol';
import { AppLogger } from '../logging/app-logger';
import { CallRecorder } from './call-recorder';
import { repairWav } from './wav';

const RECORDING_FILE = /^CA[0-9a-fA-F]{32}\.wav$/;

/** Where call recordings live: starts one per call and finds them again by file name. */
@Injectable()
export class RecordingService implements OnModuleInit, BeforeApplicationShutdown {
  private readonly log: Logger;
  private readonly dir: string;
  private readonly open = new Set<CallRecorder>();

  constructor(
    private readonly config: AppConfig,
    logger: AppLogger,
  ) {
    this.log = logger.child({ component: 'recording' });
    this.dir = resolve(config.recording.dir);
  }

  /** Repairs recordings that a crash left with a size-0 header, before any of them is served. */
  async onModuleInit(): Promise<void> {
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((name) => name.toLowerCase().endsWith('.wav'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn({ err, dir: this.dir }, 'recordings not checked');
      return;
    }
    let repaired = 0;
    let failed = 0;
    for (const name of names) {
      try {
        if (await repairWav(join(this.dir, name))) repaired++;
      } catch (err) {
        failed++;
        this.log.warn({ err, fileName: name }, 'recording not repaired');
      }
    }
    this.log.info({ dir: this.dir, checked: names.length, repaired, failed }, 'recordings checked');
  }

  /**
   * A recorder writing `<callSid>.wav`, or null when recording is off, the sid is not a call sid
   * or the directory cannot be created. Never throws: a call goes on without its recording.
   */
  start(callSid: string): CallRecorder | null {
    if (!this.config.recording.enabled) return null;
    if (typeof callSid !== 'string' || !CALL_SID.test(callSid)) {
      this.log.warn({ callSid: String(callSid).slice(0, 64) }, 'not recorded: invalid call sid');
      return null;
    }
    try {
      mkdirSync(this.dir, { recursive: true });
    } catch (err) {
      this.log.error({ err, callSid, dir: this.dir }, 'not recorded: recordings directory unavailable');
      return null;
    }
    const recorder = new CallRecorder(join(this.dir, `${callSid}.wav`), this.log.child({ callSid }));
    this.open.add(recorder);
    void recorder.closed.then(() => this.open.delete(recorder));
    return recorder;
  }

  /** Resolves once every recording started so far has been finished and closed. */
  async settled(): Promise<void> {
    await Promise.all([...this.open].map((recorder) => recorder.closed));
  }

  /**
   * Calls have ended by now (their modules are destroyed first) and their recorders are
   * finishing: wait for the files to be complete. One still open belongs to no call: close it.
   */
  async beforeApplicationShutdown(): Promise<void> {
    for (const recorder of this.open) recorder.abort();
    await this.settled();
  }

  /**
   * The absolute path of a recording by its file name, or null for anything but a plain
   * '<callSid>.wav' name inside the recordings directory. Does not check that the file exists.
   */
  pathOf(fileName: string): string | null {
    if (typeof fileName !== 'string' || !RECORDING_FILE.test(fileName)) return null;
    const path = resolve(this.dir, fileName);
    const rel = relative(this.dir, path);
    return rel === fileName && !rel.includes(sep) ? path : null;
  }
}
