/**
 * What PgliteSqlClient runs in its worker threads, as plain CommonJS source for `new Worker(...,
 * { eval: true })`: a file would need its own build step, and a .ts worker cannot run under the
 * test runner. workerData: { task, modulePath, tarModulePath, dataDir, niceness, startParams, template? };
 * startParams (`-c name=value` pairs) go after PGlite's own.
 *
 * task 'create' makes a cluster in an empty directory, then the thread ends: the template unpacked
 * (a PgliteTemplate, streamed through the `tar` package, checksum checked), else, or if that
 * fails, PGlite's initdb. It posts { event: 'template-failed', error } before falling back, then
 * { event: 'created', from: 'template' | 'initdb' } or { event: 'create-failed', error }. A thread
 * of its own: initdb's WASM heap (600-850 MB), and the garbage of unpacking 40 MB, are given back
 * only when a thread ends.
 *
 * task 'serve' runs the database. Requests (each with a numeric id, answered by { id, result } or
 * { id, error }):
 *   { op: 'query', sql, params, tx? }   rows; in the transaction `tx` when given
 *   { op: 'begin' }                     opens a transaction whose id is this request's id
 *   { op: 'end', tx, commit }           commits or rolls it back
 *   { op: 'close' }
 * Unasked: { event: 'startup-failed', error }.
 */
export const PGLITE_WORKER_SOURCE = String.raw`
'use strict';
const { createHash } = require('node:crypto');
const { readdirSync, rmSync } = require('node:fs');
const { join } = require('node:path');
const { Readable, Transform } = require('node:stream');
const { pipeline } = require('node:stream/promises');
const { createBrotliDecompress } = require('node:zlib');
const { parentPort, workerData } = require('node:worker_threads');
const { setPriority } = require('node:os');
const { PGlite, types } = require(workerData.modulePath);

// On Linux, pid 0 is this thread only: the database yields the CPU to the audio relay on the main
// thread, so a burst of writes (many calls starting at once) cannot stall live calls' frames.
try {
  setPriority(0, workerData.niceness);
} catch {
  // not permitted or not supported: run at normal priority
}

const ERROR_FIELDS = ['code', 'severity', 'detail', 'hint', 'position', 'schema', 'table', 'column', 'constraint', 'where'];
function serialize(err) {
  const source = err !== null && typeof err === 'object' ? err : { message: String(err) };
  const out = { name: String(source.name || 'Error'), message: String(source.message) };
  for (const field of ERROR_FIELDS) if (source[field] !== undefined) out[field] = String(source[field]);
  return out;
}

const toNumber = (value) => Number(value);
const openPglite = (dataDir) =>
  new PGlite(dataDir, {
    parsers: { [types.NUMERIC]: toNumber, [types.INT8]: toNumber },
    startParams: [...PGlite.defaultStartParams, ...(workerData.startParams || [])],
  });

// ---- task 'create' ----

// Streamed, so only a few MB are held; its checksum checked at the end (the caller renames nothing
// into place on an error).
async function unpack(template, dir) {
  const tar = require(workerData.tarModulePath);
  const hash = createHash('sha256');
  let bytes = 0;
  await pipeline(
    Readable.from([Buffer.from(template.brotliBase64, 'base64')]),
    createBrotliDecompress(),
    new Transform({
      transform(chunk, _encoding, done) {
        hash.update(chunk);
        bytes += chunk.length;
        done(null, chunk);
      },
    }),
    tar.x({ cwd: dir, strict: true }),
  );
  const sha256 = hash.digest('hex');
  if (bytes !== template.tarBytes || sha256 !== template.sha256) {
    throw new Error('embedded database template is damaged (' + bytes + ' bytes, sha256 ' + sha256 + ')');
  }
}

async function create() {
  const dir = workerData.dataDir;
  if (workerData.template) {
    try {
      await unpack(workerData.template, dir);
      return 'template';
    } catch (err) {
      parentPort.postMessage({ event: 'template-failed', error: serialize(err) });
      // initdb wants the directory empty.
      for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
    }
  }
  const db = openPglite(dir);
  try {
    await db.waitReady;
  } finally {
    if (!db.closed) await db.close().catch(() => undefined);
  }
  return 'initdb';
}

// ---- task 'serve' ----

let db;
const ROLLBACK = Symbol('rollback');
const transactions = new Map();

async function run(executor, sql, params) {
  if (params && params.length > 0) return (await executor.query(sql, params)).rows;
  // Without parameters: the simple protocol, which allows several statements.
  const results = await executor.exec(sql);
  return results.length > 0 ? results[results.length - 1].rows : [];
}

function begin(id) {
  const entry = {};
  entry.done = new Promise((resolve, reject) => {
    entry.commit = resolve;
    entry.rollback = () => reject(ROLLBACK);
  });
  transactions.set(id, entry);
  return new Promise((began, failed) => {
    // PGlite queues this behind any running transaction and every query behind it.
    entry.settled = db.transaction(async (tx) => {
      entry.tx = tx;
      began(id);
      return entry.done;
    });
    entry.settled.catch(failed);
    entry.settled.finally(() => transactions.delete(id)).catch(() => undefined);
  });
}

async function end(txId, commit) {
  const entry = transactions.get(txId);
  if (!entry || !entry.tx) throw new Error('transaction ' + txId + ' is not open');
  if (commit) entry.commit();
  else entry.rollback();
  try {
    await entry.settled;
  } catch (err) {
    if (err !== ROLLBACK) throw err;
  }
  return null;
}

async function handle(msg) {
  switch (msg.op) {
    case 'query': {
      if (msg.tx === undefined) return run(db, msg.sql, msg.params);
      const entry = transactions.get(msg.tx);
      if (!entry || !entry.tx) throw new Error('transaction ' + msg.tx + ' is not open');
      return run(entry.tx, msg.sql, msg.params);
    }
    case 'begin':
      return begin(msg.id);
    case 'end':
      return end(msg.tx, msg.commit);
    case 'close':
      if (!db.closed) await db.close();
      return null;
    default:
      throw new Error('unknown request ' + msg.op);
  }
}

if (workerData.task === 'create') {
  create().then(
    (from) => parentPort.postMessage({ event: 'created', from }),
    (err) => parentPort.postMessage({ event: 'create-failed', error: serialize(err) }),
  );
} else {
  db = openPglite(workerData.dataDir);
  db.waitReady.catch((err) => parentPort.postMessage({ event: 'startup-failed', error: serialize(err) }));
  parentPort.on('message', (msg) => {
    handle(msg).then(
      (result) => parentPort.postMessage({ id: msg.id, result }),
      (err) => parentPort.postMessage({ id: msg.id, error: serialize(err) }),
    );
  });
}
`;
