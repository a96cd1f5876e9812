import type { RawData } from 'ws';

/** The bytes of a WebSocket message; `ws` delivers a Buffer unless binaryType was changed. */
export function wsBytes(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export function wsText(data: RawData): string {
  return wsBytes(data).toString('utf8');
}
