'use strict';
/**
 * A simulated Twilio caller, as Twilio's Media Streams behave towards the app: `connected`, then
 * `start` (with the <Parameter>s of the TwiML as customParameters), then a 20 ms `media` frame
 * every 20 ms by wall clock until `stop`. Agent audio is played in real time from a queue: media
 * messages of any size are appended, marks are echoed once the audio before them has played,
 * `clear` empties the queue and echoes the marks still pending.
 *
 * Measured here: relay latency model→caller (every 20 ms of agent audio carries a stamp), lost,
 * reordered and late audio, audio that arrives after a clear, what the caller had heard of a reply
 * when the clear came (for the truncation check), marks and clears.
 */
const WebSocket = require('ws');
const { BYTES_PER_MS, FRAME_BYTES, FRAME_MS, LATE, UP_STAMP, now, readDownStamps, upFrameB64 } = require('./audio');
const { sendRaw } = require('./ws-raw');

const PAYLOAD_KEY = Buffer.from('"payload":"');
const MEDIA_PREFIX = Buffer.from('{"event":"media"');
const ACCOUNT_SID = 'AC00000000000000000000000000000001';
// Lean on the generator's side (the peer's work is the same either way): an all-zero mask, which
// ws then skips applying, no UTF-8 check of what the peer sends, and frames and mark echoes
// written straight to the socket (lib/ws-raw.js).
const CLIENT_OPTIONS = { perMessageDeflate: false, handshakeTimeout: 10000, skipUTF8Validation: true, generateMask: (mask) => mask.fill(0) };

/** What the callers of one worker measured in one phase; merged by the parent (lib/measure.js). */
function newCallerData() {
  return { down: [], downSteady: [], frameLateMs: [], calls: {}, heardAtClear: {} };
}

function newCallerCall() {
  return {
    webhookMs: null,
    startSentAt: null,
    upSent: 0,
    downStamps: 0,
    downLateStamps: 0,
    downGaps: 0,
    downReordered: 0,
    downForeign: 0,
    downSplitStamps: 0,
    audioAfterClearStamps: 0,
    downBytes: 0,
    mediaMessages: 0,
    marksReceived: 0,
    marksEchoed: 0,
    clears: 0,
    closedEarly: false,
    closeCode: null,
    warnings: [],
  };
}

class Caller {
  /** `idx` is the call's index in the phase (stamped in its audio); `sid` numbers its Twilio SIDs. */
  constructor(phase, idx, sid) {
    this.phase = phase; // { data, measuring, steadyFrom }
    this.idx = idx;
    this.pc = newCallerCall();
    phase.data.calls[idx] = this.pc;
    this.streamSid = `MZ${String(sid).padStart(32, '0')}`;
    this.callSid = `CA${String(sid).padStart(32, '0')}`;
    this.from = `+1555${String(1000000 + (sid % 1000000)).slice(-7)}`;
    this.seq = 0; // Twilio's sequenceNumber
    this.frameSeq = 0; // our stamped caller frame id
    this.header = Buffer.alloc(UP_STAMP, 0xff);
    // Twilio's field order: event, sequenceNumber, media, streamSid last.
    this.mediaPrefix = '{"event":"media","sequenceNumber":"';
    this.mediaSuffix = `"},"streamSid":"${this.streamSid}"}`;
    this.streamPrefix = Buffer.from(`{"event":"media","streamSid":"${this.streamSid}"`);
    this.stopping = false;
    this.closed = null;
    this.t0 = 0;
    this.k = 0;
    // Playback by wall clock: position = runStartBytes + (now - runStartAt) * 8, up to timelineEnd.
    this.timelineEnd = 0;
    this.runStartAt = 0;
    this.runStartBytes = 0;
    this.pendingMarks = [];
    this.markTimer = null;
    this.markDueAt = 0;
    this.downLastSeq = 0;
    this.replies = new Map(); // reply -> { startByte, endByte }
    this.currentReply = 0;
    this.clearedReply = 0;
  }

  connect(url) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, CLIENT_OPTIONS);
      this.ws = ws;
      this.closed = new Promise((resolveClosed) => {
        ws.on('close', (code) => {
          this.pc.closeCode = code;
          if (!this.stopping) this.pc.closedEarly = true;
          clearTimeout(this.markTimer);
          this.markTimer = null;
          this.pendingMarks = [];
          resolveClosed();
        });
      });
      ws.once('open', () => resolve());
      ws.on('error', (err) => {
        if (ws.readyState !== WebSocket.OPEN) reject(err);
      });
      ws.on('message', (data) => this.onMessage(data));
    });
  }

  get open() {
    return this.ws !== undefined && this.ws.readyState === WebSocket.OPEN;
  }

  sendJson(obj) {
    if (this.open) this.ws.send(JSON.stringify(obj));
  }

  warn(w) {
    if (this.pc.warnings.length < 5) this.pc.warnings.push(w);
  }

  begin(params) {
    this.sendJson({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    this.pc.startSentAt = now();
    this.sendJson({
      event: 'start',
      sequenceNumber: String(++this.seq),
      streamSid: this.streamSid,
      start: {
        streamSid: this.streamSid,
        accountSid: ACCOUNT_SID,
        callSid: this.callSid,
        tracks: ['inbound'],
        customParameters: params,
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
    });
    this.t0 = now();
  }

  sendFrame(tsMs) {
    const payload = upFrameB64(this.header, this.idx, ++this.frameSeq, now());
    this.pc.upSent++;
    sendRaw(this.ws, true, `${this.mediaPrefix}${++this.seq}","media":{"track":"inbound","chunk":"${this.frameSeq}","timestamp":"${tsMs}","payload":"${payload}${this.mediaSuffix}`);
  }

  sendStop() {
    this.stopping = true;
    this.sendJson({ event: 'stop', sequenceNumber: String(++this.seq), streamSid: this.streamSid, stop: { accountSid: ACCOUNT_SID, callSid: this.callSid } });
  }

  position(at) {
    return Math.min(this.timelineEnd, this.runStartBytes + Math.floor((at - this.runStartAt) * BYTES_PER_MS));
  }

  onMessage(data) {
    const at = now();
    if (data.length > MEDIA_PREFIX.length && data.compare(MEDIA_PREFIX, 0, MEDIA_PREFIX.length, 0, MEDIA_PREFIX.length) === 0) {
      this.onMedia(data, at);
      return;
    }
    let f;
    try {
      f = JSON.parse(data.toString('utf8'));
    } catch {
      this.warn('undecodable message');
      return;
    }
    if (f.streamSid !== this.streamSid) {
      this.warn(`${f.event} with a wrong streamSid`);
      return;
    }
    if (f.event === 'mark') {
      const name = f.mark && f.mark.name;
      if (typeof name !== 'string' || !name) {
        this.warn('mark without a name');
        return;
      }
      this.pc.marksReceived++;
      if (this.position(at) >= this.timelineEnd) this.echo(name);
      else this.pendingMarks.push({ name, atByte: this.timelineEnd });
      this.schedule(at);
    } else if (f.event === 'clear') {
      this.pc.clears++;
      const pos = this.position(at);
      const r = this.replies.get(this.currentReply);
      const key = `${this.idx}:${this.currentReply}`;
      if (r && this.phase.data.heardAtClear[key] === undefined) {
        this.phase.data.heardAtClear[key] = Math.max(0, Math.min(pos, r.endByte) - r.startByte) / BYTES_PER_MS;
      }
      this.clearedReply = this.currentReply;
      this.timelineEnd = pos;
      const flushed = this.pendingMarks;
      this.pendingMarks = [];
      for (const mk of flushed) this.echo(mk.name);
      this.schedule(at);
    } else {
      this.warn(`unexpected event ${f.event}`);
    }
  }

  /** A media message of any size: its audio joins the queue; every stamp in it is read. */
  onMedia(data, at) {
    if (data.compare(this.streamPrefix, 0, this.streamPrefix.length, 0, this.streamPrefix.length) !== 0) {
      this.warn('media with a wrong streamSid');
      return;
    }
    const from = data.indexOf(PAYLOAD_KEY) + PAYLOAD_KEY.length;
    const end = data.indexOf(0x22, from);
    if (from < PAYLOAD_KEY.length || end < 0) {
      this.warn('media without a payload');
      return;
    }
    const audio = Buffer.from(data.toString('latin1', from, end), 'base64');
    const pc = this.pc;
    const ph = this.phase;
    pc.mediaMessages++;
    pc.downBytes += audio.length;
    if (this.position(at) >= this.timelineEnd) {
      this.runStartAt = at;
      this.runStartBytes = this.timelineEnd;
    }
    const base = this.timelineEnd;
    let lastReply = 0;
    pc.downSplitStamps += readDownStamps(audio, (off, callIdx, seq, reply, frame, flags, sentAt) => {
      if (callIdx !== this.idx) {
        pc.downForeign++;
        return;
      }
      if (ph.measuring) {
        ph.data.down.push(at - sentAt);
        if (sentAt >= ph.steadyFrom) ph.data.downSteady.push(at - sentAt);
      }
      if (flags & LATE) pc.downLateStamps++;
      else {
        pc.downStamps++;
        if (seq <= this.downLastSeq) pc.downReordered++;
        else {
          if (seq > this.downLastSeq + 1) pc.downGaps += seq - this.downLastSeq - 1;
          this.downLastSeq = seq;
        }
      }
      if (reply <= this.clearedReply) pc.audioAfterClearStamps++;
      if (!this.replies.has(reply)) {
        this.replies.set(reply, { startByte: base + off - frame * FRAME_BYTES, endByte: base });
        if (reply > this.currentReply) this.currentReply = reply;
      }
      lastReply = reply;
    });
    this.timelineEnd += audio.length;
    const r = this.replies.get(lastReply || this.currentReply);
    if (r) r.endByte = this.timelineEnd;
    this.schedule(at);
  }

  echo(name) {
    this.pc.marksEchoed++;
    sendRaw(this.ws, true, `{"event":"mark","sequenceNumber":"${++this.seq}","streamSid":"${this.streamSid}","mark":{"name":${JSON.stringify(name)}}}`);
  }

  /** Echoes the marks whose audio has played and keeps one timer armed for the next. */
  schedule(at) {
    const pos = this.position(at);
    while (this.pendingMarks.length > 0 && this.pendingMarks[0].atByte <= pos) this.echo(this.pendingMarks.shift().name);
    if (this.pendingMarks.length === 0) {
      clearTimeout(this.markTimer);
      this.markTimer = null;
      return;
    }
    const dueAt = this.runStartAt + (this.pendingMarks[0].atByte - this.runStartBytes) / BYTES_PER_MS;
    if (this.markTimer !== null && dueAt === this.markDueAt) return;
    clearTimeout(this.markTimer);
    this.markDueAt = dueAt;
    this.markTimer = setTimeout(() => {
      this.markTimer = null;
      this.schedule(now());
    }, Math.max(0, Math.ceil(dueAt - at)));
  }
}

/**
 * One 1 ms clock for all the callers of a process: each sends its frame k at t0 + 20 ms * k by
 * wall clock, from its start for `frames` frames. How late each frame went out is kept: it is the
 * generator's own lag.
 */
class Ticker {
  constructor(data) {
    this.data = data;
    this.callers = [];
    this.timer = null;
    this.waiters = [];
  }

  add(caller, frames) {
    caller.k = 0;
    caller.frames = frames;
    this.callers.push(caller);
    if (!this.timer) this.timer = setInterval(() => this.tick(), 1);
    this.tick();
  }

  tick() {
    const at = now();
    let remaining = 0;
    const late = this.data.frameLateMs;
    for (const c of this.callers) {
      if (c.k >= c.frames) continue;
      if (!c.open) {
        c.k = c.frames;
        continue;
      }
      while (c.k < c.frames) {
        const due = c.t0 + c.k * FRAME_MS;
        if (at < due) break;
        late.push(at - due);
        c.sendFrame(c.k * FRAME_MS);
        c.k++;
      }
      if (c.k < c.frames) remaining++;
    }
    if (remaining === 0 && this.waiters.length > 0) {
      clearInterval(this.timer);
      this.timer = null;
      this.callers = [];
      for (const w of this.waiters.splice(0)) w();
    }
  }

  /** Resolves once every caller added has sent all its frames (or closed). */
  done() {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.tick();
    });
  }
}

module.exports = { Caller, Ticker, newCallerData };
