import type { Logger } from 'pino';
import WebSocket from 'ws';
import type { Clock } from '../common/clock';
import type { ScheduledTask, Scheduler } from '../common/scheduler';
import { wsText } from '../common/ws-text';
import type { CallJournal, CallLog } from '../call-log/call-log.service';
import type { AppConfig } from '../config/app-config';
import type { CrmService } from '../crm/crm.port';
import type { AppLogger } from '../logging/app-logger';
import type { RealtimeConnector } from '../realtime/realtime-client';
import type { CallRecorder } from '../recording/call-recorder';
import type { RecordingService } from '../recording/recording.service';
import { STREAM_TOKEN_PARAMETER, type StreamTokens } from '../security/stream-tokens';
import {
  appendAudioFrame,
  buildCancel,
  buildFunctionOutput,
  buildGoodbye,
  buildGreeting,
  buildInstructedResponse,
  buildResponseCreate,
  buildSessionUpdate,
  buildTruncate,
  isMuLaw,
  NON_FATAL_ERROR_CODES,
  type RealtimeServerEvent,
} from '../realtime/realtime-protocol';
import type { CallDirection, SessionStore } from '../session/session-store';
import type { CallSummaryForCrm, JobRequest } from '../crm/crm.port';
import type { ToolCallContext } from '../tools/tool';
import type { ToolRegistry } from '../tools/tool-registry';
import type { TwilioCallControl } from '../twilio/twilio-call-control';
import { parseTwilioFrame, TwilioOutbound, type TwilioStart } from '../twilio/twilio-protocol';
import type { CallProfile } from '../profile/call-profile';
import type { CallProfileResolver } from '../profile/call-profile.resolver';
import type { CallRegistry, LiveCall } from './call-registry';
import { CallTimeline } from './call-timeline';
import { buildConversationSummary } from './conversation-summary';
import { InterruptionStateMachine, type AgentState, type StateCause } from './interruption-state-machine';
import { BYTES_PER_MS, FRAME_MS, OutboundAudioFramer } from './outbound-audio-framer';
import { CONNECT_RETRY_BACKOFF_MS, RealtimeLink, type LinkChange, type LinkClosed } from './realtime-link';
import { SendBackpressure, SendVerdict } from './send-backpressure';
import { SessionRollover } from './session-rollover';
import { SilenceMonitor, type SilenceAction } from './silence-monitor';

/** Everything a bridge needs, gathered by CallBridgeFactory from DI. */
export interface CallBridgeDeps {
  readonly config: AppConfig;
  readonly realtime: RealtimeConnector;
  readonly sessions: SessionStore;
  readonly crm: CrmService;
  readonly clock: Clock;
  readonly logger: AppLogger;
  readonly registry: CallRegistry;
  readonly callLog: CallLog;
  readonly recordings: RecordingService;
  readonly tools: ToolRegistry;
  readonly scheduler: Scheduler;
  readonly callControl: TwilioCallControl;
  readonly streamTokens: StreamTokens;
  readonly profiles: CallProfileResolver;
}

/** The TCP socket under the Twilio WebSocket: corked while a delta's frames are queued. */
export interface CorkableTransport {
  cork(): void;
  uncork(): void;
}

/** A mark after at most this many frames bounds how far playback is estimated between echoes. */
const FRAMES_PER_MARK = 10;
/**
 * Twilio sends 20 ms frames of a few hundred bytes; anything this large is not Twilio audio and
 * is dropped before parsing. (Frames over WS_MAX_PAYLOAD_BYTES never get here: ws closes with 1009.)
 */
const MAX_FRAME_BYTES = 32 * 1024;
/** Malformed frames logged one by one before they are only counted. */
const MAX_LOGGED_BAD_FRAMES = 5;
/**
 * Tool calls running or with their output waiting for the response that asked for them; more are
 * refused (no output), so a model calling tools in a loop cannot pile up work or outputs.
 */
const MAX_PENDING_TOOL_CALLS = 16;
/**
 * A connection that has not sent a valid `start` by then is closed. Twilio sends it right after
 * connecting; until then the socket holds a call slot, so an idle or hostile one must not keep it.
 */
export const START_TIMEOUT_MS = 10_000;
/** lastSeenAt is written to the session store at most this often. */
const TOUCH_INTERVAL_MS = 5_000;

/** Close codes sent to Twilio. Any close from our side makes Twilio run the TwiML after </Connect>. */
const CLOSE_NORMAL = 1000;
const CLOSE_FAILURE = 1011;

/**
 * One phone call: relays caller audio from the Twilio Media Stream to the Realtime API and the
 * agent's audio back, and runs barge-in through the InterruptionStateMachine.
 *
 * Every handler is synchronous, so the events of one call are handled strictly in arrival order
 * on each socket; work that may be slow (session store, CRM) is fired off and never awaited here.
 */
export class CallBridge implements LiveCall {
  private twilio: WebSocket | null = null;
  private twilioTransport: CorkableTransport | null = null;
  private link: RealtimeLink | null = null;
  private out: TwilioOutbound | null = null;
  private start: TwilioStart | null = null;
  private profile: CallProfile | null = null;
  private log: Logger;
  private readonly machine: InterruptionStateMachine;
  private readonly framer = new OutboundAudioFramer();
  private ended = false;
  private greeted = false;
  private startedAt = 0;
  private lastTouch = 0;
  private badFrames = 0;
  private timeline: CallTimeline | null = null;
  private journal: CallJournal | null = null;
  private recorder: CallRecorder | null = null;
  /** Tool results waiting for the response that asked for them to finish. */
  private toolOutputs: Array<{ responseId: string; callId: string; output: string }> = [];
  private toolCallsRefused = 0;
  private responseWanted = false;
  private speechWaiters: Array<() => void> = [];
  private outcome: 'hangup' | 'transferred' | 'caller_silent' | 'shutdown' | null = null;
  /** Shutdown's goodbye: asked for once no response is in progress, then the response saying it. */
  private goodbye: { text: string; asked: boolean; responseId: string | null; played: () => void } | null = null;
  /** Twilio timestamp of the first caller frame sent to the current session: where its input audio timeline begins. */
  private firstMediaMs: number | null = null;
  /** Bumped when the Realtime session is replaced: tool results of an older session are dropped. */
  private sessionGeneration = 0;
  private toolsRunning = 0;
  private callerSpeaking = false;
  /** The reopened session speaks first, to pick the conversation up again. */
  private resumeAfterReopen = false;
  private readonly rollover: SessionRollover;
  private startDeadline: ScheduledTask | null = null;
  private silence: SilenceMonitor | null = null;
  /** The goodbye to a silent caller: asked for, then being spoken. */
  private silenceGoodbye: 'requested' | 'speaking' | null = null;

  /** Caller audio received while no Realtime socket is open (connecting, reopening), sent in order once one is. */
  private early: string[] = [];
  private earlyFirstMs = 0;
  private earlyBytes = 0;
  private earlyDropped = 0;
  private readonly earlyMaxBytes: number;

  // The agent item whose audio is being framed, and how far it has got.
  private audioResponseId: string | null = null;
  private audioItemId: string | null = null;
  private itemAudioBytes = 0;
  private framesSinceMark = 0;
  private readonly backpressure: SendBackpressure;
  private readonly sendFrame = (frame: Buffer): void => {
    const verdict = this.backpressure.check(this.twilio!.bufferedAmount);
    if (verdict !== SendVerdict.Send) {
      this.onBackpressure(verdict);
      return;
    }
    this.twilio!.send(this.out!.media(frame.toString('base64')));
    this.recorder?.agentAudio(this.timeline!.now(), frame);
    if (++this.framesSinceMark >= FRAMES_PER_MARK) this.sendMark();
  };

  constructor(private readonly deps: CallBridgeDeps) {
    this.log = deps.logger.child({ component: 'call' });
    this.machine = new InterruptionStateMachine(deps.clock, (from, to, cause) => this.onTransition(from, to, cause));
    // Enough for a connect, its retry and the pause between at real-time pace, so genuine audio is never dropped.
    this.earlyMaxBytes = (2 * deps.config.openai.connectTimeoutMs + CONNECT_RETRY_BACKOFF_MS + 2_000) * BYTES_PER_MS;
    this.rollover = new SessionRollover(deps.config.openai.sessionMaxMs);
    this.backpressure = new SendBackpressure(deps.config.calls.sendBufferMaxBytes, deps.config.calls.sendStallTimeoutMs, deps.clock);
  }

  get callSid(): string | null {
    return this.start?.callSid ?? null;
  }

  get state(): AgentState {
    return this.machine.state;
  }

  /**
   * Takes over a Twilio Media Streams socket. With its TCP transport, the frames cut from one
   * Realtime delta (and their mark) leave in one write instead of one system call each.
   */
  attach(socket: WebSocket, transport: CorkableTransport | null = null): void {
    this.twilio = socket;
    this.twilioTransport = transport;
    this.deps.registry.add(this);
    this.startDeadline = this.deps.scheduler.after(START_TIMEOUT_MS, () => {
      this.startDeadline = null;
      if (this.start || this.ended) return;
      this.log.warn({ afterMs: START_TIMEOUT_MS, malformedFrames: this.badFrames }, 'media stream sent no start frame: closing it');
      this.end('no_start');
    });
    socket.on('message', (data: WebSocket.RawData, isBinary: boolean) => this.onTwilioFrame(data, isBinary));
    socket.on('close', () => this.end('twilio_closed'));
    socket.on('error', (err) => this.log.warn({ err: err.message }, 'twilio socket error'));
  }

  sayGoodbye(): Promise<void> {
    if (this.ended || !this.link?.isOpen || !this.profile) return Promise.resolve();
    const goodbye = this.profile.shutdownGoodbye;
    this.outcome = 'shutdown';
    return new Promise((played) => {
      this.goodbye = { text: goodbye, asked: false, responseId: null, played };
      this.flushToolOutputs();
    });
  }

  /** Ends the call: both sockets closed, session removed, logged once with the reason. */
  end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.startDeadline?.cancel();
    this.startDeadline = null;
    this.machine.end();
    this.link?.close(CLOSE_NORMAL, 'call ended');
    // Twilio ended it (hang-up, transfer), a silent caller was said goodbye to, or shutdown ended
    // it on purpose: anything else is our failure. Whenever we close, Twilio runs the fallback TwiML.
    const normal = reason === 'twilio_stop' || reason === 'twilio_closed' || reason === 'caller_silent' || reason === 'shutdown';
    if (this.twilio && this.twilio.readyState === WebSocket.OPEN) {
      this.twilio.close(normal ? CLOSE_NORMAL : CLOSE_FAILURE, reason.slice(0, 100));
    }
    this.deps.registry.remove(this);
    const endedAt = this.deps.clock.epochMs();
    const durationMs = this.timeline?.now() ?? 0;
    if (this.recorder) {
      this.recorder.finish(durationMs).catch((err: unknown) => this.log.error({ err }, 'recording not finished'));
    }
    const endReason = normal && this.outcome ? this.outcome : reason;
    const status = normal ? 'completed' : 'failed';
    if (this.backpressure.episodes > 0) {
      this.journal?.setDetail('twilioBackpressure', { episodes: this.backpressure.episodes, droppedFrames: this.backpressure.droppedFrames });
    }
    this.journal?.finish(status, endReason, new Date(endedAt).toISOString(), durationMs);
    for (const resolve of this.speechWaiters) resolve();
    this.speechWaiters = [];
    this.goodbye?.played();
    if (this.start && this.journal) {
      this.deps.sessions.remove(this.start.callSid).catch((err: unknown) => this.log.error({ err }, 'session remove failed'));
      this.deps.crm.callEnded(this.crmSummary(this.journal, status, endReason, endedAt, durationMs));
    }
    this.log.info(
      { reason, durationMs: Math.round(durationMs), malformedFrames: this.badFrames, earlyAudioDropped: this.earlyDropped, toolCallsRefused: this.toolCallsRefused },
      'call ended',
    );
  }

  private crmSummary(journal: CallJournal, status: string, endReason: string, endedAt: number, durationMs: number): CallSummaryForCrm {
    const record = journal.snapshot();
    const jobRequest = record.details.jobRequest as JobRequest | undefined;
    const base = this.deps.config.calls.publicBaseUrl;
    return {
      callSid: record.callSid,
      from: record.from,
      to: record.to,
      direction: record.direction,
      startedAt: this.startedAt,
      endedAt,
      durationMs: Math.round(durationMs),
      status,
      endReason,
      transcript: record.transcript,
      jobRequest,
      summary: jobRequest?.problem
        ? `${jobRequest.urgency ?? 'unspecified'} job: ${jobRequest.problem}`
        : `Call ${endReason}; no job request captured.`,
      recordingUrl: base && record.recording ? `${base}/api/calls/${record.callSid}/recording` : undefined,
    };
  }

  // ---- Twilio side -------------------------------------------------------------------------

  private onTwilioFrame(data: WebSocket.RawData, isBinary: boolean): void {
    if (this.ended) return;
    if (isBinary) {
      this.badFrame('binary frame');
      return;
    }
    const text = wsText(data);
    if (text.length > MAX_FRAME_BYTES) {
      this.badFrame('frame too large');
      return;
    }
    const frame = parseTwilioFrame(text);
    switch (frame.event) {
      case 'media': {
        if (!this.start) {
          this.badFrame('media before start');
          return;
        }
        const now = this.deps.clock.now();
        this.seen(now);
        this.timeline!.media(frame.timestamp);
        if (this.link!.isOpen) {
          this.firstMediaMs ??= frame.timestamp;
          this.link!.send(appendAudioFrame(frame.payload));
        } else {
          this.bufferEarly(frame.payload, frame.timestamp);
        }
        this.recorder?.callerAudioBase64(frame.timestamp, frame.payload);
        this.tick(now);
        return;
      }
      case 'mark':
        this.machine.markEchoed(frame.name);
        if (this.speechWaiters.length > 0) this.checkSpeechDone();
        return;
      case 'start':
        this.onStart(frame);
        return;
      case 'stop':
        this.end('twilio_stop');
        return;
      case 'dtmf':
        if (!this.start) {
          this.badFrame('dtmf before start');
          return;
        }
        this.seen(this.deps.clock.now());
        this.log.debug('dtmf received');
        return;
      case 'connected':
        return;
      case 'invalid':
        this.badFrame(frame.reason);
        return;
    }
  }

  private onStart(start: TwilioStart): void {
    if (this.start) {
      this.badFrame('second start');
      return;
    }
    this.log = this.deps.logger.child({ component: 'call', callSid: start.callSid, streamSid: start.streamSid });
    // Only a stream the voice webhook asked for gets a Realtime session (and a call record).
    const refusal = this.deps.streamTokens.redeem(start.callSid, start.customParameters[STREAM_TOKEN_PARAMETER]);
    if (refusal) {
      this.log.warn({ refusal }, 'media stream refused: bad stream token');
      this.end(refusal);
      return;
    }
    this.start = start;
    this.startDeadline?.cancel();
    this.startDeadline = null;
    this.out = new TwilioOutbound(start.streamSid);
    this.startedAt = this.deps.clock.epochMs();
    this.lastTouch = this.deps.clock.now();
    this.timeline = new CallTimeline(this.deps.clock);
    const from = start.customParameters.from ?? '';
    const to = start.customParameters.to ?? '';
    this.profile = this.deps.profiles.resolve(to);
    this.deps.sessions
      .save({
        callSid: start.callSid,
        streamSid: start.streamSid,
        from,
        to,
        direction: this.direction(),
        startedAt: this.startedAt,
        lastSeenAt: this.startedAt,
        state: this.machine.state,
      })
      .catch((err: unknown) => this.log.error({ err }, 'session save failed'));
    this.deps.crm.callStarted({ callSid: start.callSid, from, to });
    this.recorder = this.deps.recordings.start(start.callSid);
    this.journal = this.deps.callLog.open(
      { callSid: start.callSid, streamSid: start.streamSid, direction: this.direction(), from, to, profile: this.profile.id },
      this.recorder?.fileName ?? null,
    );
    this.log.info({ direction: this.direction(), from, to }, 'call started');
    this.silence = new SilenceMonitor(this.deps.config.calls.silencePromptMs, this.deps.clock.now());
    this.link = new RealtimeLink(
      { connector: this.deps.realtime, scheduler: this.deps.scheduler, clock: this.deps.clock, log: this.log },
      {
        onSessionOpen: (change) => this.onSessionOpen(change),
        onEvent: (event) => this.onRealtimeEvent(event),
        onReconnecting: (closed) => this.onRealtimeReconnecting(closed),
        onLost: (closed) => this.onRealtimeLost(closed),
      },
    );
    this.link.connect();
  }

  private direction(): CallDirection {
    return this.start?.customParameters.direction?.startsWith('outbound') ? 'outbound' : 'inbound';
  }

  private seen(now: number): void {
    if (now - this.lastTouch < TOUCH_INTERVAL_MS) return;
    this.lastTouch = now;
    this.deps.sessions
      .touch(this.start!.callSid, this.deps.clock.epochMs())
      .catch((err: unknown) => this.log.error({ err }, 'session touch failed'));
  }

  /**
   * Clock-driven decisions, checked on each caller frame: Twilio sends one every 20 ms, silence
   * included, so no timer is needed.
   */
  private tick(now: number): void {
    // A rollover cuts neither side short: nobody speaks and no tool result is outstanding.
    const quiet = this.machine.state === 'listening' && !this.callerSpeaking && this.toolsRunning === 0 && this.toolOutputs.length === 0;
    const step = this.rollover.check(now, this.link!.nextReady, quiet);
    if (step === 'prepare') this.link!.prepareNext();
    else if (step === 'switch') this.link!.switchToNext();
    const silence = this.silence!.check(now);
    if (silence !== null) this.onSilence(silence);
  }

  private bufferEarly(payload: string, timestampMs: number): void {
    if (this.early.length === 0) this.earlyFirstMs = timestampMs;
    this.early.push(payload);
    this.earlyBytes += Buffer.byteLength(payload, 'base64');
    // Only reachable by a peer sending faster than real time: the connect timeout ends a
    // genuine call before its early audio could fill this.
    while (this.earlyBytes > this.earlyMaxBytes && this.early.length > 1) {
      this.earlyBytes -= Buffer.byteLength(this.early.shift()!, 'base64');
      if (this.earlyDropped++ === 0) this.log.warn({ maxBytes: this.earlyMaxBytes }, 'early caller audio over its bound; dropping the oldest');
    }
  }

  private badFrame(reason: string): void {
    if (++this.badFrames <= MAX_LOGGED_BAD_FRAMES) {
      this.log.warn({ reason, count: this.badFrames }, 'ignored a malformed Twilio frame');
    }
  }

  // ---- Realtime side -----------------------------------------------------------------------

  /**
   * A Realtime socket became current: the call's first, one reopened after a drop, or the next
   * session at a rollover. A later session gets the same configuration plus what was said so far.
   */
  private onSessionOpen(change: LinkChange): void {
    if (this.ended) return;
    const { config } = this.deps;
    if (change === 'rolled_over') this.sessionReplaced();
    const instructions =
      change === 'connected' ? this.profile!.instructions : `${this.profile!.instructions}\n\n${this.conversationSummary()}`;
    this.link!.send(
      buildSessionUpdate(config.openai.api, {
        model: config.openai.model,
        instructions,
        voice: this.profile!.voice,
        transcriptionModel: config.openai.transcriptionModel,
        vad: config.openai.vad,
        tools: this.deps.tools.available(this.profile!),
      }),
    );
    this.firstMediaMs = this.early.length > 0 ? this.earlyFirstMs : null;
    for (const payload of this.early) this.link!.send(appendAudioFrame(payload));
    this.log.info(
      { bufferedFrames: this.early.length, shape: config.openai.api, change },
      change === 'connected' ? 'realtime connected' : 'realtime session replaced',
    );
    this.early = [];
    this.earlyBytes = 0;
    this.rollover.sessionStarted(this.deps.clock.now());
  }

  private conversationSummary(): string {
    const journal = this.journal!;
    return buildConversationSummary(journal.transcript.turns(), journal.getDetail('jobRequest') as JobRequest | undefined);
  }

  /**
   * The old session's work in flight is gone with it: its response will not finish and its tool
   * calls cannot be answered. Audio already at Twilio plays on.
   */
  private sessionReplaced(): void {
    this.sessionGeneration++;
    this.callerSpeaking = false;
    if (this.audioItemId !== null) this.finishItemAudio();
    this.machine.sessionReplaced();
    this.toolOutputs = [];
    this.responseWanted = false;
    this.firstMediaMs = null;
    this.checkSpeechDone();
  }

  private onRealtimeEvent(event: RealtimeServerEvent): void {
    if (this.ended) return;
    switch (event.type) {
      case 'response.output_audio.delta':
        this.onAgentAudio(event.responseId, event.itemId, event.delta);
        return;
      case 'response.output_audio.done':
        if (event.itemId === this.audioItemId) this.finishItemAudio();
        return;
      case 'input_audio_buffer.speech_started':
        // audio_start_ms counts the input audio we appended, which began with the first caller frame.
        this.journal!.transcript.callerSpeechStarted(event.itemId, event.audioStartMs + (this.firstMediaMs ?? 0));
        this.log.debug('caller speech started');
        this.callerSpeaking = true;
        // Before the barge-in: the agent falling silent must not start the silence count.
        this.silence!.callerStarted();
        // A caller who speaks up during the goodbye is not hung up on.
        this.silenceGoodbye = null;
        this.onSpeechStarted();
        return;
      case 'input_audio_buffer.speech_stopped':
        this.log.debug('caller speech stopped');
        this.callerSpeaking = false;
        this.silence!.callerStopped(this.deps.clock.now());
        return;
      case 'response.created':
        this.machine.responseCreated(event.responseId);
        if (this.goodbye?.asked && this.goodbye.responseId === null) this.goodbye.responseId = event.responseId;
        if (this.silenceGoodbye === 'requested') {
          this.silenceGoodbye = 'speaking';
          void this.agentFinishedSpeaking().then(() => this.endSilentCall());
        }
        return;
      case 'response.done':
        this.machine.responseDone(event.responseId);
        if (event.responseId === this.goodbye?.responseId) void this.agentFinishedSpeaking().then(this.goodbye.played);
        if (event.usage) this.journal!.addUsage(event.usage);
        this.log.info({ responseId: event.responseId, status: event.status }, 'response done');
        this.flushToolOutputs();
        this.checkSpeechDone();
        return;
      case 'response.function_call_arguments.done':
        this.onFunctionCall(event.responseId, event.callId, event.name, event.arguments);
        return;
      case 'response.output_audio_transcript.delta':
        this.journal!.transcript.agentTranscriptDelta(event.itemId, event.delta);
        return;
      case 'response.output_audio_transcript.done':
        this.journal!.transcript.agentTranscriptDone(event.itemId, event.transcript);
        this.journal!.checkpoint();
        return;
      case 'conversation.item.input_audio_transcription.completed':
        this.journal!.transcript.callerTranscript(event.itemId, event.transcript, this.timeline!.now());
        this.journal!.checkpoint();
        return;
      case 'session.updated':
        this.onSessionUpdated(event.outputFormat, event.inputFormat);
        return;
      case 'error':
        if (event.code !== null && NON_FATAL_ERROR_CODES.has(event.code)) {
          this.log.info({ code: event.code }, 'realtime race reported, not fatal');
        } else {
          this.log.warn({ code: event.code, errorType: event.errorType, message: event.message }, 'realtime error');
        }
        return;
      case 'invalid':
        this.log.warn({ reason: event.reason }, 'ignored a malformed Realtime event');
        return;
      default:
        return;
    }
  }

  private onSessionUpdated(outputFormat: string | undefined, inputFormat: string | undefined): void {
    // Without mu-law both ways the caller would hear noise: better the fallback than that.
    if (!isMuLaw(outputFormat) || !isMuLaw(inputFormat)) {
      this.log.error({ outputFormat, inputFormat }, 'realtime session is not using mu-law audio');
      this.end('realtime_misconfigured');
      return;
    }
    if (!this.greeted) {
      // A drop before the greeting: the caller has heard nothing yet, so the new session greets.
      this.greeted = true;
      this.resumeAfterReopen = false;
      this.link!.send(buildGreeting(this.profile!.greeting));
    } else if (this.resumeAfterReopen) {
      this.resumeAfterReopen = false;
      this.link!.send(buildInstructedResponse(this.profile!.reconnectInstruction));
    }
  }

  private onAgentAudio(responseId: string, itemId: string, delta: string): void {
    // No streamSid yet means nowhere to send; and a barged-in response must stay silent.
    if (!this.out || !this.machine.acceptsAudio(responseId)) return;
    if (itemId !== this.audioItemId) {
      if (this.audioItemId !== null) this.finishItemAudio();
      this.audioResponseId = responseId;
      this.audioItemId = itemId;
      this.itemAudioBytes = 0;
    }
    const audio = Buffer.from(delta, 'base64');
    this.itemAudioBytes += audio.length;
    this.journal!.transcript.agentAudio(itemId, audio.length / BYTES_PER_MS, this.timeline!.now());
    const transport = this.twilioTransport;
    transport?.cork();
    try {
      this.framer.push(audio, this.sendFrame);
      if (this.framesSinceMark > 0) this.sendMark();
    } finally {
      transport?.uncork();
    }
  }

  /** The item's audio is complete: the partial last frame goes out padded with silence. */
  private finishItemAudio(): void {
    this.framer.flush(this.sendFrame);
    if (this.framesSinceMark > 0) this.sendMark();
    this.audioResponseId = null;
    this.audioItemId = null;
    this.itemAudioBytes = 0;
  }

  private onBackpressure(verdict: SendVerdict): void {
    if (this.ended) return;
    if (verdict === SendVerdict.FirstDrop) {
      this.log.warn({ bufferedBytes: this.twilio!.bufferedAmount }, 'twilio socket not keeping up: dropping agent audio');
    } else if (verdict === SendVerdict.Stalled) {
      this.log.error({ bufferedBytes: this.twilio!.bufferedAmount, droppedFrames: this.backpressure.droppedFrames }, 'twilio socket stalled: ending the call');
      this.end('twilio_backpressure');
    }
  }

  private sendMark(): void {
    const name = this.machine.audioSent({
      responseId: this.audioResponseId!,
      itemId: this.audioItemId!,
      durationMs: this.framesSinceMark * FRAME_MS,
      itemAudioMs: this.itemAudioBytes / BYTES_PER_MS,
    });
    this.framesSinceMark = 0;
    if (name !== null) this.twilio!.send(this.out!.mark(name));
  }

  private onSpeechStarted(): void {
    const bargeIn = this.machine.speechStarted();
    // Whatever happened, a partial frame of the old audio must not be sent later.
    this.framer.reset();
    this.framesSinceMark = 0;
    this.audioResponseId = null;
    this.audioItemId = null;
    this.itemAudioBytes = 0;
    if (!bargeIn) return;
    if (this.twilio?.readyState === WebSocket.OPEN) this.twilio.send(this.out!.clear());
    this.recorder?.agentCleared(this.timeline!.now());
    this.journal!.transcript.agentTruncated(bargeIn.truncate.itemId, bargeIn.truncate.audioEndMs);
    this.link!.send(buildTruncate(bargeIn.truncate.itemId, bargeIn.truncate.audioEndMs));
    if (bargeIn.cancelResponseId) this.link!.send(buildCancel(bargeIn.cancelResponseId));
    this.log.info(
      { itemId: bargeIn.truncate.itemId, audioEndMs: bargeIn.truncate.audioEndMs, cancelled: bargeIn.cancelResponseId },
      'caller barged in',
    );
  }

  /**
   * The model called a tool. It runs off the event handler (audio keeps flowing meanwhile); its
   * result goes back once the response that called it is done, then a new response is asked for.
   */
  private onFunctionCall(responseId: string, callId: string, name: string, args: string): void {
    if (this.toolsRunning + this.toolOutputs.length >= MAX_PENDING_TOOL_CALLS) {
      if (this.toolCallsRefused++ === 0) this.log.warn({ tool: name, callId, max: MAX_PENDING_TOOL_CALLS }, 'too many tool calls pending; refusing more');
      return;
    }
    const start = this.start!;
    const journal = this.journal!;
    const ctx: ToolCallContext = {
      callSid: start.callSid,
      streamSid: start.streamSid,
      from: start.customParameters.from ?? '',
      to: start.customParameters.to ?? '',
      profile: this.profile!,
      call: {
        agentFinishedSpeaking: () => this.agentFinishedSpeaking(),
        markOutcome: (outcome) => {
          this.outcome = outcome;
        },
      },
      setDetail: (key, value) => {
        journal.setDetail(key, value);
        journal.checkpoint();
      },
      getDetail: (key) => journal.getDetail(key),
    };
    this.log.info({ tool: name, callId }, 'tool called');
    const generation = this.sessionGeneration;
    this.toolsRunning++;
    void this.deps.tools.run(name, args, ctx).then((outcome) => {
      this.toolsRunning--;
      let parsedArgs: unknown = args;
      try {
        parsedArgs = JSON.parse(args);
      } catch {
        // kept as the raw text
      }
      journal.appendDetail('toolCalls', { name, callId, arguments: parsedArgs, ok: outcome.ok, error: outcome.error, output: JSON.parse(outcome.output) as unknown, durationMs: outcome.durationMs });
      journal.checkpoint();
      this.log.info({ tool: name, callId, ok: outcome.ok, error: outcome.error, durationMs: outcome.durationMs }, 'tool finished');
      if (this.ended) return;
      if (generation !== this.sessionGeneration) {
        this.log.info({ tool: name, callId }, 'tool output dropped: the session that asked for it is gone');
        return;
      }
      this.toolOutputs.push({ responseId, callId, output: outcome.output });
      this.flushToolOutputs();
    });
  }

  private flushToolOutputs(): void {
    if (this.ended || !this.link?.isOpen) return;
    const active = this.machine.activeResponse;
    const ready = this.toolOutputs.filter((o) => o.responseId !== active);
    if (ready.length > 0) {
      this.toolOutputs = this.toolOutputs.filter((o) => o.responseId === active);
      for (const o of ready) this.link.send(buildFunctionOutput(o.callId, o.output));
      this.responseWanted = true;
    }
    // One response.create at a time: with a response in progress the server would refuse it.
    if (this.goodbye && !this.goodbye.asked && active === null) {
      this.goodbye.asked = true;
      this.responseWanted = false;
      this.link.send(buildGoodbye(this.goodbye.text));
    }
    if (this.responseWanted && active === null) {
      this.responseWanted = false;
      this.link.send(buildResponseCreate());
    }
  }

  private agentFinishedSpeaking(): Promise<void> {
    return new Promise((resolve) => {
      this.speechWaiters.push(resolve);
      this.checkSpeechDone();
    });
  }

  /** The agent is silent at Twilio and no response is still producing audio. */
  private checkSpeechDone(): void {
    if (this.speechWaiters.length === 0) return;
    if (!this.ended && (this.machine.hasPendingAudio || this.machine.activeResponse !== null)) return;
    const waiters = this.speechWaiters;
    this.speechWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private onRealtimeReconnecting(closed: LinkClosed): void {
    if (this.ended) return;
    this.log.warn({ code: closed.code, reason: closed.reason.slice(0, 200) }, 'realtime connection dropped; reopening');
    this.sessionReplaced();
    this.resumeAfterReopen = true;
  }

  private onRealtimeLost(closed: LinkClosed): void {
    if (this.ended) return;
    // Closing the Twilio stream makes Twilio run the fallback TwiML: the caller is never left in silence.
    this.log.error({ code: closed.code, reason: closed.reason.slice(0, 200), opened: closed.opened, change: closed.change }, 'realtime connection lost');
    if (closed.opened) this.end('realtime_closed');
    else this.end(closed.change === 'connected' ? 'realtime_connect_failed' : 'realtime_reopen_failed');
  }

  private onSilence(action: SilenceAction): void {
    const operator = this.profile!;
    this.log.info({ action, silentForMs: this.deps.config.calls.silencePromptMs }, 'caller silent');
    // Mid-reconnect there is nobody to speak; the reopened session picks up the conversation instead.
    if (!this.link!.isOpen) return;
    this.link!.send(buildInstructedResponse(action === 'ask' ? operator.silencePrompt : operator.silenceGoodbye));
    if (action === 'goodbye') this.silenceGoodbye = 'requested';
  }

  /**
   * The goodbye to a silent caller has played: hang up through Twilio's REST API, as end_call does.
   * Without REST credentials the stream is closed instead, and Twilio runs the TwiML after
   * </Connect> (the fallback: dial FALLBACK_PHONE_NUMBER, or apologise and hang up).
   */
  private endSilentCall(): void {
    if (this.ended || this.silenceGoodbye !== 'speaking') return;
    this.log.info({ restHangUp: this.deps.callControl.available }, 'goodbye to a silent caller played; ending the call');
    this.outcome = 'caller_silent';
    if (!this.deps.callControl.available) {
      this.end('caller_silent');
      return;
    }
    this.deps.callControl.hangUp(this.start!.callSid).catch((err: unknown) => {
      this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'hang-up of a silent caller failed; closing the stream');
      this.end('caller_silent');
    });
  }

  private onTransition(from: AgentState, to: AgentState, cause: StateCause): void {
    this.log.info({ from, to, cause }, 'agent state');
    if (to === 'listening') this.silence?.agentQuiet(this.deps.clock.now());
    else if (from === 'listening') this.silence?.agentBusy();
    if (this.start && to !== 'ended') {
      this.deps.sessions.setState(this.start.callSid, to).catch((err: unknown) => this.log.error({ err }, 'session state write failed'));
    }
  }
}
