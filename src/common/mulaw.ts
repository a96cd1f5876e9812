/** Telephone audio as Twilio and the Realtime session exchange it: 8 kHz mu-law, one byte per sample. */
export const BYTES_PER_MS = 8;
/** Twilio's media frames are 20 ms: 160 bytes. */
export const FRAME_BYTES = 160;
export const FRAME_MS = FRAME_BYTES / BYTES_PER_MS;
/** mu-law encodes silence as 0xFF. */
export const MULAW_SILENCE = 0xff;
