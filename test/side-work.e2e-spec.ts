import { CallLogWriter } from '../src/call-log/call-log-writer';
import { CallLogRepository, type CallListPage, type CallRecord } from '../src/call-log/call-record';
import { CallRegistry } from '../src/call/call-registry';
import { McpToolSource } from '../src/tools/mcp/mcp-tool-source';
import { startCall } from './support/calls';
import { FakeHubspot } from './support/fake-hubspot';
import { startMcpServer } from './support/mcp-server';
import { MockRealtimeServer } from './support/mock-realtime-server';
import { startApp, TEST_API_KEY, type TestApp } from './support/test-app';
import { deferred } from './support/wait';

const FRAME = 160;
const HUBSPOT_TOKEN = 'pat-na1-side-work-0123456789';

/** A database that accepts every query and answers none until released. */
class StalledRepository extends CallLogRepository {
  readonly saves: CallRecord[] = [];
  private readonly released = deferred();
  private done = 0;

  get answered(): number {
    return this.done;
  }

  release(): void {
    this.released.resolve();
  }

  async save(record: CallRecord): Promise<void> {
    this.saves.push(record);
    await this.released.promise;
    this.done++;
  }
  async get(callSid: string): Promise<CallRecord | undefined> {
    await this.released.promise;
    return this.saves.filter((r) => r.callSid === callSid).pop();
  }
  async inProgress(): Promise<string[]> {
    await this.released.promise;
    return [];
  }
  async hasJobRequestFrom(): Promise<boolean> {
    await this.released.promise;
    return false;
  }
  async endAbandoned(): Promise<boolean> {
    await this.released.promise;
    return false;
  }
  async list(): Promise<CallListPage> {
    await this.released.promise;
    return { items: [], total: 0 };
  }
  async mergeCrm(): Promise<boolean> {
    await this.released.promise;
    return true;
  }
}

/** Frame k of a stream: every byte is k (mod 251), so order and loss show in the bytes. */
function numberedFrames(count: number, first: number): Buffer[] {
  return Array.from({ length: count }, (_, k) => Buffer.alloc(FRAME, (first + k) % 251));
}

function frameNumbers(audio: Buffer): number[] {
  const numbers: number[] = [];
  for (let at = 0; at + FRAME <= audio.length; at += FRAME) numbers.push(audio[at]);
  return numbers;
}

describe('side work that hangs (database, CRM, a tool)', () => {
  let mock: MockRealtimeServer;
  let hubspot: FakeHubspot;
  let mcp: Awaited<ReturnType<typeof startMcpServer>>;
  let db: StalledRepository;
  let t: TestApp;

  beforeAll(async () => {
    mock = await MockRealtimeServer.start();
    hubspot = await FakeHubspot.start(HUBSPOT_TOKEN);
    mcp = await startMcpServer();
    db = new StalledRepository();
    t = await startApp(
      {
        OPENAI_API_KEY: TEST_API_KEY,
        OPENAI_REALTIME_URL: mock.url,
        HUBSPOT_ENABLED: 'true',
        HUBSPOT_ACCESS_TOKEN: HUBSPOT_TOKEN,
        HUBSPOT_BASE_URL: hubspot.baseUrl,
        MCP_SERVERS: JSON.stringify([{ name: 'office', url: mcp.url }]),
        TOOL_TIMEOUT_MS: '60000',
      },
      [{ provide: CallLogRepository, useValue: db }],
    );
    await t.app.get(McpToolSource).connectAll();
  });

  afterAll(async () => {
    await t.close();
    await mcp.close();
    await hubspot.close();
    await mock.close();
  });

  it('never holds up a frame of audio in either direction, and the call still ends cleanly', async () => {
    hubspot.hang();
    const { caller, rt } = await startCall(t, mock, { from: '+14155550100', to: '+15557650000', direction: 'inbound' });

    // The model saves the job (database and CRM) and asks a tool whose backend never answers.
    rt.responseCreated('r1');
    rt.send({
      type: 'response.function_call_arguments.done', response_id: 'r1', item_id: 'fc1', output_index: 0, call_id: 'job', name: 'save_job_request',
      arguments: JSON.stringify({ caller_name: 'Ana Lopez', problem: 'Burst pipe', urgency: 'emergency' }),
    });
    rt.send({
      type: 'response.function_call_arguments.done', response_id: 'r1', item_id: 'fc2', output_index: 1, call_id: 'slot', name: 'office__next_free_slot',
      arguments: JSON.stringify({ day: 'tomorrow' }),
    });
    rt.responseDone('r1');
    await rt.waitFor('conversation.item.create', (e) => e.item?.call_id === 'job');
    await hubspot.waitForRequests(1);
    await t.logs.waitFor('tool called', { tool: 'office__next_free_slot' });

    // Meanwhile the conversation goes on: the agent speaks, the caller talks over silence.
    const reply = Buffer.concat(numberedFrames(50, 1));
    rt.responseCreated('r2');
    rt.sendAudio('r2', 'a2', reply, 480);
    rt.audioDone('r2', 'a2');
    rt.responseDone('r2');
    await caller.startTalking(numberedFrames(50, 100));
    await rt.waitFor('input_audio_buffer.append', () => rt.appendedAudio().length >= 50 * FRAME);
    await caller.waitFor('media', () => Buffer.concat(caller.media).length >= reply.length);

    // Every frame arrived, whole and in order, both ways ...
    expect(frameNumbers(Buffer.concat(caller.media))).toEqual(frameNumbers(reply));
    expect(frameNumbers(rt.appendedAudio())).toEqual(frameNumbers(Buffer.concat(numberedFrames(50, 100))));
    // ... while every piece of side work was still stuck.
    expect(db.saves.length).toBeGreaterThan(0);
    expect(db.answered).toBe(0);
    expect(hubspot.requests.length).toBeGreaterThan(0);
    expect(hubspot.requests.every((r) => r.status === undefined)).toBe(true);
    expect(mcp.scheduleCalls).toEqual(['tomorrow']);
    expect(rt.received.some((e) => e.type === 'conversation.item.create' && e.item?.call_id === 'slot')).toBe(false);

    caller.sendStop();
    await rt.waitForClose();
    await t.logs.waitFor('call ended', { callSid: caller.callSid, reason: 'twilio_stop' });
    expect(t.app.get(CallRegistry).activeCalls).toBe(0);

    // Once the backends answer, the record is written with the call's end.
    mcp.releaseSchedule();
    hubspot.recover();
    db.release();
    await t.logs.waitFor('tool finished', { tool: 'office__next_free_slot' });
    await t.app.get(CallLogWriter).drained();
    expect(db.saves.filter((r) => r.callSid === caller.callSid).pop()).toMatchObject({ status: 'completed', endReason: 'twilio_stop' });
  });
});
