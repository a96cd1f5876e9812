'use strict';
/**
 * A mock of the OpenAI Realtime API (GA event shapes) for the relay under test to connect to.
 *
 * Per connection: session.created, session.updated for each session.update; caller audio read
 * from input_audio_buffer.append (stamps timed, sequence checked); after each caller turn a reply
 * as the traffic profile says: response.created, output item and content part added, the audio
 * deltas (each with a transcript delta when transcripts are on), audio/transcript/part/item done,
 * response.done with usage, rate_limits.updated. A tool turn ends its audio with a
 * save_job_request function call; the follow-up reply is sent when the relay has sent the call's
 * function_call_output and response.create (for a relay without tools, a few ms after the
 * response is done). An interrupted reply gets input_audio_buffer.speech_started while its audio
 * is still being sent; the mock then sends one more delta (late audio, which the relay must not
 * play) and waits for response.cancel (300 ms at most, then cancels it itself as the server's
 * VAD would). response.cancel with nothing active gets the API's response_cancel_not_active.
 * response.create for anything else (the service's greeting) is not answered, so every relay gets
 * the same traffic.
 */
const http = require('http');
const WebSocket = require('ws');
const { BYTES_PER_MS, LATE, now, readUpStamps, downDelta } = require('./audio');
const { picked } = require('./traffic');
const { sendRaw } = require('./ws-raw');

const APPEND_PREFIX = Buffer.from('{"type":"input_audio_buffer.append","audio":"');
/** Deltas the mock still sends after speech_started, while the relay reacts. */
const LATE_DELTAS = 1;
/** How long an interrupted reply waits for response.cancel before the mock cancels it itself. */
const CANCEL_WAIT_MS = 300;
/** How long a tool turn waits for the relay's function_call_output and response.create. */
const FOLLOW_UP_WAIT_MS = 3000;
/** For a relay without tools: the follow-up starts this long after the tool turn's response.done. */
const NO_TOOLS_FOLLOW_UP_MS = 5;
const SPEECH_MS = 300;

const WORDS = 'Thanks for calling Acme Plumbing this is the after hours line I can take your details and get a plumber out to you can you tell me what is going on and the address of the property'.split(' ');
const JOB_ARGS = JSON.stringify({
  caller_name: 'Dana Smith',
  callback_number: '(415) 555-2671',
  service_address: '12 Main Street, Springfield',
  problem: 'Burst pipe under the kitchen sink',
  urgency: 'urgent',
  preferred_time: 'Tomorrow morning',
});
const USAGE = {
  total_tokens: 120,
  input_tokens: 100,
  output_tokens: 20,
  input_token_details: { text_tokens: 10, audio_tokens: 90, cached_tokens: 0 },
  output_token_details: { text_tokens: 5, audio_tokens: 15 },
};

/** What the mock measured in one phase, per worker; merged by the parent (lib/measure.js). */
function newMockData() {
  return {
    up: [],
    upSteady: [],
    /** callIdx -> per-call figures */
    calls: {},
    /** `${callIdx}:${reply}` -> interrupted reply */
    interrupts: {},
    toolRoundTripMs: [],
    counters: {
      connections: 0,
      connectionsWithoutAudio: 0,
      unstampedAppends: 0,
      sessionUpdates: 0,
      responseCreates: 0,
      repliesStarted: 0,
      followUpsStarted: 0,
      followUpsWithoutRelay: 0,
      followUpsMissing: 0,
      toolCalls: 0,
      toolOutputs: 0,
      toolOutputsSaved: 0,
      truncates: 0,
      truncatesUnknownItem: 0,
      cancels: 0,
      cancelsNotActive: 0,
      errorsFromRelay: 0,
      undecodable: 0,
    },
  };
}

function newMockCall() {
  return {
    sessionUpdateAt: null,
    upReceived: 0,
    upFirstSeq: 0,
    upLastSeq: 0,
    upGaps: 0,
    upReordered: 0,
    downStampsSent: 0,
    downLateStampsSent: 0,
    downBytesSent: 0,
    deltasSent: 0,
  };
}

class MockRealtime {
  constructor() {
    this.http = http.createServer((_req, res) => res.writeHead(426).end('WebSocket only'));
    this.wss = new WebSocket.Server({ noServer: true, clientTracking: false, perMessageDeflate: false, skipUTF8Validation: true });
    this.connections = new Set();
    this.http.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url || '/', 'http://127.0.0.1');
      if (url.pathname !== '/v1/realtime') {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws));
    });
    this.phase = null;
  }

  /** Serves the connections a listening server (shared with the other workers) accepts here. */
  attach(server) {
    server.on('connection', (socket) => this.http.emit('connection', socket));
  }

  /** A new phase: traffic, whether the relay runs tools, and a fresh set of measurements. */
  beginPhase({ id, traffic, tools }) {
    this.phase = { id, traffic, tools, measuring: true, accepting: true, steadyFrom: Infinity, data: newMockData() };
  }

  /** Replies in progress or waiting for a tool's follow-up. */
  busy() {
    let n = 0;
    for (const c of this.connections) if (c.phase === this.phase && (c.active || c.awaitingFollowUp)) n++;
    return n;
  }

  endPhase() {
    const ph = this.phase;
    for (const c of this.connections) if (c.phase === ph && c.callIdx < 0) ph.data.counters.connectionsWithoutAudio++;
    return ph.data;
  }

  onConnection(ws) {
    const ph = this.phase;
    const conn = { ws, phase: ph, callIdx: -1, pc: null, sessionUpdateAt: null, sinceTurn: 0, reply: 0, plainTurns: 0, active: null, awaitingFollowUp: null, reqSeq: 0, lateSeq: 0, eventSeq: 0, timers: new Set() };
    if (ph) ph.data.counters.connections++;
    this.connections.add(conn);
    ws.on('error', () => undefined);
    ws.on('close', () => {
      for (const t of conn.timers) clearTimeout(t);
      conn.timers.clear();
      conn.active = null;
      conn.awaitingFollowUp = null;
      this.connections.delete(conn);
    });
    ws.on('message', (data) => this.onMessage(conn, data));
    this.send(conn, { type: 'session.created', session: { type: 'realtime', object: 'realtime.session', id: 'sess_bench' } });
  }

  /** Events sent together leave in one write, as the API's often arrive in one segment. */
  batch(conn, fn) {
    const socket = conn.ws._socket;
    if (!socket) return fn();
    socket.cork();
    try {
      return fn();
    } finally {
      socket.uncork();
    }
  }

  send(conn, ev) {
    if (conn.ws.readyState !== WebSocket.OPEN) return;
    ev.event_id = `event_${++conn.eventSeq}`;
    conn.ws.send(JSON.stringify(ev));
  }

  timer(conn, ms, fn) {
    const t = setTimeout(() => {
      conn.timers.delete(t);
      fn();
    }, Math.max(0, ms));
    conn.timers.add(t);
  }

  onMessage(conn, data) {
    const at = now();
    if (data.length > APPEND_PREFIX.length && data.compare(APPEND_PREFIX, 0, APPEND_PREFIX.length, 0, APPEND_PREFIX.length) === 0) {
      // The hot message, read without JSON.parse so the generator stays cheap.
      this.onAppend(conn, data.toString('latin1', APPEND_PREFIX.length, data.lastIndexOf(0x22)), at);
      return;
    }
    const ph = conn.phase;
    let ev;
    try {
      ev = JSON.parse(data.toString('utf8'));
    } catch {
      if (ph) ph.data.counters.undecodable++;
      return;
    }
    if (!ph) return;
    const k = ph.data.counters;
    switch (ev.type) {
      case 'input_audio_buffer.append':
        this.onAppend(conn, String(ev.audio || ''), at);
        return;
      case 'session.update':
        k.sessionUpdates++;
        if (conn.sessionUpdateAt === null) {
          conn.sessionUpdateAt = at;
          if (conn.pc && conn.pc.sessionUpdateAt === null) conn.pc.sessionUpdateAt = at;
        }
        this.send(conn, { type: 'session.updated', session: ev.session || {} });
        return;
      case 'conversation.item.truncate': {
        k.truncates++;
        const m = /^item_(\d+)_(\d+)$/.exec(ev.item_id || '');
        const intr = m ? ph.data.interrupts[`${m[1]}:${m[2]}`] : undefined;
        if (!intr) {
          k.truncatesUnknownItem++;
          return;
        }
        intr.truncates++;
        if (intr.audioEndMs === null) intr.audioEndMs = ev.audio_end_ms;
        this.send(conn, { type: 'conversation.item.truncated', item_id: ev.item_id, content_index: 0, audio_end_ms: ev.audio_end_ms });
        return;
      }
      case 'response.cancel':
        k.cancels++;
        this.batch(conn, () => this.onCancel(conn, ev.response_id));
        return;
      case 'conversation.item.create':
        if (ev.item && ev.item.type === 'function_call_output') {
          k.toolOutputs++;
          if (typeof ev.item.output === 'string' && ev.item.output.includes('"saved":true')) k.toolOutputsSaved++;
          const w = conn.awaitingFollowUp;
          if (w && ev.item.call_id === w.callId) w.outputAt = at;
          this.send(conn, { type: 'conversation.item.added', previous_item_id: null, item: { id: `item_out_${conn.callIdx}_${conn.reply}`, type: 'function_call_output', call_id: ev.item.call_id, output: '' } });
        }
        return;
      case 'response.create': {
        k.responseCreates++;
        const w = conn.awaitingFollowUp;
        if (w && w.outputAt !== null && !conn.active) {
          ph.data.toolRoundTripMs.push(at - w.doneAt);
          conn.awaitingFollowUp = null;
          this.startReply(conn, 'follow-up');
        }
        return;
      }
      case 'error':
        k.errorsFromRelay++;
        return;
      default:
        return;
    }
  }

  onAppend(conn, b64, at) {
    const ph = conn.phase;
    if (!ph) return;
    const d = ph.data;
    const bytes = readUpStamps(b64, (callIdx, seq, sentAt) => {
      if (callIdx < 0) {
        d.counters.unstampedAppends++;
        return;
      }
      if (conn.callIdx < 0) {
        conn.callIdx = callIdx;
        conn.pc = d.calls[callIdx] || (d.calls[callIdx] = newMockCall());
        if (conn.sessionUpdateAt !== null && conn.pc.sessionUpdateAt === null) conn.pc.sessionUpdateAt = conn.sessionUpdateAt;
      }
      const pc = conn.pc;
      if (ph.measuring) {
        d.up.push(at - sentAt);
        if (sentAt >= ph.steadyFrom) d.upSteady.push(at - sentAt);
      }
      pc.upReceived++;
      if (pc.upFirstSeq === 0) pc.upFirstSeq = seq;
      if (seq <= pc.upLastSeq) pc.upReordered++;
      else {
        if (pc.upLastSeq > 0 && seq > pc.upLastSeq + 1) pc.upGaps += seq - pc.upLastSeq - 1;
        pc.upLastSeq = seq;
      }
    });
    if (conn.callIdx < 0) return;
    conn.sinceTurn += bytes;
    if (ph.accepting && !conn.active && !conn.awaitingFollowUp && conn.sinceTurn >= ph.traffic.turnMs * BYTES_PER_MS) this.startReply(conn, 'turn');
  }

  startReplyNow(conn, kind) {
    const ph = conn.phase;
    const t = ph.traffic;
    const c = conn.callIdx;
    const r = ++conn.reply;
    const tool = kind === 'turn' && picked(t.toolShare, r, c);
    // Interruptions are spread over the turns without a tool call.
    const interrupt = kind === 'turn' && !tool && picked(t.interruptShare, ++conn.plainTurns, c + 1);
    const audioBytes = Math.round((tool ? t.toolLeadMs : t.replyMs) * BYTES_PER_MS);
    const rep = {
      r,
      responseId: `resp_${c}_${r}`,
      itemId: `item_${c}_${r}`,
      audioBytes,
      deltaBytes: Math.max(1, Math.round(t.deltaMs * BYTES_PER_MS)),
      intervalMs: t.deltaMs / t.pace,
      sent: 0,
      i: 0,
      t0: now(),
      tool,
      interruptedAt: null,
      lateLeft: 0,
      finished: false,
      transcript: '',
    };
    conn.active = rep;
    // The next turn is counted from when this reply will have played.
    conn.sinceTurn = -audioBytes;
    ph.data.counters.repliesStarted++;
    if (kind === 'follow-up') ph.data.counters.followUpsStarted++;
    if (t.transcripts && kind === 'turn') {
      this.send(conn, { type: 'conversation.item.input_audio_transcription.completed', item_id: `item_user_${c}_${r}`, content_index: 0, transcript: 'My kitchen sink pipe burst, can someone come out?' });
    }
    this.send(conn, { type: 'response.created', response: { object: 'realtime.response', id: rep.responseId, status: 'in_progress', output: [], usage: null } });
    this.send(conn, {
      type: 'response.output_item.added',
      response_id: rep.responseId,
      output_index: 0,
      item: { id: rep.itemId, object: 'realtime.item', type: 'message', status: 'in_progress', role: 'assistant', content: [] },
    });
    this.send(conn, { type: 'response.content_part.added', response_id: rep.responseId, item_id: rep.itemId, output_index: 0, content_index: 0, part: { type: 'audio', transcript: '' } });
    if (interrupt) this.timer(conn, t.interruptAfterMs, () => this.interrupt(conn, rep));
    this.sendDelta(conn, rep);
  }

  startReply(conn, kind) {
    this.batch(conn, () => this.startReplyNow(conn, kind));
  }

  sendDelta(conn, rep) {
    if (conn.active !== rep || rep.finished || conn.ws.readyState !== WebSocket.OPEN) return;
    const late = rep.interruptedAt !== null;
    if (late && rep.lateLeft === 0) return; // waiting for response.cancel
    const ph = conn.phase;
    const pc = conn.pc;
    const bytes = Math.min(rep.deltaBytes, rep.audioBytes - rep.sent);
    const nextSeq = late ? () => ++conn.lateSeq : () => ++conn.reqSeq;
    const { buf, stamps } = downDelta(bytes, rep.sent, conn.callIdx, rep.r, late ? LATE : 0, now(), nextSeq);
    if (late) {
      pc.downLateStampsSent += stamps;
      rep.lateLeft--;
    } else pc.downStampsSent += stamps;
    pc.downBytesSent += bytes;
    pc.deltasSent++;
    // Fields in the order the API writes them.
    const delta = `{"type":"response.output_audio.delta","event_id":"event_${++conn.eventSeq}","response_id":"${rep.responseId}","item_id":"${rep.itemId}","output_index":0,"content_index":0,"delta":"${buf.toString('base64')}"}`;
    if (ph.traffic.transcripts) {
      const words = Math.max(1, Math.round(ph.traffic.deltaMs / 400));
      let text = '';
      for (let w = 0; w < words; w++) text += `${WORDS[(rep.i * words + w) % WORDS.length]} `;
      rep.transcript += text;
      const transcript = `{"type":"response.output_audio_transcript.delta","event_id":"event_${++conn.eventSeq}","response_id":"${rep.responseId}","item_id":"${rep.itemId}","output_index":0,"content_index":0,"delta":"${text}"}`;
      sendRaw(conn.ws, false, delta, transcript);
    } else sendRaw(conn.ws, false, delta);
    rep.sent += bytes;
    rep.i++;
    if (rep.sent >= rep.audioBytes) {
      this.audioDone(conn, rep);
      return;
    }
    this.timer(conn, rep.t0 + rep.i * rep.intervalMs - now(), () => this.batch(conn, () => this.sendDelta(conn, rep)));
  }

  audioDone(conn, rep) {
    const ids = { response_id: rep.responseId, item_id: rep.itemId, output_index: 0, content_index: 0 };
    this.send(conn, { type: 'response.output_audio.done', ...ids });
    if (conn.phase.traffic.transcripts) this.send(conn, { type: 'response.output_audio_transcript.done', ...ids, transcript: rep.transcript });
    this.send(conn, { type: 'response.content_part.done', ...ids, part: { type: 'audio', transcript: rep.transcript } });
    this.send(conn, {
      type: 'response.output_item.done',
      response_id: rep.responseId,
      output_index: 0,
      item: { id: rep.itemId, object: 'realtime.item', type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_audio', transcript: rep.transcript }] },
    });
    if (rep.interruptedAt !== null) return; // audio done, but the response waits for its cancel
    if (rep.tool) this.functionCall(conn, rep);
    this.finish(conn, rep, 'completed', null);
  }

  functionCall(conn, rep) {
    const callId = `call_${conn.callIdx}_${rep.r}`;
    const fcItem = `item_fc_${conn.callIdx}_${rep.r}`;
    const item = { id: fcItem, object: 'realtime.item', type: 'function_call', status: 'in_progress', name: 'save_job_request', call_id: callId, arguments: '' };
    conn.phase.data.counters.toolCalls++;
    this.send(conn, { type: 'response.output_item.added', response_id: rep.responseId, output_index: 1, item });
    this.send(conn, { type: 'response.function_call_arguments.delta', response_id: rep.responseId, item_id: fcItem, output_index: 1, call_id: callId, delta: JOB_ARGS });
    this.send(conn, { type: 'response.function_call_arguments.done', response_id: rep.responseId, item_id: fcItem, output_index: 1, call_id: callId, name: 'save_job_request', arguments: JOB_ARGS });
    this.send(conn, { type: 'response.output_item.done', response_id: rep.responseId, output_index: 1, item: { ...item, status: 'completed', arguments: JOB_ARGS } });
    rep.callId = callId;
  }

  finish(conn, rep, status, reason) {
    if (rep.finished) return;
    rep.finished = true;
    const ph = conn.phase;
    this.send(conn, {
      type: 'response.done',
      response: {
        object: 'realtime.response',
        id: rep.responseId,
        status,
        status_details: reason ? { type: status, reason } : null,
        output: [],
        usage: USAGE,
      },
    });
    this.send(conn, {
      type: 'rate_limits.updated',
      rate_limits: [
        { name: 'requests', limit: 5000, remaining: 4999, reset_seconds: 0.012 },
        { name: 'tokens', limit: 40000, remaining: 39880, reset_seconds: 0.18 },
      ],
    });
    if (conn.active === rep) conn.active = null;
    if (!rep.tool || status !== 'completed') return;
    const w = { callId: rep.callId, doneAt: now(), outputAt: null };
    conn.awaitingFollowUp = w;
    if (!ph.tools) {
      // A relay without tools never answers: the follow-up comes as if it had, so the traffic is the same.
      this.timer(conn, NO_TOOLS_FOLLOW_UP_MS, () => {
        if (conn.awaitingFollowUp !== w || conn.active) return;
        conn.awaitingFollowUp = null;
        ph.data.counters.followUpsWithoutRelay++;
        this.startReply(conn, 'follow-up');
      });
      return;
    }
    this.timer(conn, FOLLOW_UP_WAIT_MS, () => {
      if (conn.awaitingFollowUp !== w) return;
      conn.awaitingFollowUp = null;
      ph.data.counters.followUpsMissing++;
    });
  }

  interrupt(conn, rep) {
    const ph = conn.phase;
    const key = `${conn.callIdx}:${rep.r}`;
    const active = conn.active === rep && !rep.finished;
    ph.data.interrupts[key] = { activeAtInterrupt: active, audioSentMs: rep.sent / BYTES_PER_MS, audioEndMs: null, truncates: 0, cancelledBy: null };
    const item = `item_user_${conn.callIdx}_${rep.r}`;
    this.send(conn, { type: 'input_audio_buffer.speech_started', audio_start_ms: 0, item_id: item });
    this.timer(conn, SPEECH_MS, () => this.send(conn, { type: 'input_audio_buffer.speech_stopped', audio_end_ms: 0, item_id: item }));
    if (!active) return;
    rep.interruptedAt = now();
    rep.lateLeft = rep.sent < rep.audioBytes ? LATE_DELTAS : 0;
    this.timer(conn, CANCEL_WAIT_MS, () => {
      if (rep.finished) return;
      ph.data.interrupts[key].cancelledBy = 'mock';
      this.batch(conn, () => this.finish(conn, rep, 'cancelled', 'turn_detected'));
    });
  }

  onCancel(conn, responseId) {
    const rep = conn.active;
    if (!rep || rep.finished || (responseId && responseId !== rep.responseId)) {
      conn.phase.data.counters.cancelsNotActive++;
      this.send(conn, { type: 'error', error: { type: 'invalid_request_error', code: 'response_cancel_not_active', message: 'Cancellation failed: no active response found', param: null, event_id: null } });
      return;
    }
    const intr = conn.phase.data.interrupts[`${conn.callIdx}:${rep.r}`];
    if (intr) intr.cancelledBy = 'relay';
    this.send(conn, { type: 'response.output_item.done', response_id: rep.responseId, output_index: 0, item: { id: rep.itemId, object: 'realtime.item', type: 'message', status: 'incomplete', role: 'assistant', content: [] } });
    this.finish(conn, rep, 'cancelled', 'client_cancelled');
  }

  /** Ends every Realtime socket (the relay sees the model go away). */
  closeAll() {
    for (const conn of this.connections) conn.ws.terminate();
  }
}

module.exports = { MockRealtime };
