import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { brotliCompressSync, constants as zlibConstants } from 'node:zlib';
import * as tar from 'tar';

/**
 * An empty PGlite cluster made ahead of time (make-pglite-template.ts: PGlite's own initdb),
 * shipped in the build as a brotli-compressed tar (in TypeScript, so that the build carries it
 * into dist). A new data directory is the template unpacked, as a stream (in the worker's 'create'
 * task, pglite-worker.ts), instead of
 * the work of initdb, which needs 600-850 MB for a few seconds (it keeps a copy of a second
 * instance's whole WASM heap to reset it between the postgres runs initdb makes); PGlite's own
 * loadDataDir option would hold the whole 40 MB tar in memory several times over (about 100 MB
 * more at first boot). The cluster holds no schema and no settings of ours (those are start
 * parameters, see PGLITE_SETTINGS), so one made either way is the same to PGlite and to the
 * migrations.
 */
export interface PgliteTemplate {
  /** The @electric-sql/pglite version that made it: its catalog matches that version's postgres. */
  readonly pgliteVersion: string;
  /** SHA-256 of the tar, checked before PGlite unpacks it. */
  readonly sha256: string;
  readonly tarBytes: number;
  readonly brotliBase64: string;
}

export function installedPgliteVersion(): string {
  // The package exports no ./package.json; it sits above dist/, where the entry point is.
  const pkg = join(dirname(require.resolve('@electric-sql/pglite')), '..', 'package.json');
  return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
}

/**
 * The template, when it fits the installed PGlite; undefined when there is none or it was made by
 * another version (a cluster's catalog must match the server's). Loaded only when a cluster is
 * created, and dropped from the module cache after, so its megabytes do not stay resident.
 */
export function loadPgliteTemplate(): PgliteTemplate | undefined {
  const modulePath = require.resolve('./pglite-template-data');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { PGLITE_TEMPLATE } = require(modulePath) as { PGLITE_TEMPLATE?: PgliteTemplate };
    return PGLITE_TEMPLATE && PGLITE_TEMPLATE.pgliteVersion === installedPgliteVersion() ? PGLITE_TEMPLATE : undefined;
  } finally {
    delete require.cache[modulePath];
  }
}

export function makeTemplate(tar: Buffer, pgliteVersion: string): PgliteTemplate {
  const compressed = brotliCompressSync(tar, {
    params: {
      [zlibConstants.BROTLI_PARAM_QUALITY]: zlibConstants.BROTLI_MAX_QUALITY,
      [zlibConstants.BROTLI_PARAM_LGWIN]: zlibConstants.BROTLI_MAX_WINDOW_BITS,
      [zlibConstants.BROTLI_PARAM_SIZE_HINT]: tar.length,
    },
  });
  return { pgliteVersion, sha256: createHash('sha256').update(tar).digest('hex'), tarBytes: tar.length, brotliBase64: compressed.toString('base64') };
}

/** The tar of a cluster's directory, as the template holds it (paths relative to it, no owners). */
export async function packCluster(dir: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of tar.c({ cwd: dir, portable: true }, ['.'])) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/**
 * Syncs every file under `dir`, then the directories: a cluster renamed into place must not come
 * back from a power cut as names without their bytes.
 */
export async function syncTree(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await syncTree(path);
    else await syncPath(path);
  }
  await syncPath(dir);
}

export async function syncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
