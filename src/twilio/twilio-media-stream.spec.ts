import pino from 'pino';
import { ManualClock } from '../common/clock';
import { CallMetrics } from '../metrics/call-metrics';
import { metricValue } from '../../test/support/metric-value';
import { FakeSocket } from '../../test/support/fake-socket';
import { LogCapture } from '../../test/support/log-capture';
import { MAX_FRAME_BYTES } from './twilio-protocol';
import {
  base64Bytes,
  CLOSE_FAILURE,
  CLOSE_NORMAL,
  MalformedFrames,
  TwilioMediaStream,
  type MediaStreamListener,
  type PlayoutLedger,
  type SentAudio,
} from './twilio-media-stream';

const STREAM_SID = 'MZ' + 'b'.repeat(32);
const CALL_SID = 'CA' + 'a'.repeat(32);
const MALFORMED = 'ignored a malformed Twilio frame';
const FIRST_DROP = 'twilio socket not keeping up: dropping agent audio';
const STALLED = 'twilio socket stalled: ending the call';

/** A 20 ms frame of mu-law. */
const FRAME_BYTES = 160;

/** Names a mark after every delta of agent audio and keeps what it was told of. */
class RecordingLedger implements PlayoutLedger {
  readonly runs: SentAudio[] = [];
  /** Set false to send no marks. */
  naming = true;

  audioSent(sent: SentAudio): string | null {
    this.runs.push(sent);
    return this.naming ? `mark-${this.runs.length}` : null;
  }
}

/**
 * Twilio's end of the socket, and its TCP transport: what went over the wire in order, with the
 * corks around it. `backlog` is what Twilio has not read yet; a peer that stops reading lets it grow.
 */
class TwilioWire extends FakeSocket {
  /** Bytes sent that Twilio has not read: the socket's bufferedAmount. */
  backlog = 0;
  /** Set: every message sent stays unread. */
  stopsReading = false;
  readonly wire: string[] = [];

  constructor() {
    super();
    // FakeSocket's bufferedAmount is a constant 0.
    Object.defineProperty(this, 'bufferedAmount', { get: () => this.backlog });
  }

  override send(data: string): void {
    const before = this.sent.length;
    super.send(data);
    if (this.sent.length === before) return;
    const msg = JSON.parse(data);
    this.wire.push(msg.event === 'mark' ? `mark ${msg.mark.name}` : msg.event);
    if (this.stopsReading) this.backlog += data.length;
  }

  override cork(): void {
    super.cork();
    this.wire.push('cork');
  }

  override uncork(): void {
    super.uncork();
    this.wire.push('uncork');
  }

  /** Twilio reads everything waiting. */
  catchUp(): void {
    this.stopsReading = false;
    this.backlog = 0;
  }

  /** The agent audio that went out, message by message. */
  mediaFrames(): Buffer[] {
    return this.sent
      .map((s) => JSON.parse(s))
      .filter((m) => m.event === 'media')
      .map((m) => Buffer.from(m.media.payload as string, 'base64'));
  }

  /** Only the media and mark messages, in order. */
  audioAndMarks(): string[] {
    return this.wire.filter((w) => w === 'media' || w.startsWith('mark'));
  }
}

/** What the call hears from the stream, in order. */
class HeardByCall implements MediaStreamListener {
  readonly events: string[] = [];
  stalls = 0;
  /** Set: the call ends (closes the stream) when told of a stall, as Call does. */
  onStallEnd: (() => void) | null = null;

  onMedia(payload: string, timestampMs: number): void {
    this.events.push(`media ${payload} @${timestampMs}`);
  }
  onMark(name: string): void {
    this.events.push(`mark ${name}`);
  }
  onDtmf(digit: string): void {
    this.events.push(`dtmf ${digit}`);
  }
  onStop(): void {
    this.events.push('stop');
  }
  onClosed(): void {
    this.events.push('closed');
  }
  onStalled(): void {
    this.stalls++;
    this.onStallEnd?.();
  }
}

/** `n` bytes of distinct agent audio (never the silence byte), starting at `from`. */
function agentAudio(n: number, from = 0): Buffer {
  const bytes = Buffer.alloc(n);
  for (let i = 0; i < n; i++) bytes[i] = (from + i) % 0x7f;
  return bytes;
}

const twilioFrame = {
  connected: () => JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }),
  start: () =>
    JSON.stringify({
      event: 'start',
      sequenceNumber: '1',
      streamSid: STREAM_SID,
      start: { streamSid: STREAM_SID, callSid: CALL_SID, accountSid: 'AC' + 'c'.repeat(32), customParameters: {} },
    }),
  media: (payload: string, timestamp: number) =>
    JSON.stringify({ event: 'media', streamSid: STREAM_SID, media: { track: 'inbound', chunk: '2', timestamp: String(timestamp), payload } }),
  mark: (name: string) => JSON.stringify({ event: 'mark', streamSid: STREAM_SID, mark: { name } }),
  dtmf: (digit: string) => JSON.stringify({ event: 'dtmf', streamSid: STREAM_SID, dtmf: { track: 'inbound_track', digit } }),
  stop: () => JSON.stringify({ event: 'stop', streamSid: STREAM_SID, stop: { callSid: CALL_SID } }),
};

function mediaStream(options: { sendBufferMaxBytes?: number; sendStallTimeoutMs?: number; corked?: boolean } = {}) {
  const logs = new LogCapture();
  const log = pino({ level: 'info' }, logs);
  const clock = new ManualClock();
  const socket = new TwilioWire();
  const ledger = new RecordingLedger();
  const malformed = new MalformedFrames(log);
  const recorded: Buffer[] = [];
  const metrics = new CallMetrics();
  const send = (responseId: string, itemId: string, audio: Buffer): boolean => {
    const base64 = audio.toString('base64');
    return stream.sendAgentAudio(responseId, itemId, base64, base64Bytes(base64));
  };
  const stream = new TwilioMediaStream(socket.ws, options.corked === false ? null : socket, {
    streamSid: STREAM_SID,
    ledger,
    clock,
    log,
    malformed,
    sendBufferMaxBytes: options.sendBufferMaxBytes ?? 64 * 1024,
    sendStallTimeoutMs: options.sendStallTimeoutMs ?? 5_000,
    agentAudio: (base64, bytes) => {
      const audio = Buffer.from(base64, 'base64');
      expect(audio.length).toBe(bytes);
      recorded.push(audio);
    },
    metrics,
  });
  const call = new HeardByCall();
  stream.listen(call);
  return { stream, send, socket, ledger, call, logs, clock, malformed, recorded, metrics };
}

describe('TwilioMediaStream', () => {
  describe('reading what Twilio sends', () => {
    it('hands media, marks, digits and the stop to the call in the order they arrive, then the close', () => {
      const { socket, call } = mediaStream();
      socket.receive(twilioFrame.connected());
      socket.receive(twilioFrame.media('//8=', 20));
      socket.receive(twilioFrame.mark('mark-1'));
      socket.receive(twilioFrame.media('f39/fw==', 40));
      socket.receive(twilioFrame.dtmf('5'));
      socket.receive(twilioFrame.stop());
      socket.peerClose();

      expect(call.events).toEqual(['media //8= @20', 'mark mark-1', 'media f39/fw== @40', 'dtmf 5', 'stop', 'closed']);
    });

    it('counts malformed, binary, oversized and second-start frames, passes none on and logs only the first five', () => {
      const { socket, call, stream, logs } = mediaStream();
      socket.receive('this is not JSON');
      socket.receive(Buffer.from(twilioFrame.media('//8=', 20)), true);
      socket.receive(twilioFrame.media('//8=', 20).padEnd(MAX_FRAME_BYTES + 1));
      socket.receive(twilioFrame.start());
      socket.receive(JSON.stringify({ event: 'media', media: { payload: 'not base64!', timestamp: '20' } }));
      socket.receive(JSON.stringify({ event: 'hello' }));
      socket.receive('[]');

      expect(call.events).toEqual([]);
      expect(stream.malformedFrames).toBe(7);
      expect(logs.all(MALFORMED).map((l) => l.reason)).toEqual([
        'not JSON',
        'binary frame',
        'frame too large',
        'second start',
        'media with a payload that is not base64',
      ]);
      expect(logs.all(MALFORMED).map((l) => l.count)).toEqual([1, 2, 3, 4, 5]);
    });

    it('takes a frame of exactly MAX_FRAME_BYTES', () => {
      const { socket, call, stream } = mediaStream();
      socket.receive(twilioFrame.media('//8=', 20).padEnd(MAX_FRAME_BYTES));
      expect(call.events).toEqual(['media //8= @20']);
      expect(stream.malformedFrames).toBe(0);
    });

    it("ignores Twilio's connected frame without counting it as malformed", () => {
      const { socket, stream, call } = mediaStream();
      socket.receive(twilioFrame.connected());
      expect(stream.malformedFrames).toBe(0);
      expect(call.events).toEqual([]);
    });
  });

  describe('sending agent audio', () => {
    it('sends each delta whole, as one media message of any size, in order', () => {
      const { send, socket } = mediaStream();
      const audio = agentAudio(850);
      send('resp-1', 'item-1', audio.subarray(0, 100));
      send('resp-1', 'item-1', audio.subarray(100, 350));
      send('resp-1', 'item-1', audio.subarray(350, 850));

      expect(socket.mediaFrames().map((f) => f.length)).toEqual([100, 250, 500]);
      expect(Buffer.concat(socket.mediaFrames())).toEqual(audio);
    });

    it('passes the base64 on as it came, without decoding it', () => {
      const { stream, socket } = mediaStream();
      const delta = agentAudio(320).toString('base64');
      stream.sendAgentAudio('resp-1', 'item-1', delta, 320);
      expect(JSON.parse(socket.sent[0]).media.payload).toBe(delta);
    });

    it('follows each delta with the mark the ledger names, telling it the delta and the item so far', () => {
      const { send, socket, ledger } = mediaStream();
      send('resp-1', 'item-1', agentAudio(100));
      send('resp-1', 'item-1', agentAudio(250));
      send('resp-2', 'item-2', agentAudio(400));

      expect(socket.audioAndMarks()).toEqual(['media', 'mark mark-1', 'media', 'mark mark-2', 'media', 'mark mark-3']);
      expect(ledger.runs).toEqual([
        { responseId: 'resp-1', itemId: 'item-1', durationMs: 12.5, itemAudioMs: 12.5 },
        { responseId: 'resp-1', itemId: 'item-1', durationMs: 31.25, itemAudioMs: 43.75 },
        { responseId: 'resp-2', itemId: 'item-2', durationMs: 50, itemAudioMs: 50 },
      ]);
    });

    it('sends no mark when the ledger names none', () => {
      const { send, socket, ledger } = mediaStream();
      ledger.naming = false;
      send('resp-1', 'item-1', agentAudio(3 * FRAME_BYTES));
      ledger.naming = true;
      send('resp-1', 'item-1', agentAudio(2 * FRAME_BYTES));
      expect(socket.audioAndMarks()).toEqual(['media', 'media', 'mark mark-2']);
    });

    it("corks each delta and its mark into one write", () => {
      const { send, socket } = mediaStream();
      send('resp-1', 'item-1', agentAudio(2 * FRAME_BYTES));
      send('resp-1', 'item-1', agentAudio(12 * FRAME_BYTES));
      expect(socket.wire).toEqual(['cork', 'media', 'mark mark-1', 'uncork', 'cork', 'media', 'mark mark-2', 'uncork']);
      expect(socket.corks).toBe(0);
    });

    it('sends without a transport to cork', () => {
      const { send, socket } = mediaStream({ corked: false });
      send('resp-1', 'item-1', agentAudio(2 * FRAME_BYTES));
      expect(socket.wire).toEqual(['media', 'mark mark-1']);
    });

    it('sends nothing for an empty delta', () => {
      const { stream, socket, ledger } = mediaStream();
      stream.sendAgentAudio('resp-1', 'item-1', '', 0);
      expect(socket.sent).toEqual([]);
      expect(ledger.runs).toEqual([]);
    });

    it('counts an item afresh once it is forgotten (the caller talked over it, or its session is gone)', () => {
      const { send, stream, ledger } = mediaStream();
      send('resp-1', 'item-1', agentAudio(400));
      stream.forgetAgentItem();
      send('resp-1', 'item-1', agentAudio(160));
      expect(ledger.runs.map((r) => r.itemAudioMs)).toEqual([50, 20]);
    });

    it('lets the recording see exactly the audio sent', () => {
      const { send, socket, recorded } = mediaStream();
      send('resp-1', 'item-1', agentAudio(500));
      send('resp-1', 'item-1', agentAudio(60, 3));
      expect(recorded).toEqual(socket.mediaFrames());
      expect(recorded).toHaveLength(2);
    });
  });

  describe('base64Bytes', () => {
    it('counts the bytes a base64 text decodes to, padding included', () => {
      for (const n of [0, 1, 2, 3, 4, 159, 160, 161, 2400]) {
        expect(base64Bytes(agentAudio(n).toString('base64'))).toBe(n);
      }
    });
  });

  describe('clear', () => {
    it("tells Twilio to drop the agent audio it holds for this stream", () => {
      const { stream, socket } = mediaStream();
      stream.clear();
      expect(socket.sent).toEqual([`{"event":"clear","streamSid":"${STREAM_SID}"}`]);
    });

    it('sends nothing once the stream is closed, by us or by Twilio', () => {
      const ours = mediaStream();
      ours.stream.close(CLOSE_NORMAL, 'call ended');
      ours.stream.clear();
      expect(ours.socket.sent).toEqual([]);
      expect(ours.socket.sentWhileClosed).toBe(0);

      const theirs = mediaStream();
      theirs.socket.peerClose();
      theirs.stream.clear();
      expect(theirs.socket.sentWhileClosed).toBe(0);
    });
  });

  describe('backpressure', () => {
    const backedUp = () => {
      const s = mediaStream({ sendBufferMaxBytes: 1_000, sendStallTimeoutMs: 5_000 });
      s.socket.stopsReading = true;
      return s;
    };

    it('drops agent audio while Twilio has more than the bound unread, logging the first drop of each episode and counting each', async () => {
      const { send, stream, socket, logs, recorded, metrics } = backedUp();
      const verdicts: boolean[] = [];
      for (let k = 0; k < 10; k++) verdicts.push(send('resp-1', 'item-1', agentAudio(FRAME_BYTES, k)));
      const sentInFirstEpisode = socket.mediaFrames().length;
      expect(verdicts.filter(Boolean)).toHaveLength(sentInFirstEpisode);
      expect(sentInFirstEpisode).toBeGreaterThan(0);
      expect(sentInFirstEpisode).toBeLessThan(10);
      expect(logs.all(FIRST_DROP)).toHaveLength(1);

      socket.catchUp();
      send('resp-1', 'item-1', agentAudio(2 * FRAME_BYTES));
      expect(socket.mediaFrames()).toHaveLength(sentInFirstEpisode + 1);
      socket.backlog = 5_000;
      send('resp-1', 'item-1', agentAudio(2 * FRAME_BYTES));

      expect(logs.all(FIRST_DROP)).toHaveLength(2);
      expect(stream.backpressureEpisodes).toEqual({ episodes: 2, droppedAudioMs: (10 - sentInFirstEpisode) * 20 + 40 });
      expect(await metricValue(metrics.registry, 'call_operator_backpressure_drops_total', { where: 'twilio_send' })).toBe(10 - sentInFirstEpisode + 1);
      // Dropped audio was never heard, so it is neither recorded nor told to the ledger.
      expect(recorded).toEqual(socket.mediaFrames());
    });

    it("tells the ledger only of the audio that went out, but counts the item's dropped audio as received", () => {
      const { send, socket, ledger } = backedUp();
      for (let k = 0; k < 10; k++) send('resp-1', 'item-1', agentAudio(FRAME_BYTES, k));
      const sent = socket.mediaFrames().length;
      expect(ledger.runs.map((r) => r.durationMs)).toEqual(Array<number>(sent).fill(20));
      socket.catchUp();
      send('resp-1', 'item-1', agentAudio(FRAME_BYTES));
      expect(ledger.runs.at(-1)?.itemAudioMs).toBe(220);
    });

    it('tells the call once when Twilio has read nothing for the stall timeout, and the call ends', () => {
      const { send, stream, socket, call, clock, logs } = backedUp();
      call.onStallEnd = () => stream.close(CLOSE_FAILURE, 'twilio_backpressure');
      send('resp-1', 'item-1', agentAudio(10 * FRAME_BYTES));
      send('resp-1', 'item-1', agentAudio(10 * FRAME_BYTES));
      clock.advance(4_999);
      send('resp-1', 'item-1', agentAudio(3 * FRAME_BYTES));
      expect(call.stalls).toBe(0);

      clock.advance(1);
      send('resp-1', 'item-1', agentAudio(3 * FRAME_BYTES));
      expect(call.stalls).toBe(1);
      expect(logs.all(STALLED)).toHaveLength(1);
      expect(socket.closedWith).toEqual({ code: CLOSE_FAILURE, reason: 'twilio_backpressure' });
    });

    it('tells the call of a stall once, however much audio is dropped after it', () => {
      const { send, call, clock, logs } = backedUp();
      send('resp-1', 'item-1', agentAudio(10 * FRAME_BYTES));
      send('resp-1', 'item-1', agentAudio(10 * FRAME_BYTES));
      clock.advance(5_000);
      send('resp-1', 'item-1', agentAudio(3 * FRAME_BYTES));
      send('resp-1', 'item-1', agentAudio(3 * FRAME_BYTES));
      expect(call.stalls).toBe(1);
      expect(logs.all(STALLED)).toHaveLength(1);
    });

    it('does not count a stall that ended before the timeout', () => {
      const { send, socket, call, clock } = backedUp();
      send('resp-1', 'item-1', agentAudio(10 * FRAME_BYTES));
      send('resp-1', 'item-1', agentAudio(10 * FRAME_BYTES));
      clock.advance(4_000);
      socket.catchUp();
      send('resp-1', 'item-1', agentAudio(FRAME_BYTES));
      socket.backlog = 5_000;
      clock.advance(4_000);
      send('resp-1', 'item-1', agentAudio(3 * FRAME_BYTES));
      expect(call.stalls).toBe(0);
    });
  });

  describe('closing', () => {
    it('closes the socket once, with the code and a reason cut to 100 characters', () => {
      const { stream, socket } = mediaStream();
      const close = jest.spyOn(socket, 'close');
      stream.close(CLOSE_FAILURE, 'x'.repeat(150));
      stream.close(CLOSE_NORMAL, 'again');

      expect(close).toHaveBeenCalledTimes(1);
      expect(socket.closedWith).toEqual({ code: CLOSE_FAILURE, reason: 'x'.repeat(100) });
    });

    it('does not close a socket Twilio has already closed', () => {
      const { stream, socket } = mediaStream();
      socket.peerClose(1005);
      const close = jest.spyOn(socket, 'close');
      stream.close(CLOSE_NORMAL, 'call ended');
      expect(close).not.toHaveBeenCalled();
    });

    it("reads nothing more once closed, and still hears Twilio's side of the close", () => {
      const { stream, socket, call } = mediaStream();
      socket.receive(twilioFrame.media('//8=', 20));
      stream.close(CLOSE_NORMAL, 'call ended');
      socket.receive(twilioFrame.media('//8=', 40));
      socket.receive(twilioFrame.mark('mark-1'));
      socket.receive(twilioFrame.stop());
      socket.receive('not JSON');
      socket.peerClose();

      expect(call.events).toEqual(['media //8= @20', 'closed']);
      expect(stream.malformedFrames).toBe(0);
    });

    it('sends no agent audio once closed, and neither records nor accounts for it', () => {
      const { send, stream, socket, ledger, recorded } = mediaStream();
      stream.close(CLOSE_NORMAL, 'call ended');
      send('resp-1', 'item-1', agentAudio(250));

      expect(socket.sentWhileClosed).toBe(0);
      expect(recorded).toEqual([]);
      expect(ledger.runs).toEqual([]);
    });

    it('is open until either side closes', () => {
      const ours = mediaStream();
      expect(ours.stream.isOpen).toBe(true);
      ours.stream.close(CLOSE_NORMAL, 'call ended');
      // Closed for us at once, though the socket waits for Twilio's answer.
      expect(ours.stream.isOpen).toBe(false);

      const theirs = mediaStream();
      theirs.socket.peerClose();
      expect(theirs.stream.isOpen).toBe(false);
    });
  });
});

describe('MalformedFrames', () => {
  it('counts every malformed frame of a stream and logs the first five', () => {
    const logs = new LogCapture();
    const malformed = new MalformedFrames(pino({ level: 'info' }, logs));
    for (let i = 0; i < 8; i++) malformed.seen(`reason ${i}`);

    expect(malformed.count).toBe(8);
    expect(logs.all(MALFORMED).map((l) => l.reason)).toEqual(['reason 0', 'reason 1', 'reason 2', 'reason 3', 'reason 4']);
  });

  it("goes on counting from the handshake into the call, logging with the call's identity from the switch", () => {
    const logs = new LogCapture();
    const root = pino({ level: 'info' }, logs);
    const malformed = new MalformedFrames(root.child({ component: 'media-stream' }));
    malformed.seen('before start');
    malformed.seen('before start');
    malformed.relog(root.child({ callSid: CALL_SID }));
    for (let i = 0; i < 4; i++) malformed.seen('during the call');

    expect(malformed.count).toBe(6);
    expect(logs.all(MALFORMED).map((l) => [l.reason, l.callSid ?? null, l.count])).toEqual([
      ['before start', null, 1],
      ['before start', null, 2],
      ['during the call', CALL_SID, 3],
      ['during the call', CALL_SID, 4],
      ['during the call', CALL_SID, 5],
    ]);
  });
});
