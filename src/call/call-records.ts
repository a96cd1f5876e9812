import { Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { CallLog, type CallJournal } from '../call-log/call-log.service';
import { oneLineSummary } from '../call-log/call-summary';
import { Clock } from '../common/clock';
import { BYTES_PER_MS } from '../common/mulaw';
import { CrmService, type CallSummaryForCrm, type JobRequest } from '../crm/crm.port';
import { AutomaticCallbacks } from '../outbound/automatic-callbacks';
import type { CallProfile } from '../profile/call-profile';
import type { RealtimeUsage } from '../realtime/realtime-protocol';
import type { CallRecorder } from '../recording/call-recorder';
import { CallSummaries } from '../summary/call-summaries';
import { RecordingLinks } from '../recording/recording-links';
import { RecordingService } from '../recording/recording.service';
import { SessionStore, SharedStateUnavailable, type CallDirection } from '../session/session-store';
import type { AgentAudioSink } from '../twilio/twilio-media-stream';
import type { AgentState } from './interruption-state-machine';
import { CallTimeline } from './call-timeline';
import { buildConversationSummary } from './conversation-summary';

/** The session store's lastSeenAt is written at most this often. */
const TOUCH_INTERVAL_MS = 5_000;

/** Who is on the call, from the stream's start. */
export interface CallParties {
  readonly callSid: string;
  readonly streamSid: string;
  readonly from: string;
  readonly to: string;
  readonly direction: CallDirection;
}

/** How a call ended, for its records. */
export interface CallEnding {
  readonly status: 'completed' | 'failed';
  readonly endReason: string;
  /** Facts about the end worth keeping in the record's details. */
  readonly details: Readonly<Record<string, unknown>>;
}

/**
 * Everything a call leaves behind, kept as it happens: the call-log entry (transcript, usage,
 * tool calls, the job request), the stereo recording, the session other instances can read, and
 * the CRM's hand-off at start and end. Positions are on the call's timeline (Twilio's media clock).
 * Nothing here blocks the audio: writes are queued or fired off, and failures are logged.
 */
export class CallRecords {
  readonly timeline: CallTimeline;
  /** Agent audio as it is sent, into the recording; null when the call is not recorded. */
  readonly agentAudioSent: AgentAudioSink | null;
  private readonly startedAt: number;
  private lastTouch: number;
  private state: AgentState = 'listening';
  private finished = false;
  private readonly sessionWriteFailed = (what: string) => (err: unknown): void => {
    // An outage is logged once by the Redis connection, not by every call's every write.
    if (!(err instanceof SharedStateUnavailable)) this.deps.log.error({ err }, `session ${what} failed`);
  };

  constructor(
    readonly parties: CallParties,
    private readonly profile: CallProfile,
    private readonly journal: CallJournal,
    private readonly recorder: CallRecorder | null,
    private readonly deps: {
      readonly sessions: SessionStore;
      readonly crm: CrmService;
      readonly links: RecordingLinks;
      readonly callbacks: Pick<AutomaticCallbacks, 'callEnded'>;
      readonly summaries: Pick<CallSummaries, 'summarize'>;
      readonly clock: Clock;
      readonly log: Logger;
    },
  ) {
    this.timeline = new CallTimeline(deps.clock);
    this.startedAt = deps.clock.epochMs();
    this.lastTouch = deps.clock.now();
    this.agentAudioSent = recorder ? (base64, bytes) => recorder.agentAudio(this.timeline.now(), base64, bytes) : null;
    this.saveSession(this.startedAt);
    if (profile.crm) deps.crm.callStarted({ callSid: parties.callSid, from: parties.from, to: parties.to });
  }

  /** A caller frame arrived at `now` (monotonic): on the timeline and into the recording. */
  callerAudio(payload: string, timestampMs: number, now: number): void {
    this.timeline.media(timestampMs);
    this.recorder?.callerAudioBase64(timestampMs, payload);
    this.heard(now);
  }

  /** Twilio sent something at `now`: the session is refreshed now and then for other instances. */
  heard(now: number): void {
    if (now - this.lastTouch < TOUCH_INTERVAL_MS) return;
    this.lastTouch = now;
    const at = this.deps.clock.epochMs();
    // A store that lost the session (Redis restarted empty, or was away past the TTL) gets it back.
    this.deps.sessions.touch(this.parties.callSid, at).then((live) => {
      if (!live && !this.finished) this.saveSession(at, 'session saved again: the shared store had lost it');
    }, this.sessionWriteFailed('touch'));
  }

  agentState(state: AgentState): void {
    this.state = state;
    this.deps.sessions.setState(this.parties.callSid, state).catch(this.sessionWriteFailed('state write'));
  }

  /** A delta of agent audio (`bytes` long) is going to the caller now. */
  agentAudio(itemId: string, bytes: number): void {
    this.journal.agentAudio(itemId, bytes / BYTES_PER_MS, this.timeline.now());
  }

  /** The caller barged in: Twilio dropped the queued agent audio, the item was heard up to `audioEndMs`. */
  agentCut(itemId: string, audioEndMs: number): void {
    this.recorder?.agentCleared(this.timeline.now());
    this.journal.agentTruncated(itemId, audioEndMs);
  }

  /** `atMs`: where the turn starts on the call's timeline. */
  callerSpeechStarted(itemId: string | undefined, atMs: number): void {
    this.journal.callerSpeechStarted(itemId, atMs);
  }

  callerTranscript(itemId: string, text: string): void {
    this.journal.callerTranscript(itemId, text, this.timeline.now());
  }

  agentTranscriptDelta(itemId: string, delta: string): void {
    this.journal.agentTranscriptDelta(itemId, delta);
  }

  agentTranscriptDone(itemId: string, text: string): void {
    this.journal.agentTranscriptDone(itemId, text);
  }

  usage(usage: RealtimeUsage): void {
    this.journal.addUsage(usage);
  }

  toolCalled(entry: Readonly<Record<string, unknown>>): void {
    this.journal.appendDetail('toolCalls', entry);
  }

  /** An operator's command (hang up, transfer, say) reached the call. */
  operatorCommand(entry: Readonly<Record<string, unknown>>): void {
    this.journal.appendDetail('operatorCommands', entry);
  }

  setDetail(key: string, value: unknown): void {
    this.journal.setDetail(key, value);
  }

  getDetail(key: string): unknown {
    return this.journal.getDetail(key);
  }

  /** What a fresh Realtime session needs to carry on a conversation it did not hear. */
  conversationSummary(): string {
    return buildConversationSummary(this.journal.turns(), this.journal.getDetail('jobRequest') as JobRequest | undefined);
  }

  /** Closes every record of the call: recording finished, entry written, summary asked for, session removed, CRM told. */
  finish(ending: CallEnding): void {
    const endedAt = this.deps.clock.epochMs();
    const durationMs = this.timeline.now();
    this.recorder?.finish(durationMs).catch((err: unknown) => this.deps.log.error({ err }, 'recording not finished'));
    for (const [key, value] of Object.entries(ending.details)) this.journal.setDetail(key, value);
    const jobRequest = this.journal.getDetail('jobRequest') as JobRequest | undefined;
    // Asked for before the ended record is written, so that its webhook event waits for the summary;
    // made in the background and attached to the record, which is written again.
    this.deps.summaries.summarize(
      this.parties.callSid,
      {
        direction: this.parties.direction,
        companyName: this.profile.companyName,
        transcript: this.journal.turns(),
        jobRequest,
        status: ending.status,
        endReason: ending.endReason,
      },
      (summary) => this.journal.amend('summary', summary),
    );
    this.journal.finish(ending.status, ending.endReason, new Date(endedAt).toISOString(), durationMs);
    this.finished = true;
    this.deps.sessions.remove(this.parties.callSid).catch(this.sessionWriteFailed('remove'));
    if (this.profile.crm) this.deps.crm.callEnded(this.crmSummary(ending, endedAt, durationMs));
    this.deps.callbacks.callEnded({
      callSid: this.parties.callSid,
      from: this.parties.from,
      direction: this.parties.direction,
      endReason: ending.endReason,
      jobRequestSaved: this.journal.getDetail('jobRequest') !== undefined,
      companyName: this.profile.companyName,
    });
  }

  private saveSession(lastSeenAt: number, saved?: string): void {
    this.deps.sessions.save({ ...this.parties, startedAt: this.startedAt, lastSeenAt, state: this.state }).then(
      () => saved && this.deps.log.info(saved),
      this.sessionWriteFailed('save'),
    );
  }

  private crmSummary(ending: CallEnding, endedAt: number, durationMs: number): CallSummaryForCrm {
    const record = this.journal.snapshot();
    const jobRequest = record.details.jobRequest as JobRequest | undefined;
    return {
      callSid: record.callSid,
      from: record.from,
      to: record.to,
      direction: record.direction,
      startedAt: this.startedAt,
      endedAt,
      durationMs: Math.round(durationMs),
      status: ending.status,
      endReason: ending.endReason,
      transcript: record.transcript,
      jobRequest,
      // At the end of the call, before the model's summary: the CRM gets the one-line one.
      summary: oneLineSummary(record),
      recordingUrl: record.recording ? this.deps.links.urlFor(record.callSid) : undefined,
    };
  }
}

/** Opens the records of each call, with the services they are kept in. */
@Injectable()
export class CallRecordsFactory {
  constructor(
    private readonly callLog: CallLog,
    private readonly recordings: RecordingService,
    private readonly links: RecordingLinks,
    private readonly sessions: SessionStore,
    private readonly crm: CrmService,
    private readonly clock: Clock,
    private readonly callbacks: AutomaticCallbacks,
    private readonly summaries: CallSummaries,
  ) {}

  open(parties: CallParties, profile: CallProfile, log: Logger): CallRecords {
    const recorder = this.recordings.start(parties.callSid);
    const journal = this.callLog.open({ ...parties, profile: profile.id }, recorder?.fileName ?? null);
    return new CallRecords(parties, profile, journal, recorder, { sessions: this.sessions, crm: this.crm, links: this.links, callbacks: this.callbacks, summaries: this.summaries, clock: this.clock, log });
  }
}
