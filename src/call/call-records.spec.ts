import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CallLog, LIVE_RECORD_INTERVAL_MS } from '../call-log/call-log.service';
import { CallLogWriter } from '../call-log/call-log-writer';
import type { CallRecord } from '../call-log/call-record';
import { ManualClock } from '../common/clock';
import { ManualScheduler } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import { CrmService, type CallSummaryForCrm, type JobRequest } from '../crm/crm.port';
import { AppLogger } from '../logging/app-logger';
import { CallMetrics } from '../metrics/call-metrics';
import type { CallProfile } from '../profile/call-profile';
import { RecordingLinks } from '../recording/recording-links';
import { RecordingService } from '../recording/recording.service';
import { parseWavHeader, WAV_HEADER_BYTES } from '../recording/wav';
import type { AutomaticCallbacks, EndedInboundCall } from '../outbound/automatic-callbacks';
import { InMemorySessionStore } from '../session/session-store';
import { CallSummaries } from '../summary/call-summaries';
import { CallSummarizer, DisabledCallSummarizer, type SummaryRequest } from '../summary/call-summarizer';
import { MemoryRepository } from '../../test/support/call-harness';
import { LogCapture } from '../../test/support/log-capture';
import { testProfile } from '../../test/support/profiles';
import { deferred } from '../../test/support/wait';
import { CallRecordsFactory, type CallParties, type CallRecords } from './call-records';

/** A 20 ms frame of mu-law. */
const FRAME_BYTES = 160;

const CALL_SID = 'CA' + 'a'.repeat(32);
const PARTIES: CallParties = {
  callSid: CALL_SID,
  streamSid: 'MZ' + 'b'.repeat(32),
  from: '+15551230000',
  to: '+15557650000',
  direction: 'inbound',
};
const LINK_SECRET = 'recording-link-secret-0123456789abcdef';
const BURST_PIPE: JobRequest = { callerName: 'Dana', problem: 'Burst pipe under the sink', urgency: 'emergency' };

/** A CRM that keeps what the call told it. */
class RecordingCrm extends CrmService {
  readonly started: Array<{ callSid: string; from: string; to: string }> = [];
  readonly jobs: JobRequest[] = [];
  readonly ended: CallSummaryForCrm[] = [];

  callStarted(call: { callSid: string; from: string; to: string }): void {
    this.started.push(call);
  }
  jobRequested(_call: { callSid: string; from: string }, job: JobRequest): void {
    this.jobs.push(job);
  }
  callEnded(summary: CallSummaryForCrm): void {
    this.ended.push(summary);
  }
}

describe('CallRecords', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'call-records-spec-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** The records of one call, opened as CallFactory does, kept in in-memory services and temp files. */
  function openCall(env: Record<string, string> = {}, profile: CallProfile = testProfile(), summarizer: CallSummarizer = new DisabledCallSummarizer()) {
    const config = new AppConfig(
      validateEnvironment({
        LOG_LEVEL: 'info',
        DATA_DIR: dir,
        RECORDINGS_DIR: join(dir, 'recordings'),
        RECORDING_ENABLED: 'false',
        INSTANCE_ID: 'pod-a',
        ...env,
      }),
    );
    const logs = new LogCapture();
    const logger = new AppLogger(config, logs);
    const clock = new ManualClock();
    const scheduler = new ManualScheduler(clock);
    const repository = new MemoryRepository();
    const writer = new CallLogWriter(repository, config, logger, scheduler, new CallMetrics());
    const recordings = new RecordingService(config, logger);
    const sessions = new InMemorySessionStore(config, clock);
    const crm = new RecordingCrm();
    const endedCalls: EndedInboundCall[] = [];
    const callbacks = { callEnded: (c: EndedInboundCall) => void endedCalls.push(c) } as AutomaticCallbacks;
    const summaries = new CallSummaries(summarizer, config, clock, scheduler, logger, new CallMetrics());
    const factory = new CallRecordsFactory(new CallLog(writer, config, clock, scheduler), recordings, new RecordingLinks(config, clock, logger), sessions, crm, clock, callbacks, summaries);
    const records = factory.open(PARTIES, profile, logger.child({ callSid: CALL_SID }));
    return {
      records,
      endedCalls,
      clock,
      sessions,
      crm,
      recordings,
      logs,
      repository,
      writer,
      scheduler,
      summaries,
      /** The call's entry in the call log, once the paced write of what happened so far has landed. */
      entry: async (): Promise<CallRecord> => {
        scheduler.advance(LIVE_RECORD_INTERVAL_MS);
        await writer.drained();
        const row = repository.rows.get(CALL_SID);
        if (!row) throw new Error('no call-log entry written');
        return row;
      },
    };
  }

  /** The caller's first frame, stamped `timestampMs` on Twilio's media clock, arriving now. */
  const callerFrameAt = (records: CallRecords, clock: ManualClock, timestampMs: number, byte = 0x22) =>
    records.callerAudio(Buffer.alloc(FRAME_BYTES, byte).toString('base64'), timestampMs, clock.now());

  describe('at the start of the call', () => {
    it('saves the session other instances read, as listening from now', async () => {
      const { sessions, clock } = openCall();
      expect(await sessions.get(CALL_SID)).toEqual({ ...PARTIES, instanceId: 'pod-a', startedAt: clock.epochMs(), lastSeenAt: clock.epochMs(), state: 'listening' });
    });

    it('opens an in-progress call-log entry naming the profile that answered', async () => {
      const { entry, clock } = openCall({}, testProfile({ id: 'acme' }));
      const startedAt = new Date(clock.epochMs()).toISOString();
      expect(await entry()).toMatchObject({
        ...PARTIES,
        profile: 'acme',
        status: 'in-progress',
        startedAt,
        endedAt: null,
        recording: null,
      });
    });

    it("tells the CRM of the call when the profile's CRM is on", () => {
      const { crm } = openCall({}, testProfile({ crm: true }));
      expect(crm.started).toEqual([{ callSid: CALL_SID, from: PARTIES.from, to: PARTIES.to }]);
    });

    it("tells the CRM nothing when the profile's CRM is off", () => {
      const { crm } = openCall({}, testProfile({ crm: false }));
      expect(crm.started).toEqual([]);
    });
  });

  describe('during the call', () => {
    it("places events on the call's timeline: the newest caller timestamp plus the time since it arrived", () => {
      const { records, clock } = openCall();
      clock.advance(500);
      callerFrameAt(records, clock, 1_000);
      clock.advance(30);
      expect(records.timeline.now()).toBe(1_030);
    });

    it('writes turns into the transcript where they happened on the timeline', async () => {
      const { records, clock, entry } = openCall();
      callerFrameAt(records, clock, 0);
      clock.advance(400);
      records.agentAudio('agent-1', 8_000);
      records.agentTranscriptDelta('agent-1', 'Thanks for calling ');
      records.agentTranscriptDone('agent-1', 'Thanks for calling Acme.');
      records.callerSpeechStarted('caller-1', 1_500);
      clock.advance(2_000);
      records.callerTranscript('caller-1', 'My sink is leaking.');
      // A transcript with no speech_started is placed where it arrived.
      records.callerTranscript('caller-2', 'Hello?');

      expect((await entry()).transcript).toEqual([
        { speaker: 'agent', text: 'Thanks for calling Acme.', startMs: 400 },
        { speaker: 'caller', text: 'My sink is leaking.', startMs: 1_500 },
        { speaker: 'caller', text: 'Hello?', startMs: 2_400 },
      ]);
    });

    it('keeps only what the caller heard of an agent turn they talked over', async () => {
      const { records, clock, entry } = openCall();
      callerFrameAt(records, clock, 0);
      records.agentAudio('agent-1', 16_000);
      records.agentTranscriptDone('agent-1', 'We can come tomorrow morning or tomorrow afternoon.');
      records.agentCut('agent-1', 1_000);
      // The cut rides along with the entry's next snapshot: the caller's turn that cut in.
      records.callerSpeechStarted('caller-1', 1_000);
      records.callerTranscript('caller-1', 'Morning, please.');

      expect((await entry()).transcript).toEqual([
        { speaker: 'agent', text: 'We can come tomorrow', startMs: 0, interrupted: true },
        { speaker: 'caller', text: 'Morning, please.', startMs: 1_000 },
      ]);
    });

    it('refreshes the session at most every 5 seconds while Twilio is heard from', async () => {
      const { records, clock, sessions } = openCall();
      const startedAt = clock.epochMs();
      const lastSeen = async () => (await sessions.get(CALL_SID))?.lastSeenAt;

      clock.advance(4_999);
      callerFrameAt(records, clock, 4_999);
      expect(await lastSeen()).toBe(startedAt);

      clock.advance(1);
      records.heard(clock.now());
      expect(await lastSeen()).toBe(startedAt + 5_000);

      clock.advance(4_000);
      callerFrameAt(records, clock, 9_000);
      expect(await lastSeen()).toBe(startedAt + 5_000);

      clock.advance(1_000);
      callerFrameAt(records, clock, 10_000);
      expect(await lastSeen()).toBe(startedAt + 10_000);
    });

    it('saves the session again, with the current state, when the store has lost it (Redis restarted empty)', async () => {
      const { records, clock, sessions } = openCall();
      records.agentState('speaking');
      await sessions.remove(CALL_SID);

      clock.advance(5_000);
      records.heard(clock.now());
      // The touch finds nothing, then the save lands: a few turns of the microtask queue.
      let back = await sessions.get(CALL_SID);
      for (let turn = 0; turn < 10 && !back; turn++) back = await sessions.get(CALL_SID);
      expect(back).toMatchObject({ callSid: CALL_SID, state: 'speaking', lastSeenAt: clock.epochMs(), instanceId: 'pod-a' });
    });

    it('does not bring back the session of a call that has finished', async () => {
      const { records, clock, sessions } = openCall();
      await sessions.remove(CALL_SID);
      clock.advance(5_000);
      records.heard(clock.now());
      records.finish({ status: 'completed', endReason: 'twilio_stop', details: {} });
      for (let turn = 0; turn < 10; turn++) expect(await sessions.get(CALL_SID)).toBeUndefined();
    });

    it("writes the agent's state to the session", async () => {
      const { records, sessions } = openCall();
      records.agentState('speaking');
      expect((await sessions.get(CALL_SID))?.state).toBe('speaking');
      records.agentState('interrupted');
      expect((await sessions.get(CALL_SID))?.state).toBe('interrupted');
    });

    it('adds up the usage of every response in the entry', async () => {
      const { records, entry } = openCall({ PRICE_AUDIO_OUTPUT_PER_MTOK: '20' });
      records.usage({ input_token_details: { text_tokens: 100, audio_tokens: 50 }, output_token_details: { audio_tokens: 1_000 } });
      records.usage({ input_token_details: { text_tokens: 10 }, output_token_details: { text_tokens: 5, audio_tokens: 500 } });
      records.setDetail('note', 'flush usage');

      const { usage, costUsd } = await entry();
      expect(usage).toEqual({
        responses: 2,
        inputTextTokens: 110,
        inputAudioTokens: 50,
        cachedTextTokens: 0,
        cachedAudioTokens: 0,
        outputTextTokens: 5,
        outputAudioTokens: 1_500,
      });
      expect(costUsd).toBeGreaterThan(0);
    });

    it("keeps every tool call and the call's details in the entry", async () => {
      const { records, entry } = openCall();
      records.toolCalled({ name: 'save_job_request', callId: 'call-1', ok: true });
      records.toolCalled({ name: 'end_call', callId: 'call-2', ok: false, error: 'timeout' });
      records.setDetail('jobRequest', BURST_PIPE);

      expect(records.getDetail('jobRequest')).toEqual(BURST_PIPE);
      expect((await entry()).details).toEqual({
        toolCalls: [
          { name: 'save_job_request', callId: 'call-1', ok: true },
          { name: 'end_call', callId: 'call-2', ok: false, error: 'timeout' },
        ],
        jobRequest: BURST_PIPE,
      });
    });

    it('sums up the conversation and the saved job request for a new Realtime session', () => {
      const { records, clock } = openCall();
      callerFrameAt(records, clock, 0);
      records.callerTranscript('caller-1', 'Water everywhere!');
      records.setDetail('jobRequest', BURST_PIPE);

      const summary = records.conversationSummary();
      expect(summary).toContain('Caller: Water everywhere!');
      expect(summary).toContain('- problem: Burst pipe under the sink');
    });
  });

  describe('how often the entry is written', () => {
    it('at the start, then at most every LIVE_RECORD_INTERVAL_MS while the call runs, and at once at the end', async () => {
      const { records, clock, scheduler, writer, repository } = openCall();
      const saves: CallRecord[] = [];
      const save = repository.save.bind(repository);
      repository.save = async (record) => {
        saves.push(record);
        await save(record);
      };
      await writer.drained();
      // The opening write went out before the spy: two turns completed right after it wait.
      records.callerSpeechStarted('caller-1', 100);
      records.callerTranscript('caller-1', 'My sink is leaking.');
      clock.advance(1_000);
      records.agentTranscriptDone('agent-1', 'I can send someone today.');
      await writer.drained();
      expect(saves).toHaveLength(0);

      scheduler.advance(LIVE_RECORD_INTERVAL_MS - 1_000 - 1);
      await writer.drained();
      expect(saves).toHaveLength(0);
      scheduler.advance(1);
      await writer.drained();
      expect(saves).toHaveLength(1);
      expect(saves[0].transcript.map((t) => t.text)).toEqual(['My sink is leaking.']);

      // A detail right after that write waits for the next interval, unless the call ends first.
      records.setDetail('jobRequest', BURST_PIPE);
      await writer.drained();
      expect(saves).toHaveLength(1);
      records.finish({ status: 'completed', endReason: 'twilio_stop', details: {} });
      await writer.drained();
      expect(saves).toHaveLength(2);
      expect(saves[1]).toMatchObject({ status: 'completed', details: { jobRequest: BURST_PIPE } });
      // Nothing is left scheduled to write a stale in-progress snapshot after the end.
      scheduler.advance(LIVE_RECORD_INTERVAL_MS);
      await writer.drained();
      expect(saves).toHaveLength(2);
    });
  });

  describe('at the end of the call', () => {
    it('writes the final entry: status, end reason, when it ended, how long it lasted, and the facts about the end', async () => {
      const { records, clock, entry } = openCall();
      callerFrameAt(records, clock, 0);
      clock.advance(61_234.4);
      records.finish({ status: 'failed', endReason: 'realtime_closed', details: { earlyAudioDropped: 3 } });
      const endedAt = new Date(clock.epochMs()).toISOString();

      expect(await entry()).toMatchObject({
        status: 'failed',
        endReason: 'realtime_closed',
        endedAt,
        durationMs: 61_234,
        details: { earlyAudioDropped: 3 },
      });
    });

    it('tells the automatic callbacks how the call ended and whether a job request was saved', () => {
      const first = openCall();
      first.records.finish({ status: 'completed', endReason: 'twilio_stop', details: {} });
      expect(first.endedCalls).toEqual([
        { callSid: CALL_SID, from: PARTIES.from, direction: 'inbound', endReason: 'twilio_stop', jobRequestSaved: false, companyName: testProfile().companyName },
      ]);
      const second = openCall();
      second.records.setDetail('jobRequest', BURST_PIPE);
      second.records.finish({ status: 'completed', endReason: 'hangup', details: {} });
      expect(second.endedCalls[0]).toMatchObject({ endReason: 'hangup', jobRequestSaved: true });
    });

    it('removes the session', async () => {
      const { records, sessions } = openCall();
      records.finish({ status: 'completed', endReason: 'twilio_stop', details: {} });
      expect(await sessions.get(CALL_SID)).toBeUndefined();
      expect(await sessions.list()).toEqual([]);
    });

    it('closes the recording with both sides of the call, as long as the call', async () => {
      const { records, clock, recordings, entry } = openCall({ RECORDING_ENABLED: 'true' });
      expect(records.agentAudioSent).not.toBeNull();
      callerFrameAt(records, clock, 0, 0x22);
      records.agentAudioSent?.(Buffer.alloc(FRAME_BYTES, 0x11).toString('base64'), FRAME_BYTES);
      clock.advance(1_000);
      records.finish({ status: 'completed', endReason: 'twilio_stop', details: {} });
      await recordings.settled();

      expect((await entry()).recording).toBe(`${CALL_SID}.wav`);
      const wav = readFileSync(join(dir, 'recordings', `${CALL_SID}.wav`));
      // Stereo 8 kHz mu-law: 16 bytes a millisecond, caller on the left, agent on the right.
      expect(parseWavHeader(wav)?.dataSize).toBe(1_000 * 16);
      expect(wav.length).toBe(WAV_HEADER_BYTES + 1_000 * 16);
      const firstFrame = wav.subarray(WAV_HEADER_BYTES, WAV_HEADER_BYTES + 2 * FRAME_BYTES);
      expect(firstFrame.filter((_, i) => i % 2 === 0)).toEqual(Buffer.alloc(FRAME_BYTES, 0x22));
      expect(firstFrame.filter((_, i) => i % 2 === 1)).toEqual(Buffer.alloc(FRAME_BYTES, 0x11));
    });

    it('makes no recording when recording is off', async () => {
      const { records, entry } = openCall({ RECORDING_ENABLED: 'false' });
      expect(records.agentAudioSent).toBeNull();
      records.finish({ status: 'completed', endReason: 'twilio_stop', details: {} });
      expect((await entry()).recording).toBeNull();
    });

    describe('the written summary', () => {
      /** A model that answers when the test says. */
      class HeldSummarizer extends CallSummarizer {
        readonly model = 'gpt-4.1-mini';
        readonly requests: SummaryRequest[] = [];
        readonly answer = deferred<string>();
        summarize(request: SummaryRequest): Promise<string> {
          this.requests.push(request);
          return this.answer.promise;
        }
      }

      it('is asked for at the end, from the transcript, the job request and how the call ended, and attached to the written record', async () => {
        const model = new HeldSummarizer();
        const { records, writer, repository, summaries } = openCall({ OPENAI_API_KEY: 'sk-test-0123456789abcdef' }, testProfile({ companyName: 'Acme Plumbing' }), model);
        const saves: CallRecord[] = [];
        const save = repository.save.bind(repository);
        repository.save = async (record) => {
          saves.push(record);
          await save(record);
        };
        records.callerSpeechStarted('caller-1', 100);
        records.callerTranscript('caller-1', 'My sink is leaking.');
        records.agentAudio('agent-1', 8_000);
        records.agentTranscriptDone('agent-1', 'I can send someone today.');
        records.setDetail('jobRequest', BURST_PIPE);
        records.finish({ status: 'completed', endReason: 'hangup', details: {} });
        await writer.drained();

        // The ended record is written at once, without waiting for the model.
        expect(saves.at(-1)).toMatchObject({ status: 'completed', endReason: 'hangup' });
        expect(saves.at(-1)!.details.summary).toBeUndefined();
        expect(model.requests).toEqual([
          {
            direction: 'inbound',
            companyName: 'Acme Plumbing',
            transcript: [expect.objectContaining({ speaker: 'agent', text: 'I can send someone today.' }), expect.objectContaining({ speaker: 'caller', text: 'My sink is leaking.' })],
            jobRequest: BURST_PIPE,
            status: 'completed',
            endReason: 'hangup',
          },
        ]);
        const written = saves.length;

        model.answer.resolve('Dana called. Her sink leaks. Someone comes today.');
        await new Promise((resolve) => setImmediate(resolve));
        await writer.drained();
        expect(saves).toHaveLength(written + 1);
        expect(saves.at(-1)).toMatchObject({
          status: 'completed',
          endReason: 'hangup',
          details: { jobRequest: BURST_PIPE, summary: { status: 'ready', text: 'Dana called. Her sink leaks. Someone comes today.', model: 'gpt-4.1-mini' } },
        });
        expect(repository.rows.get(CALL_SID)?.details.summary).toMatchObject({ status: 'ready' });
        expect(await summaries.summaryOf(repository.rows.get(CALL_SID)!)).toEqual({ text: 'Dana called. Her sink leaks. Someone comes today.', source: 'model' });
      });

      it('is not asked for when summaries are off', async () => {
        const { records, writer, repository } = openCall();
        records.callerTranscript('caller-1', 'My sink is leaking.');
        records.finish({ status: 'completed', endReason: 'twilio_stop', details: {} });
        await writer.drained();
        expect(repository.rows.get(CALL_SID)).toMatchObject({ status: 'completed' });
        expect(repository.rows.get(CALL_SID)!.details.summary).toBeUndefined();
      });
    });

    describe("the CRM's hand-off", () => {
      const linkable = { PUBLIC_BASE_URL: 'https://operator.example.com', RECORDING_LINK_SECRET: LINK_SECRET };

      it('gives the CRM the call, its transcript, the job request and a summary line', async () => {
        const { records, clock, crm, recordings } = openCall({ RECORDING_ENABLED: 'true', ...linkable }, testProfile({ crm: true }));
        const startedAt = clock.epochMs();
        callerFrameAt(records, clock, 0);
        records.callerTranscript('caller-1', 'A pipe burst.');
        records.setDetail('jobRequest', BURST_PIPE);
        clock.advance(42_000.6);
        records.finish({ status: 'completed', endReason: 'twilio_stop', details: {} });
        await recordings.settled();

        expect(crm.ended).toHaveLength(1);
        const summary = crm.ended[0];
        expect(summary).toEqual({
          callSid: CALL_SID,
          from: PARTIES.from,
          to: PARTIES.to,
          direction: 'inbound',
          startedAt,
          endedAt: startedAt + 42_000.6,
          durationMs: 42_001,
          status: 'completed',
          endReason: 'twilio_stop',
          transcript: [{ speaker: 'caller', text: 'A pipe burst.', startMs: 0 }],
          jobRequest: BURST_PIPE,
          summary: 'emergency job: Burst pipe under the sink',
          recordingUrl: expect.stringMatching(new RegExp(`^https://operator\\.example\\.com/recordings/${CALL_SID}\\.wav\\?expires=\\d+&signature=`)),
        });
      });

      it('says when no job request was captured, and when its urgency is unknown', () => {
        const none = openCall({}, testProfile({ crm: true }));
        none.records.finish({ status: 'failed', endReason: 'realtime_closed', details: {} });
        expect(none.crm.ended[0].summary).toBe('Call realtime_closed; no job request captured.');
        expect(none.crm.ended[0].jobRequest).toBeUndefined();

        const vague = openCall({}, testProfile({ crm: true }));
        vague.records.setDetail('jobRequest', { problem: 'Dripping tap' });
        vague.records.finish({ status: 'completed', endReason: 'twilio_stop', details: {} });
        expect(vague.crm.ended[0].summary).toBe('unspecified job: Dripping tap');
      });

      it('gives no recording link when the call was not recorded', () => {
        const { records, crm } = openCall({ RECORDING_ENABLED: 'false', ...linkable }, testProfile({ crm: true }));
        records.finish({ status: 'completed', endReason: 'twilio_stop', details: {} });
        expect(crm.ended[0].recordingUrl).toBeUndefined();
      });

      it('gives no recording link when links cannot be made (no PUBLIC_BASE_URL)', async () => {
        const { records, crm, recordings } = openCall({ RECORDING_ENABLED: 'true', RECORDING_LINK_SECRET: LINK_SECRET }, testProfile({ crm: true }));
        records.finish({ status: 'completed', endReason: 'twilio_stop', details: {} });
        await recordings.settled();
        expect(crm.ended[0].recordingUrl).toBeUndefined();
      });

      it('gives no recording link when there is no secret to sign it with', async () => {
        const { records, crm, recordings } = openCall({ RECORDING_ENABLED: 'true', PUBLIC_BASE_URL: 'https://operator.example.com' }, testProfile({ crm: true }));
        records.finish({ status: 'completed', endReason: 'twilio_stop', details: {} });
        await recordings.settled();
        expect(crm.ended[0].recordingUrl).toBeUndefined();
      });

      it("hands nothing to the CRM when the profile's CRM is off", async () => {
        const { records, crm, entry } = openCall(linkable, testProfile({ crm: false }));
        records.setDetail('jobRequest', BURST_PIPE);
        records.finish({ status: 'completed', endReason: 'twilio_stop', details: {} });
        expect((await entry()).status).toBe('completed');
        expect(crm.started).toEqual([]);
        expect(crm.ended).toEqual([]);
      });
    });
  });
});
