/**
 * What PgliteSqlClient runs in its worker thread, as plain CommonJS source for `new Worker(...,
 * { eval: true })`: a file would need its own build step, and a .ts worker cannot run under the
 * test runner. workerData: { modulePath, dataDir, niceness }.
 *
 * Requests (each with a numeric id, answered by { id, result } or { id, error }):
 *   { op: 'query', sql, params, tx? }   rows; in the transaction `tx` when given
 *   { op: 'begin' }                     opens a transaction whose id is this request's id
 *   { op: 'end', tx, commit }           commits or rolls it back
 *   { op: 'close' }
 * Unasked: { event: 'startup-failed', error }.
 */
export const PGLITE_WORKER_SOURCE = String.raw`
'use strict';
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

const toNumber = (value) => Number(value);
const db = new PGlite(workerData.dataDir, { parsers: { [types.NUMERIC]: toNumber, [types.INT8]: toNumber } });
db.waitReady.catch((err) => parentPort.postMessage({ event: 'startup-failed', error: serialize(err) }));

const ROLLBACK = Symbol('rollback');
const transactions = new Map();

const ERROR_FIELDS = ['code', 'severity', 'detail', 'hint', 'position', 'schema', 'table', 'column', 'constraint', 'where'];
function serialize(err) {
  const source = err !== null && typeof err === 'object' ? err : { message: String(err) };
  const out = { name: String(source.name || 'Error'), message: String(source.message) };
  for (const field of ERROR_FIELDS) if (source[field] !== undefined) out[field] = String(source[field]);
  return out;
}

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

parentPort.on('message', (msg) => {
  handle(msg).then(
    (result) => parentPort.postMessage({ id: msg.id, result }),
    (err) => parentPort.postMessage({ id: msg.id, error: serialize(err) }),
  );
});
`;
