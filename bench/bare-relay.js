#!/usr/bin/env node
'use strict';
/**
 * The floor the service is measured against: a bare `ws` relay of the same frames, no framework.
 *
 *   PORT=... REALTIME_URL=ws://... node bench/bare-relay.js
 *
 * Per call it does only what any Twilio <-> Realtime bridge must: session.update on open, caller
 * frames forwarded as input_audio_buffer.append (buffered until the model socket opens), agent
 * deltas cut into 160-byte media frames with a mark after every 10, and on speech_started a
 * clear, a truncate at the last echoed mark and a cancel of the response in progress, whose late
 * audio is then dropped. No recording, call log, sessions or logging.
 * Its voice webhook (`/twilio/voice`) answers the TwiML that points Twilio at its stream, as any
 * bridge's must.
 */
const http = require('http');
const WebSocket = require('ws');

const PORT = Number(process.env.PORT);
const REALTIME_URL = process.env.REALTIME_URL;
const FRAME_BYTES = 160;
const FRAMES_PER_MARK = 10;

const server = http.createServer((req, res) => {
  if (req.url === '/twilio/voice') {
    req.resume();
    req.on('end', () => {
      const twiml = `<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="ws://${req.headers.host}/twilio/stream"/></Connect></Response>`;
      res.writeHead(200, { 'Content-Type': 'text/xml' }).end(twiml);
    });
    return;
  }
  res.writeHead(req.url === '/health' ? 200 : 404).end();
});
const wss = new WebSocket.Server({ server, path: '/twilio/stream', perMessageDeflate: false });

wss.on('connection', (twilio) => {
  let rt = null;
  let streamSid = null;
  let early = [];
  let itemId = null;
  let itemMs = 0;
  let framesSinceMark = 0;
  let markSeq = 0;
  const markMs = new Map();
  let playedMs = 0;
  let activeResponse = null;
  let interruptedItem = null;

  const sendMark = () => {
    const name = `m${++markSeq}`;
    markMs.set(name, itemMs);
    framesSinceMark = 0;
    twilio.send(JSON.stringify({ event: 'mark', streamSid, mark: { name } }));
  };

  const onRealtime = (data) => {
    const ev = JSON.parse(data.toString());
    if (ev.type === 'response.output_audio.delta') {
      if (ev.item_id === interruptedItem) return;
      if (ev.item_id !== itemId) {
        itemId = ev.item_id;
        itemMs = 0;
        playedMs = 0;
      }
      const audio = Buffer.from(ev.delta, 'base64');
      for (let o = 0; o < audio.length; o += FRAME_BYTES) {
        const payload = audio.subarray(o, o + FRAME_BYTES).toString('base64');
        twilio.send(JSON.stringify({ event: 'media', streamSid, media: { payload } }));
        itemMs += 20;
        if (++framesSinceMark >= FRAMES_PER_MARK) sendMark();
      }
      if (framesSinceMark > 0) sendMark();
    } else if (ev.type === 'input_audio_buffer.speech_started' && itemId !== null) {
      twilio.send(JSON.stringify({ event: 'clear', streamSid }));
      rt.send(JSON.stringify({ type: 'conversation.item.truncate', item_id: itemId, content_index: 0, audio_end_ms: playedMs }));
      if (activeResponse !== null) rt.send(JSON.stringify({ type: 'response.cancel', response_id: activeResponse }));
      interruptedItem = itemId;
      itemId = null;
      markMs.clear();
    } else if (ev.type === 'response.created') {
      activeResponse = ev.response.id;
    } else if (ev.type === 'response.done') {
      activeResponse = null;
    }
  };

  twilio.on('message', (data) => {
    const msg = JSON.parse(data.toString());
    switch (msg.event) {
      case 'start':
        streamSid = msg.start.streamSid;
        rt = new WebSocket(REALTIME_URL, { headers: { Authorization: 'Bearer bench' }, perMessageDeflate: false });
        rt.on('open', () => {
          rt.send(
            JSON.stringify({
              type: 'session.update',
              session: { type: 'realtime', audio: { input: { format: { type: 'audio/pcmu' } }, output: { format: { type: 'audio/pcmu' } } } },
            }),
          );
          for (const m of early) rt.send(m);
          early = null;
        });
        rt.on('message', onRealtime);
        rt.on('error', () => twilio.close(1011));
        rt.on('close', () => twilio.readyState === WebSocket.OPEN && twilio.close(1011));
        return;
      case 'media': {
        const append = JSON.stringify({ type: 'input_audio_buffer.append', audio: msg.media.payload });
        if (early === null) rt.send(append);
        else early.push(append);
        return;
      }
      case 'mark': {
        const ms = markMs.get(msg.mark.name);
        if (ms !== undefined) {
          playedMs = ms;
          markMs.delete(msg.mark.name);
        }
        return;
      }
      case 'stop':
        twilio.close(1000);
        return;
      default:
        return;
    }
  });
  twilio.on('close', () => rt && rt.close(1000));
  twilio.on('error', () => undefined);
});

server.listen(PORT, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
