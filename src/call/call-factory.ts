import { Injectable } from '@nestjs/common';
import type WebSocket from 'ws';
import { Clock } from '../common/clock';
import { Scheduler } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import { CallMetrics } from '../metrics/call-metrics';
import { AppLogger } from '../logging/app-logger';
import { forOutboundCall } from '../profile/call-profile';
import { CallProfileResolver } from '../profile/call-profile.resolver';
import { RealtimeConnector } from '../realtime/realtime-client';
import { RealtimeLink } from '../realtime/realtime-link';
import { ToolRegistry } from '../tools/tool-registry';
import { TwilioCallControl } from '../twilio/twilio-call-control';
import { TwilioMediaStream, type CorkableTransport, type MalformedFrames } from '../twilio/twilio-media-stream';
import type { TwilioStart } from '../twilio/twilio-protocol';
import { Call } from './call';
import { CallRecordsFactory } from './call-records';
import { CallRegistry, type LiveConnection } from './call-registry';
import { InterruptionStateMachine } from './interruption-state-machine';

/** A media stream whose `start` has been accepted, with the socket it arrived on. */
export interface StartedStream {
  readonly socket: WebSocket;
  readonly transport: CorkableTransport | null;
  readonly start: TwilioStart;
  readonly malformed: MalformedFrames;
  /** Frames that came after the start, before the call took the socket over: read first. */
  readonly held: ReadonlyArray<[WebSocket.RawData, boolean]>;
}

/** Builds a whole call from a started media stream and the services it works with. */
@Injectable()
export class CallFactory {
  constructor(
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly scheduler: Scheduler,
    private readonly logger: AppLogger,
    private readonly registry: CallRegistry,
    private readonly profiles: CallProfileResolver,
    private readonly records: CallRecordsFactory,
    private readonly realtime: RealtimeConnector,
    private readonly tools: ToolRegistry,
    private readonly control: TwilioCallControl,
    private readonly metrics: CallMetrics,
  ) {}

  /** Builds the call, hands it `handshake`'s slot in the registry, and starts it. */
  start(started: StartedStream, handshake: LiveConnection): Call {
    const { start, socket, transport, malformed } = started;
    const { config, clock, scheduler } = this;
    const log = this.logger.child({ component: 'call', callSid: start.callSid, streamSid: start.streamSid });
    malformed.relog(log);
    const from = start.customParameters.from ?? '';
    const to = start.customParameters.to ?? '';
    const direction = start.customParameters.direction?.startsWith('outbound') ? 'outbound' : 'inbound';
    const { outboundRequest, purpose } = start.customParameters;
    // The business's line is the called number of an inbound call, and the caller ID of an outbound one.
    const business = this.profiles.resolve(direction === 'outbound' ? from : to);
    const profile = direction === 'outbound' && outboundRequest && purpose ? forOutboundCall(business, { requestId: outboundRequest, purpose }) : business;
    const records = this.records.open({ callSid: start.callSid, streamSid: start.streamSid, from, to, direction }, profile, log);
    if (profile.outbound) records.setDetail('outboundRequest', profile.outbound.requestId);
    const machine = new InterruptionStateMachine(clock);
    const stream = new TwilioMediaStream(socket, transport, {
      streamSid: start.streamSid,
      ledger: machine,
      clock,
      log,
      malformed,
      sendBufferMaxBytes: config.calls.sendBufferMaxBytes,
      sendStallTimeoutMs: config.calls.sendStallTimeoutMs,
      agentAudio: records.agentAudioSent,
      metrics: this.metrics,
    });
    const link = new RealtimeLink({ connector: this.realtime, scheduler, clock, log, connectTimeoutMs: config.openai.connectTimeoutMs, metrics: this.metrics });
    const call = new Call({
      callSid: start.callSid,
      profile,
      stream,
      link,
      machine,
      records,
      tools: this.tools,
      control: this.control,
      registry: this.registry,
      metrics: this.metrics,
      config,
      clock,
      scheduler,
      log,
    });
    this.registry.replace(handshake, call);
    call.begin();
    stream.readHeld(started.held);
    return call;
  }
}
