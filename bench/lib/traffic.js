'use strict';
/**
 * Traffic profiles: what the simulated callers and the mock model send. Every caller streams a
 * 20 ms frame every 20 ms from its start to its end, as Twilio does (silence included). The mock
 * answers each caller turn (turnMs of caller audio counted from when its previous reply would
 * have finished playing) with a reply of replyMs of audio, in deltas of deltaMs sent `pace` times
 * faster than real time.
 *
 * Adding a profile: one entry in PROFILES (fields left out come from `default`), one line of
 * description. Any field can also be set from the command line (see FLAGS).
 */

const BASE = {
  /** Caller audio that makes a turn, counted from when the previous reply has played. */
  turnMs: 500,
  /** Agent audio per reply. */
  replyMs: 1500,
  /** Agent audio per response.output_audio.delta. */
  deltaMs: 100,
  /** Deltas are sent this many times faster than real time (1 = real time). */
  pace: 10,
  /** A response.output_audio_transcript.delta with each audio delta, .done at the end, and the caller's transcription per turn. */
  transcripts: false,
  /** Share of turns answered with a save_job_request call (after toolLeadMs of audio), then a follow-up reply once the relay sends the tool's output and response.create. */
  toolShare: 0,
  toolLeadMs: 1000,
  /** Share of turns (without a tool call) the caller talks over: speech_started interruptAfterMs after the reply's first delta. */
  interruptShare: 1 / 3,
  interruptAfterMs: 500,
};

const PROFILES = {
  default: {
    description: "the traffic measured so far: a 1.5 s reply after every 2 s of caller audio, in 100 ms deltas 10 ms apart (10x real time), no transcript deltas, no tools, every 3rd reply talked over 500 ms in (after it was all sent)",
  },
  'sample-like': {
    description: 'the traffic the issue measured with Twilio\'s sample: each 1 s caller turn answered with 3 s of audio in 40 ms deltas paced in real time, with transcript deltas; no interruptions, no tools',
    turnMs: 1000,
    replyMs: 3000,
    deltaMs: 40,
    pace: 1,
    transcripts: true,
    interruptShare: 0,
  },
  'small-deltas': {
    description: 'each 1 s caller turn answered with 3 s of audio in 20 ms deltas (one Twilio frame each) paced in real time, without transcript deltas; no interruptions, no tools',
    turnMs: 1000,
    replyMs: 3000,
    deltaMs: 20,
    pace: 1,
    transcripts: false,
    interruptShare: 0,
  },
  'big-deltas': {
    description: 'as sample-like, but 300 ms deltas sent 5x faster than real time',
    turnMs: 1000,
    replyMs: 3000,
    deltaMs: 300,
    pace: 5,
    transcripts: true,
    interruptShare: 0,
  },
  tools: {
    description: 'as sample-like, but every 2nd turn is answered with 1 s of audio and a save_job_request call (valid arguments); the 3 s follow-up is sent once the relay returns the output and asks for a response',
    turnMs: 1000,
    replyMs: 3000,
    deltaMs: 40,
    pace: 1,
    transcripts: true,
    toolShare: 0.5,
    interruptShare: 0,
  },
  'barge-in': {
    // 1010 ms: mid-delta, so the caller has audio queued when the relay hears of the speech (at a
    // delta boundary, real-time pacing sometimes leaves Twilio's queue empty for an instant).
    description: 'as sample-like, but 3 of 4 replies are talked over 1 s in (mid-delta), while still being sent: the relay must clear, truncate and cancel',
    turnMs: 1000,
    replyMs: 3000,
    deltaMs: 40,
    pace: 1,
    transcripts: true,
    interruptShare: 0.75,
    interruptAfterMs: 1010,
  },
  // What --smoke sends: a bit of everything, quickly.
  smoke: {
    description: 'a bit of everything in 3 s: 0.6 s replies after 0.3 s turns, 100 ms deltas at 5x, transcripts, tool calls (0.3 s of audio first) and interruptions',
    turnMs: 300,
    replyMs: 600,
    toolLeadMs: 300,
    deltaMs: 100,
    pace: 5,
    transcripts: true,
    toolShare: 0.5,
    interruptShare: 0.5,
    interruptAfterMs: 200,
  },
};

/** Command-line flags that override one field of the chosen profile. */
const FLAGS = {
  '--turn-ms': ['turnMs', 'number'],
  '--reply-ms': ['replyMs', 'number'],
  '--delta-ms': ['deltaMs', 'number'],
  '--pace': ['pace', 'number'],
  '--transcripts': ['transcripts', 'onoff'],
  '--tool-share': ['toolShare', 'share'],
  '--interrupt-share': ['interruptShare', 'share'],
  '--interrupt-after-ms': ['interruptAfterMs', 'number'],
};

function resolveTraffic(name, overrides) {
  const p = PROFILES[name];
  if (!p) throw new Error(`unknown traffic profile ${name} (known: ${Object.keys(PROFILES).join(', ')})`);
  const spec = { name, ...BASE, ...p, ...overrides };
  if (Object.keys(overrides).length > 0) {
    spec.name = `${name}+${Object.entries(overrides)
      .map(([k, v]) => `${k}=${v}`)
      .join(',')}`;
    spec.description = `${p.description}; overridden: ${JSON.stringify(overrides)}`;
  }
  if (spec.deltaMs < 5 || spec.deltaMs > 2000) throw new Error('--delta-ms must be 5 to 2000');
  if (spec.pace <= 0) throw new Error('--pace must be positive');
  return spec;
}

/** One line: what the mock sends per turn. */
function describeTraffic(t) {
  const parts = [
    `${t.replyMs} ms reply per ${t.turnMs} ms caller turn`,
    `${t.deltaMs} ms deltas at ${t.pace === 1 ? 'real time' : `${t.pace}x real time`}`,
    t.transcripts ? 'transcripts on' : 'transcripts off',
    t.toolShare > 0 ? `${Math.round(t.toolShare * 100)} % of turns with a tool call` : 'no tool calls',
    t.interruptShare > 0 ? `${Math.round(t.interruptShare * 100)} % of replies interrupted ${t.interruptAfterMs} ms in` : 'no interruptions',
  ];
  return parts.join(', ');
}

/** Evenly spread, deterministic: true for about `share` of the turns r = 1, 2, ... of a call. */
function picked(share, r, salt) {
  if (share <= 0) return false;
  const x = r + (salt % 7);
  return Math.floor(x * share) > Math.floor((x - 1) * share);
}

module.exports = { PROFILES, FLAGS, resolveTraffic, describeTraffic, picked };
