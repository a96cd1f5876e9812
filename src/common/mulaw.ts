/** Telephone audio as Twilio and the Realtime session exchange it: 8 kHz mu-law, one byte per sample. */
export const BYTES_PER_MS = 8;
