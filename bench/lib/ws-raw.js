'use strict';
/**
 * The generator's hottest sends, written as whole WebSocket frames straight to the TCP socket: one
 * buffer and one write per message (or per batch), without ws's sender and stream bookkeeping.
 * Safe beside ws's own sends: with compression off, ws writes each frame whole and at once, so the
 * socket is always at a frame boundary. Client frames carry an all-zero mask (valid; the peer
 * unmasks them as any other). Only for text that is ASCII, as every message the bench builds is.
 */
const WebSocket = require('ws');

function header(buf, len, masked) {
  buf[0] = 0x81; // FIN, text
  const m = masked ? 0x80 : 0;
  let o;
  if (len < 126) {
    buf[1] = m | len;
    o = 2;
  } else if (len < 65536) {
    buf[1] = m | 126;
    buf.writeUInt16BE(len, 2);
    o = 4;
  } else {
    buf[1] = m | 127;
    buf.writeUInt32BE(0, 2);
    buf.writeUInt32BE(len, 6);
    o = 10;
  }
  if (masked) {
    buf.writeUInt32BE(0, o);
    o += 4;
  }
  return o;
}

const headerLength = (len, masked) => (len < 126 ? 2 : len < 65536 ? 4 : 10) + (masked ? 4 : 0);

/** Sends text messages (ASCII strings) on `ws` in one write; false when the socket is not open. */
function sendRaw(ws, masked, ...texts) {
  const socket = ws._socket;
  if (ws.readyState !== WebSocket.OPEN || !socket) return false;
  let size = 0;
  for (const t of texts) size += headerLength(t.length, masked) + t.length;
  const buf = Buffer.allocUnsafe(size);
  let o = 0;
  for (const t of texts) {
    o += header(buf.subarray(o), t.length, masked);
    o += buf.latin1Write(t, o);
  }
  socket.write(buf);
  return true;
}

module.exports = { sendRaw };
