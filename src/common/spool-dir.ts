import { mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const SUFFIX = '.json';

/** A file taken from a spool directory: its content, and its removal once it has been dealt with. */
export interface SpooledFile<T> {
  readonly file: string;
  read(): Promise<T>;
  remove(): Promise<void>;
}

/**
 * A directory of JSON files that hold what could not be written to the database, to be taken up
 * at the next boot. Each file is written whole, then renamed into place: a crash mid-write never
 * leaves half a file to replay.
 */
export class SpoolDir<T> {
  constructor(private readonly dir: string) {}

  /** Writes (or replaces) the file of `key`. Rejects when the disk will not take it. */
  async put(key: string, value: T): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const path = join(this.dir, `${key}${SUFFIX}`);
    await writeFile(`${path}.tmp`, JSON.stringify(value));
    await rename(`${path}.tmp`, path);
  }

  /** The files spooled so far (none when the directory does not exist). */
  async files(): Promise<Array<SpooledFile<T>>> {
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((f) => f.endsWith(SUFFIX));
    } catch {
      return [];
    }
    return names.map((file) => {
      const path = join(this.dir, file);
      return { file, read: async () => JSON.parse(await readFile(path, 'utf8')) as T, remove: () => unlink(path) };
    });
  }
}
