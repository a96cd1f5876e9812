'use strict';
/**
 * The audio both sides of the bench exchange, and the clock they share.
 *
 * Every 20 ms caller frame and every 20 ms of agent audio carries a stamp (magic, call, sequence
 * id, send time) in its first bytes; the rest is mu-law silence (0xff), so a stamp is found again
 * by searching for its magic, whatever size of media message a relay sends. Stamps hold times on
 * a clock every bench process shares (CLOCK_MONOTONIC), so a frame stamped in one generator
 * process can be timed in another.
 */
const { performance } = require('perf_hooks');

const FRAME_BYTES = 160; // 20 ms of 8 kHz mu-law
const FRAME_MS = 20;
const BYTES_PER_MS = 8;
const SILENCE = 0xff;

// process.hrtime is CLOCK_MONOTONIC, the same in every process; performance.now() is cheaper
// and counts from this process's start on the same clock, so one offset turns one into the other.
const CLOCK_OFFSET = Number(process.hrtime.bigint()) / 1e6 - performance.now();
/** Milliseconds on the clock all bench processes share. */
const now = () => performance.now() + CLOCK_OFFSET;

// ---- caller -> model: one stamp at the start of every 160-byte caller frame --------------------

const UP_MAGIC = Buffer.from([0xc1, 0x11]);
// magic 2, call 2, seq 4, sent at 8, padding 2: a multiple of 3 bytes, so its base64 can be joined
// to the precomputed base64 of the frame's constant tail.
const UP_STAMP = 18;
const UP_TAIL_B64 = Buffer.alloc(FRAME_BYTES - UP_STAMP, SILENCE).toString('base64');
const UP_FRAME_B64 = Math.ceil(FRAME_BYTES / 3) * 4;
const UP_STAMP_B64 = (UP_STAMP / 3) * 4;

/** Writes a caller frame's stamp into `header` (UP_STAMP bytes) and returns the frame's base64. */
function upFrameB64(header, callIdx, seq, sentAt) {
  header[0] = UP_MAGIC[0];
  header[1] = UP_MAGIC[1];
  header.writeUInt16LE(callIdx, 2);
  header.writeUInt32LE(seq, 4);
  header.writeDoubleLE(sentAt, 8);
  return header.toString('base64') + UP_TAIL_B64;
}

/**
 * Reads the caller stamps in an appended base64 payload; calls fn(callIdx, seq, sentAt) for each
 * and returns how many bytes of audio the payload held. A single frame is read from its first
 * characters only; anything else (a relay that joins or splits frames) is decoded and searched.
 */
function readUpStamps(b64, fn) {
  if (b64.length === UP_FRAME_B64) {
    const head = Buffer.from(b64.slice(0, UP_STAMP_B64), 'base64');
    if (head[0] === UP_MAGIC[0] && head[1] === UP_MAGIC[1]) fn(head.readUInt16LE(2), head.readUInt32LE(4), head.readDoubleLE(8));
    else fn(-1, 0, 0);
    return FRAME_BYTES;
  }
  const buf = Buffer.from(b64, 'base64');
  let found = 0;
  for (let p = buf.indexOf(UP_MAGIC); p >= 0 && p + UP_STAMP <= buf.length; p = buf.indexOf(UP_MAGIC, p + UP_STAMP)) {
    fn(buf.readUInt16LE(p + 2), buf.readUInt32LE(p + 4), buf.readDoubleLE(p + 8));
    found++;
  }
  if (found === 0) fn(-1, 0, 0);
  return buf.length;
}

// ---- model -> caller: one stamp every 160 bytes of a reply's audio --------------------------------

const DOWN_MAGIC = Buffer.from([0xa6, 0xe7]);
// magic 2, call 2, seq 4, reply 2, frame in reply 2, flags 1, padding 3, sent at 8
const DOWN_STAMP = 24;
/** Flag: audio the model sent after it reported the caller's speech; a relay must not play it. */
const LATE = 1;

/**
 * Agent audio for one delta: `bytes` of silence with a stamp at every multiple of 160 bytes of the
 * reply's audio (`replyOffset` is where this delta starts in it) that fits whole in the delta.
 * Returns the buffer and how many stamps it carries. `nextSeq()` numbers the stamps.
 */
function downDelta(bytes, replyOffset, callIdx, reply, flags, sentAt, nextSeq) {
  const buf = Buffer.alloc(bytes, SILENCE);
  let stamps = 0;
  const first = Math.ceil(replyOffset / FRAME_BYTES) * FRAME_BYTES;
  for (let at = first; at - replyOffset + DOWN_STAMP <= bytes; at += FRAME_BYTES) {
    const o = at - replyOffset;
    buf[o] = DOWN_MAGIC[0];
    buf[o + 1] = DOWN_MAGIC[1];
    buf.writeUInt16LE(callIdx, o + 2);
    buf.writeUInt32LE(nextSeq(), o + 4);
    buf.writeUInt16LE(reply, o + 8);
    buf.writeUInt16LE(at / FRAME_BYTES, o + 10);
    buf[o + 12] = flags;
    buf.writeDoubleLE(sentAt, o + 16);
    stamps++;
  }
  return { buf, stamps };
}

/**
 * Reads the agent stamps in a decoded media payload: fn(offset, callIdx, seq, reply, frame, flags,
 * sentAt) for each. Returns how many stamps were cut off at the payload's end (a relay that splits
 * audio at other places than 20 ms boundaries of the reply; none of the peers does).
 */
function readDownStamps(buf, fn) {
  let p = buf.indexOf(DOWN_MAGIC);
  while (p >= 0) {
    if (p + DOWN_STAMP > buf.length) return 1;
    fn(p, buf.readUInt16LE(p + 2), buf.readUInt32LE(p + 4), buf.readUInt16LE(p + 8), buf.readUInt16LE(p + 10), buf[p + 12], buf.readDoubleLE(p + 16));
    p = buf.indexOf(DOWN_MAGIC, p + DOWN_STAMP);
  }
  return 0;
}

module.exports = {
  FRAME_BYTES,
  FRAME_MS,
  BYTES_PER_MS,
  SILENCE,
  now,
  UP_STAMP,
  upFrameB64,
  readUpStamps,
  DOWN_STAMP,
  LATE,
  downDelta,
  readDownStamps,
};
