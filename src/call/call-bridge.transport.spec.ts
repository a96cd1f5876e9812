import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import WebSocket from 'ws';
import type { CallLogWriter } from '../call-log/call-log-writer';
import { CallLog } from '../call-log/call-log.service';
import { ManualClock } from '../common/clock';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import { NoopCrmService } from '../crm/noop-crm.service';
import { AppLogger } from '../logging/app-logger';
import type { RealtimeClient, RealtimeConnector, RealtimeListener } from '../realtime/realtime-client';
import type { RealtimeServerEvent } from '../realtime/realtime-protocol';
import type { RecordingService } from '../recording/recording.service';
import type { StreamTokens } from '../security/stream-tokens';
import { InMemorySessionStore } from '../session/session-store';
import type { ToolRegistry } from '../tools/tool-registry';
import { CallBridge } from './call-bridge';
import { CallRegistry } from './call-registry';

/** The Twilio side: records each message and whether the TCP transport was corked when it was sent. */
class FakeTwilioSocket extends EventEmitter {
  readyState: number = WebSocket.OPEN;
  bufferedAmount = 0;
  corks = 0;
  readonly sent: Array<{ event: string; corked: boolean }> = [];
  readonly transport = {
    cork: (): void => void this.corks++,
    uncork: (): void => void this.corks--,
  };
  send(data: string): void {
    this.sent.push({ event: (JSON.parse(data) as { event: string }).event, corked: this.corks > 0 });
  }
  close(): void {
    this.readyState = WebSocket.CLOSED;
  }
  frame(msg: object): void {
    this.emit('message', Buffer.from(JSON.stringify(msg)), false);
  }
}

function setup(): { twilio: FakeTwilioSocket; realtime: () => RealtimeListener } {
  const config = new AppConfig(validateEnvironment({ OPENAI_API_KEY: 'sk-test-0123456789', LOG_LEVEL: 'silent' }));
  const clock = new ManualClock();
  let listener: RealtimeListener | null = null;
  const client = { isOpen: true, send: () => true, close: () => undefined } as unknown as RealtimeClient;
  const realtime = {
    connect: (l: RealtimeListener) => {
      listener = l;
      return client;
    },
  } as unknown as RealtimeConnector;
  const writer = { submit: () => undefined } as unknown as CallLogWriter;
  const bridge = new CallBridge({
    config,
    realtime,
    sessions: new InMemorySessionStore(),
    crm: new NoopCrmService(),
    clock,
    logger: new AppLogger(config, new Writable({ write: (_c, _e, cb) => cb() })),
    registry: new CallRegistry(config),
    callLog: new CallLog(writer, config, clock),
    recordings: { start: () => null } as unknown as RecordingService,
    tools: { available: () => [] } as unknown as ToolRegistry,
    streamTokens: { redeem: () => null } as unknown as StreamTokens,
  });
  const twilio = new FakeTwilioSocket();
  bridge.attach(twilio as unknown as WebSocket, twilio.transport);
  twilio.frame({
    event: 'start',
    streamSid: `MZ${'0'.repeat(32)}`,
    start: { streamSid: `MZ${'0'.repeat(32)}`, callSid: `CA${'0'.repeat(32)}`, customParameters: {} },
  });
  return { twilio, realtime: () => listener! };
}

const event = (e: RealtimeServerEvent): RealtimeServerEvent => e;

describe('CallBridge and the Twilio transport', () => {
  it('sends all the frames and the mark cut from one delta while the socket is corked, then uncorks it', () => {
    const { twilio, realtime } = setup();
    const rt = realtime();
    rt.onOpen();
    rt.onEvent(event({ type: 'response.created', responseId: 'resp_1' }));
    // 100 ms of audio: five 20 ms frames and one mark, which must leave in one write.
    const delta = Buffer.alloc(800, 0xff).toString('base64');
    rt.onEvent(event({ type: 'response.output_audio.delta', responseId: 'resp_1', itemId: 'item_1', delta }));

    const media = twilio.sent.filter((m) => m.event === 'media');
    expect(media).toHaveLength(5);
    expect(twilio.sent.filter((m) => m.event === 'mark')).toHaveLength(1);
    expect(twilio.sent.every((m) => m.corked)).toBe(true);
    expect(twilio.corks).toBe(0);
  });
});
