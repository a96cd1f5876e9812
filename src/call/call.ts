import type { Logger } from 'pino';
import type { Clock } from '../common/clock';
import type { ScheduledTask, Scheduler } from '../common/scheduler';
import type { AppConfig } from '../config/app-config';
import type { CallMetrics } from '../metrics/call-metrics';
import type { CallProfile } from '../profile/call-profile';
import type { LinkChange, LinkClosed, RealtimeLink, RealtimeLinkListener } from '../realtime/realtime-link';
import {
  buildCancel,
  buildFunctionOutput,
  buildGoodbye,
  buildGreeting,
  buildInstructedResponse,
  buildOperatorSentence,
  buildResponseCreate,
  buildSessionUpdate,
  buildTruncate,
  isMuLaw,
  NON_FATAL_ERROR_CODES,
  type RealtimeServerEvent,
  type ResponseCreate,
} from '../realtime/realtime-protocol';
import type { ToolCallContext } from '../tools/tool';
import type { ToolRegistry } from '../tools/tool-registry';
import type { TwilioCallControl } from '../twilio/twilio-call-control';
import { base64Bytes, CLOSE_FAILURE, CLOSE_NORMAL, type MediaStreamListener, type TwilioMediaStream } from '../twilio/twilio-media-stream';
import { commandDone, commandRefused, type CallCommand, type CallCommandResult } from './call-command';
import { NORMAL_END, recordedEndReason, type Departure, type EndReason, type Outcome } from './call-end';
import type { CallRecords } from './call-records';
import type { CallRegistry, LiveConnection } from './call-registry';
import type { AgentState, InterruptionStateMachine, StateCause } from './interruption-state-machine';
import { HoldAudio, holdChunk, type HoldStep } from './hold-audio';
import { ResponseSequencer, type ResponseKind, type SequencerStep } from './response-sequencer';
import { ResponseTiming } from './response-timing';
import { SessionRollover } from './session-rollover';
import { SilenceMonitor } from './silence-monitor';
import { ToolCalls } from './tool-calls';

/** Longest wait for a goodbye to be said and played: a sentence, with room for a slow start. */
export const GOODBYE_MAX_MS = 10_000;
/** Longest wait for Twilio to stop the stream of a call hung up over REST. */
export const HANGUP_MAX_MS = 5_000;

/** Everything a call is made of, built by CallFactory once the stream's start is valid. */
export interface CallParts {
  readonly callSid: string;
  readonly profile: CallProfile;
  readonly stream: TwilioMediaStream;
  readonly link: RealtimeLink;
  readonly machine: InterruptionStateMachine;
  readonly records: CallRecords;
  readonly tools: ToolRegistry;
  readonly control: TwilioCallControl;
  readonly registry: CallRegistry;
  readonly metrics: CallMetrics;
  readonly config: AppConfig;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly log: Logger;
}

/**
 * One phone call, from a valid `start` to its end: caller audio goes from the Twilio stream to
 * the Realtime link, the agent's audio from the link to the stream, and the decisions are taken
 * by pure objects — barge-in by the InterruptionStateMachine, what the model is asked to say by
 * the ResponseSequencer, silence and session rollover by their monitors. What the call leaves
 * behind goes to its CallRecords.
 *
 * Every handler is synchronous, so one call's events are handled strictly in arrival order on
 * each socket; slow work (tools, records, REST) is fired off and never awaited here.
 */
export class Call implements LiveConnection, MediaStreamListener, RealtimeLinkListener {
  readonly callSid: string;
  lastHeardAt: number;
  private readonly sequencer = new ResponseSequencer();
  private readonly silence: SilenceMonitor;
  private readonly rollover: SessionRollover;
  private readonly tools: ToolCalls;
  private readonly timing: ResponseTiming;
  private readonly holdAudio = new HoldAudio();
  private ended = false;
  private outcome: Outcome | null = null;
  private callerSpeaking = false;
  private departing = false;
  private shuttingDown = false;
  /** Bounds a goodbye's playing, then the wait for Twilio to stop a call hung up over REST. */
  private deadline: ScheduledTask | null = null;
  private speechWaiters: Array<() => void> = [];
  private readonly endedWaiters: Array<() => void> = [];

  constructor(private readonly parts: CallParts) {
    const { clock, config, machine, records, profile } = parts;
    this.callSid = parts.callSid;
    this.lastHeardAt = clock.now();
    this.silence = new SilenceMonitor(config.calls.silencePromptMs, clock.now());
    this.rollover = new SessionRollover(config.openai.sessionMaxMs);
    this.timing = new ResponseTiming(clock.now(), parts.metrics);
    const context: ToolCallContext = {
      callSid: records.parties.callSid,
      streamSid: records.parties.streamSid,
      from: records.parties.from,
      to: records.parties.to,
      profile,
      call: {
        agentFinishedSpeaking: () => this.agentFinishedSpeaking(),
        markOutcome: (outcome) => this.markOutcome(outcome),
        instruct: (text) => this.instruct(text),
        hold: (on) => this.hold(on),
        whenEnded: () => this.whenEnded(),
      },
      setDetail: (key, value) => records.setDetail(key, value),
      getDetail: (key) => records.getDetail(key),
    };
    this.tools = new ToolCalls(parts.tools, context, records, parts.log, parts.metrics, (responseId, callId, output) =>
      this.apply(this.sequencer.toolOutput(responseId, callId, output)),
    );
    machine.observe((from, to, cause) => this.onAgentState(from, to, cause));
  }

  /** Starts listening to Twilio and connecting to the model. */
  begin(): void {
    const { parties } = this.parts.records;
    this.parts.log.info({ direction: parties.direction, from: parties.from, to: parties.to, profile: this.parts.profile.id }, 'call started');
    this.parts.metrics.callStarted();
    this.parts.stream.listen(this);
    this.parts.link.connect(this);
  }

  /** Resolves once the call has ended. */
  whenEnded(): Promise<void> {
    if (this.ended) return Promise.resolve();
    return new Promise((resolve) => this.endedWaiters.push(resolve));
  }

  endWithGoodbye(): Promise<void> {
    // A call already leaving is bounded by its own departure.
    if (!this.ended && !this.shuttingDown && !this.departing) {
      this.shuttingDown = true;
      this.deadline?.cancel();
      this.deadline = this.parts.scheduler.after(GOODBYE_MAX_MS, () => this.depart('shutdown'));
      this.apply(this.sequencer.shutdown());
    }
    return this.whenEnded();
  }

  /** Ends the call: both sockets closed, its records finished, logged once with the reason. */
  end(reason: EndReason): void {
    if (this.ended) return;
    this.ended = true;
    const { stream, link, machine, records, registry, log } = this.parts;
    this.deadline?.cancel();
    this.deadline = null;
    this.tools.callEnded();
    machine.end();
    link.close(1000, 'call ended');
    // Whenever we close, Twilio runs the fallback TwiML: with 1011 it knows the agent failed.
    stream.close(NORMAL_END[reason] ? CLOSE_NORMAL : CLOSE_FAILURE, reason);
    registry.remove(this);
    const backpressure = stream.backpressureEpisodes;
    const status = NORMAL_END[reason] ? 'completed' : 'failed';
    const endReason = recordedEndReason(reason, this.outcome);
    records.finish({ status, endReason, details: backpressure.episodes > 0 ? { twilioBackpressure: backpressure } : {} });
    this.parts.metrics.callEnded(status, endReason);
    log.info(
      {
        reason,
        durationMs: Math.round(records.timeline.now()),
        malformedFrames: stream.malformedFrames,
        earlyAudioDropped: link.earlyAudioDropped,
        toolCallsRefused: this.tools.refusedCount,
      },
      'call ended',
    );
    this.resolveSpeechWaiters();
    for (const resolve of this.endedWaiters.splice(0)) resolve();
  }

  // ---- Twilio --------------------------------------------------------------------------------

  onMedia(payload: string, timestampMs: number): void {
    if (this.ended) return;
    const now = this.parts.clock.now();
    this.lastHeardAt = now;
    this.parts.records.callerAudio(payload, timestampMs, now);
    this.parts.link.appendCallerAudio(payload, timestampMs);
    this.parts.metrics.callerFrame();
    this.tick(now);
  }

  onMark(name: string): void {
    if (this.ended) return;
    if (this.holdAudio.playing) this.applyHold(this.holdAudio.markEchoed(name));
    this.parts.machine.markEchoed(name);
  }

  onDtmf(): void {
    if (this.ended) return;
    this.lastHeardAt = this.parts.clock.now();
    this.parts.records.heard(this.lastHeardAt);
    this.parts.log.debug('dtmf received');
  }

  onStop(): void {
    this.end('twilio_stop');
  }

  onClosed(): void {
    this.end('twilio_closed');
  }

  onStalled(): void {
    this.end('twilio_backpressure');
  }

  /**
   * Decisions driven by the clock, checked on each caller frame: Twilio sends one every 20 ms,
   * silence included, so no timer is needed.
   */
  private tick(now: number): void {
    const { machine, link, log, config } = this.parts;
    // A rollover cuts neither side short: nobody speaks, nothing is asked of the model, no tool result is outstanding.
    const quiet =
      machine.state === 'listening' &&
      !this.callerSpeaking &&
      !this.sequencer.awaitingResponse &&
      this.tools.runningCount === 0 &&
      this.sequencer.pendingOutputs === 0;
    const step = this.rollover.check(now, link.nextReady, quiet);
    if (step === 'prepare') link.prepareNext();
    else if (step === 'switch') link.switchToNext();
    const silence = this.silence.check(now);
    if (silence !== null) {
      log.info({ action: silence, silentForMs: config.calls.silencePromptMs }, 'caller silent');
      this.apply(this.sequencer.silence(silence));
    }
  }

  // ---- Realtime ------------------------------------------------------------------------------

  /**
   * A Realtime socket became current: the call's first, one reopened after a drop, or the next
   * session at a rollover. A later session gets the same configuration plus what was said so far.
   */
  onSessionOpen(change: LinkChange): void {
    if (this.ended) return;
    if (change === 'rolled_over') this.sessionReplaced();
    this.configureSession(change);
    this.rollover.sessionStarted(this.parts.clock.now());
    this.apply(change === 'rolled_over' ? this.sequencer.sessionRolledOver() : this.sequencer.sessionOpened());
  }

  onReconnecting(closed: LinkClosed): void {
    if (this.ended) return;
    this.parts.log.warn({ code: closed.code, reason: closed.reason.slice(0, 200) }, 'realtime connection dropped; reopening');
    this.sessionReplaced();
    this.apply(this.sequencer.sessionDropped());
  }

  onLost(closed: LinkClosed): void {
    if (this.ended) return;
    // Closing the Twilio stream makes Twilio run the fallback TwiML: the caller is never left in silence.
    this.parts.log.error({ code: closed.code, reason: closed.reason.slice(0, 200), opened: closed.opened, change: closed.change }, 'realtime connection lost');
    if (closed.opened) this.end('realtime_closed');
    else this.end(closed.change === 'connected' ? 'realtime_connect_failed' : 'realtime_reopen_failed');
  }

  onEvent(event: RealtimeServerEvent): void {
    if (this.ended) return;
    const { machine, records, stream, log } = this.parts;
    switch (event.type) {
      case 'response.output_audio.delta': {
        // A barged-in response must stay silent.
        if (!machine.acceptsAudio(event.responseId)) return;
        // Passed on as the model sent it: no decode, no re-encode.
        const bytes = base64Bytes(event.delta);
        records.agentAudio(event.itemId, bytes);
        const sent = stream.sendAgentAudio(event.responseId, event.itemId, event.delta, bytes);
        if (sent && this.timing.waiting) this.timing.agentAudioSent(event.responseId, this.parts.clock.now());
        this.parts.metrics.agentDelta();
        return;
      }
      case 'input_audio_buffer.speech_started':
        // audio_start_ms counts the input audio this session received, which began with inputStartMs.
        records.callerSpeechStarted(event.itemId, event.audioStartMs + (this.parts.link.inputStartMs ?? 0));
        log.debug('caller speech started');
        this.callerSpeaking = true;
        this.timing.callerStarted();
        // Before the barge-in: the agent falling silent must not start the silence count.
        this.silence.callerStarted();
        this.apply(this.sequencer.callerSpeechStarted());
        this.bargeIn();
        return;
      case 'input_audio_buffer.speech_stopped':
        log.debug('caller speech stopped');
        this.callerSpeaking = false;
        this.silence.callerStopped(this.parts.clock.now());
        this.timing.callerStopped(this.parts.clock.now());
        return;
      case 'response.created':
        machine.responseCreated(event.responseId);
        this.timing.responseCreated(event.responseId);
        this.apply(this.sequencer.responseCreated(event.responseId));
        return;
      case 'response.done':
        machine.responseDone(event.responseId);
        if (event.usage) records.usage(event.usage);
        log.info({ responseId: event.responseId, status: event.status }, 'response done');
        this.apply(this.sequencer.responseDone(event.responseId));
        return;
      case 'response.function_call_arguments.done':
        this.tools.run(event.responseId, event.callId, event.name, event.arguments, this.sequencer.pendingOutputs);
        return;
      case 'response.output_audio_transcript.delta':
        records.agentTranscriptDelta(event.itemId, event.delta);
        return;
      case 'response.output_audio_transcript.done':
        records.agentTranscriptDone(event.itemId, event.transcript);
        return;
      case 'conversation.item.input_audio_transcription.completed':
        records.callerTranscript(event.itemId, event.transcript);
        return;
      case 'session.updated':
        // Without mu-law both ways the caller would hear noise: better the fallback than that.
        if (!isMuLaw(event.outputFormat) || !isMuLaw(event.inputFormat)) {
          log.error({ outputFormat: event.outputFormat, inputFormat: event.inputFormat }, 'realtime session is not using mu-law audio');
          this.end('realtime_misconfigured');
          return;
        }
        this.apply(this.sequencer.sessionConfigured());
        return;
      case 'error':
        this.parts.metrics.realtimeError(event.code);
        if (event.code !== null && NON_FATAL_ERROR_CODES.has(event.code)) log.info({ code: event.code }, 'realtime race reported, not fatal');
        else log.warn({ code: event.code, errorType: event.errorType, message: event.message }, 'realtime error');
        return;
      case 'invalid':
        log.warn({ reason: event.reason }, 'ignored a malformed Realtime event');
        return;
      default:
        return;
    }
  }

  private configureSession(change: LinkChange): void {
    const { profile, records, config, tools, link } = this.parts;
    const instructions = change === 'connected' ? profile.instructions : `${profile.instructions}\n\n${records.conversationSummary()}`;
    link.send(
      buildSessionUpdate(config.openai.api, {
        model: config.openai.model,
        instructions,
        voice: profile.voice,
        transcriptionModel: config.openai.transcriptionModel,
        vad: config.openai.vad,
        tools: tools.available(profile),
      }),
    );
  }

  /**
   * The old session's work in flight is gone with it: its response will not finish and its tool
   * calls cannot be answered. Audio already at Twilio plays on.
   */
  private sessionReplaced(): void {
    this.tools.sessionReplaced();
    this.callerSpeaking = false;
    this.parts.stream.forgetAgentItem();
    this.parts.machine.sessionReplaced();
  }

  /** The caller started talking: whatever the agent was saying stops where the caller stopped hearing it. */
  private bargeIn(): void {
    const { machine, stream, records, link, log } = this.parts;
    const bargeIn = machine.speechStarted();
    stream.forgetAgentItem();
    if (!bargeIn) return;
    const { itemId, audioEndMs } = bargeIn.truncate;
    stream.clear();
    records.agentCut(itemId, audioEndMs);
    if (link.send(buildTruncate(itemId, audioEndMs))) this.parts.metrics.truncation();
    if (bargeIn.cancelResponseId) link.send(buildCancel(bargeIn.cancelResponseId));
    this.parts.metrics.bargeIn();
    log.info({ itemId, audioEndMs, cancelled: bargeIn.cancelResponseId }, 'caller barged in');
  }

  // ---- Decisions carried out -----------------------------------------------------------------

  private apply(steps: readonly SequencerStep[]): void {
    if (this.ended) return;
    for (const step of steps) {
      if (step.do === 'send_tool_output') this.parts.link.send(buildFunctionOutput(step.callId, step.output));
      else if (step.do === 'create_response') this.parts.link.send(this.response(step.kind));
      else if (step.do === 'say_operator_message') {
        const { text, mode } = step.message;
        this.parts.link.send(mode === 'sentence' ? buildOperatorSentence(text) : buildInstructedResponse(text));
      } else this.depart(step.departure);
    }
    // A goodbye to a silent caller is bounded too; shutdown's deadline is already set.
    if (this.shuttingDown || this.departing) return;
    const goodbye = this.sequencer.goodbyeUnderWay;
    if (goodbye !== null && this.deadline === null) {
      this.deadline = this.parts.scheduler.after(GOODBYE_MAX_MS, () => this.depart(goodbye));
    } else if (goodbye === null && this.deadline !== null) {
      this.deadline.cancel();
      this.deadline = null;
    }
  }

  private response(kind: ResponseKind): ResponseCreate {
    const { profile } = this.parts;
    switch (kind) {
      case 'greeting':
        return buildGreeting(profile.greeting);
      case 'resume':
        return buildInstructedResponse(profile.reconnectInstruction);
      case 'follow_up':
        return buildResponseCreate();
      case 'silence_prompt':
        return buildInstructedResponse(profile.silencePrompt);
      case 'silence_goodbye':
        return buildInstructedResponse(profile.silenceGoodbye);
      case 'shutdown_goodbye':
        return buildGoodbye(profile.shutdownGoodbye);
    }
  }

  /**
   * The call leaves on purpose (its goodbye has played, or none can be said): hung up through
   * Twilio's REST API when configured, as end_call does; otherwise, or if that fails, the stream
   * is closed and Twilio runs the TwiML after </Connect> (dial FALLBACK_PHONE_NUMBER, or apologise).
   */
  private depart(departure: Departure): void {
    if (this.ended || this.departing) return;
    const { control, scheduler, log } = this.parts;
    this.departing = true;
    this.outcome = departure;
    this.deadline?.cancel();
    this.deadline = null;
    this.apply(this.sequencer.setLeaving(true));
    log.info({ departure, restHangUp: control.available }, 'goodbye played; ending the call');
    if (!control.available) {
      this.end(departure);
      return;
    }
    control.hangUp(this.callSid).then(
      // Twilio's stop frame ends the call; the bound covers a stop that never comes.
      () => {
        if (!this.ended) this.deadline = scheduler.after(HANGUP_MAX_MS, () => this.end(departure));
      },
      (err: unknown) => {
        log.warn({ err: err instanceof Error ? err.message : String(err) }, 'hang-up failed; closing the stream');
        this.end(departure);
      },
    );
  }

  // ---- What an operator may do to the call (POST /api/calls/:callSid/...) ---------------------

  /** Carries out an operator's command; the answer says what was done, or why not. */
  async command(command: CallCommand): Promise<CallCommandResult> {
    if (this.ended) return commandRefused(404, 'The call has ended.');
    // A transfer's leg event is the warm transfer's (CallControlService routes it there), not the call's.
    if (command.action === 'warm-transfer') return commandRefused(404, 'No such warm transfer.');
    if (this.departing || this.outcome !== null) return commandRefused(409, 'The call is already being hung up or transferred.');
    this.parts.records.operatorCommand({ action: command.action, at: this.parts.clock.epochMs() });
    if (command.action === 'say') {
      const steps = this.sequencer.operatorMessage({ text: command.text, mode: command.mode });
      if (steps === null) return commandRefused(409, 'The agent cannot take another message now (it is saying goodbye, or messages are waiting).');
      const speaking = steps.some((step) => step.do === 'say_operator_message');
      this.apply(steps);
      return commandDone({ said: speaking ? 'now' : 'next', waiting: this.sequencer.operatorMessagesWaiting });
    }
    const { control, profile, log } = this.parts;
    if (!control.available) return commandRefused(409, 'Hanging up or transferring a call needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN.');
    if (command.action === 'hangup') {
      // Marked first: Twilio stops the stream as soon as the update lands.
      this.markOutcome('hangup');
      return this.viaTwilio(() => control.hangUp(this.callSid), { hungUp: true });
    }
    const to = command.to ?? profile.transferNumber;
    if (to === undefined) return commandRefused(409, 'No number to transfer to: pass "to", or set the line\'s transfer number (OPERATOR_TRANSFER_NUMBER).');
    log.info({ to }, 'operator transfers the call');
    this.markOutcome('transferred');
    return this.viaTwilio(() => control.transfer(this.callSid, to), { transferredTo: to });
  }

  private async viaTwilio(update: () => Promise<void>, done: Record<string, unknown>): Promise<CallCommandResult> {
    try {
      await update();
      return commandDone(done);
    } catch (err) {
      // The call goes on with the agent, as when a tool's hang-up or transfer fails.
      if (!this.ended) this.markOutcome(null);
      const message = err instanceof Error ? err.message : String(err);
      this.parts.log.warn({ err: message }, 'operator command refused by Twilio');
      return commandRefused(502, `Twilio refused: ${message}`);
    }
  }

  // ---- What tools may do to the call ----------------------------------------------------------

  /** Resolves once the agent's audio sent so far has played and no response is producing more. */
  private agentFinishedSpeaking(): Promise<void> {
    if (this.ended || this.parts.machine.state === 'listening') return Promise.resolve();
    return new Promise((resolve) => this.speechWaiters.push(resolve));
  }

  /** A tool is moving the call on (hang-up, transfer), or takes that back after a failure. */
  private markOutcome(outcome: 'hangup' | 'transferred' | null): void {
    this.outcome = outcome;
    this.apply(this.sequencer.setLeaving(outcome !== null));
  }

  /** A tool's instruction to the agent, said at the next right moment like an operator's message. */
  private instruct(text: string): boolean {
    if (this.ended || this.departing) return false;
    const steps = this.sequencer.operatorMessage({ text, mode: 'instruction' });
    if (steps === null) return false;
    this.apply(steps);
    return true;
  }

  /** The caller is on hold (a warm transfer rings): silence is not prompted, hold audio plays while the agent is quiet. */
  private hold(on: boolean): void {
    if (this.ended) return;
    this.silence.hold(on, this.parts.clock.now());
    this.applyHold(this.holdAudio.hold(on));
  }

  private applyHold(step: HoldStep): void {
    if (step === null || this.ended) return;
    const { stream } = this.parts;
    if (step.do === 'clear') stream.clear();
    else {
      const chunk = holdChunk();
      stream.sendHoldAudio(chunk.base64, chunk.bytes, step.mark);
    }
  }

  private onAgentState(from: AgentState, to: AgentState, cause: StateCause): void {
    const { log, records, clock } = this.parts;
    log.info({ from, to, cause }, 'agent state');
    if (to === 'listening') this.silence.agentQuiet(clock.now());
    else if (from === 'listening') {
      this.silence.agentBusy();
      // Before any of the agent's audio is sent: the hold audio queued at Twilio gives way.
      this.applyHold(this.holdAudio.agentBusy());
    }
    if (to === 'ended') return;
    records.agentState(to);
    if (to === 'listening') {
      this.resolveSpeechWaiters();
      this.apply(this.sequencer.agentQuiet());
      this.applyHold(this.holdAudio.agentWentQuiet());
    }
  }

  private resolveSpeechWaiters(): void {
    for (const resolve of this.speechWaiters.splice(0)) resolve();
  }
}
