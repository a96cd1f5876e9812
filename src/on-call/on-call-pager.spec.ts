import pino from 'pino';
import { LogCapture } from '../../test/support/log-capture';
import type { CallLogRepository, CallRecord } from '../call-log/call-record';
import { ManualClock } from '../common/clock';
import { ManualScheduler } from '../common/scheduler';
import type { AppConfig } from '../config/app-config';
import { MigrationRunner } from '../database/migration-runner';
import { silentAppLogger, sqlTestBackends, type SqlTestDatabase } from '../database/sql-test-backends';
import { JobQueue, type Job, type JobHandler, type SendOptions } from '../jobs/job-queue';
import type { AppLogger } from '../logging/app-logger';
import { MAX_PAGING_AGE_MS, OnCallPager, PAGE_QUEUE, SEND_ATTEMPTS, STUCK_SENDING_MS, type PageJob } from './on-call-pager';
import { SmsError, type OnCallSms } from './on-call-sms';
import { SqlPagingStore } from './paging-store';

jest.setTimeout(30_000);

/** Jobs sent, as pg-boss's 'short' policy keeps them: one waiting per singleton key. */
class RecordingQueue extends JobQueue {
  readonly sent: Array<{ id: string; data: PageJob; startAfter: Date | undefined; key: string | undefined }> = [];
  private waiting = new Set<string>();
  private seq = 0;
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  async send<T extends object>(_name: string, data: T, options: SendOptions = {}): Promise<string | null> {
    if (options.singletonKey && this.waiting.has(options.singletonKey)) return null;
    if (options.singletonKey) this.waiting.add(options.singletonKey);
    const id = `job-${++this.seq}`;
    this.sent.push({ id, data: data as unknown as PageJob, startAfter: options.startAfter, key: options.singletonKey });
    return id;
  }
  async work<T>(_name: string, _handler: JobHandler<T>): Promise<void> {}
  async cancel(): Promise<boolean> {
    return false;
  }
  /** The job sent with `key`, taken (no longer waiting), as a worker gets it. */
  take(key: string, retryCount = 0): Job<PageJob> {
    const sent = [...this.sent].reverse().find((s) => s.key === key);
    if (!sent) throw new Error(`no job with key ${key}; sent: ${this.sent.map((s) => s.key).join(', ')}`);
    this.waiting.delete(key);
    return { id: sent.id, name: PAGE_QUEUE, data: sent.data, retryCount, signal: new AbortController().signal };
  }
}

/** Message SIDs, unique in the file as Twilio's are: the tests share the tables. */
let messages = 0;

/** Twilio Messaging as the pager sees it: takes or refuses each SMS as scripted. */
class FakeSms {
  readonly sent: Array<{ to: string; body: string }> = [];
  readonly statusCallbacks: Array<string | undefined> = [];
  readonly failures: SmsError[] = [];
  unavailableReason: string | null = null;
  async send(to: string, body: string, statusCallback?: string): Promise<string> {
    const failure = this.failures.shift();
    if (failure) throw failure;
    this.sent.push({ to, body });
    this.statusCallbacks.push(statusCallback);
    return `SM${String(++messages).padStart(32, '0')}`;
  }
}

const alice = { id: 'alice', name: 'Alice Jones', mobile: '+15551230001' };
const bob = { id: 'bob', name: 'Bob Smith', mobile: '+15551230002' };
const owner = { id: 'owner', name: 'Pat Owner', mobile: '+15551230009' };
const FACTS = { business: 'Acme Plumbing', callerName: 'Dana Smith', callbackNumber: '+14155552671', serviceAddress: '12 Elm Street', problem: 'Burst pipe', callerNumber: '+14155550000' };
const ACK_MS = 5 * 60_000;
const config = { onCall: { ackTimeoutMs: ACK_MS }, calls: { publicBaseUrl: 'https://calls.example.com' }, operator: { companyName: 'Default Co' } } as unknown as AppConfig;

let sidCounter = 0;
const newCallSid = () => `CA${(++sidCounter).toString(16).padStart(32, 'f')}`;

describe.each(sqlTestBackends())('OnCallPager on $name', (backend) => {
  let db: SqlTestDatabase;
  let store: SqlPagingStore;
  let clock: ManualClock;
  let queue: RecordingQueue;
  let sms: FakeSms;
  let logs: LogCapture;
  let pager: OnCallPager;
  /** The call records the pager reads a summary from: by call SID, or a read that fails. */
  let records: Map<string, CallRecord> | Error;

  beforeAll(async () => {
    db = await backend.open();
    const migrations = new MigrationRunner(db.client, silentAppLogger, new ManualScheduler());
    store = new SqlPagingStore(db.client, migrations);
  });
  afterAll(async () => {
    await db?.dispose();
    await backend.shutdown();
  });

  let day = 0;
  beforeEach(() => {
    // A day of its own per test: the tables are shared, and a reply goes to the latest page to its number.
    clock = new ManualClock(0, Date.UTC(2026, 0, 15, 7) + ++day * 86_400_000);
    queue = new RecordingQueue();
    sms = new FakeSms();
    logs = new LogCapture();
    const logger = pino({ level: 'debug' }, logs);
    records = new Map();
    const repository = {
      get: (callSid: string) => (records instanceof Error ? Promise.reject(records) : Promise.resolve(records.get(callSid))),
    } as unknown as CallLogRepository;
    pager = new OnCallPager(store, queue, sms as unknown as OnCallSms, clock, new ManualScheduler(clock), config, { child: () => logger } as unknown as AppLogger, repository);
  });

  async function emergency(people = [alice, bob, owner]): Promise<string> {
    const callSid = newCallSid();
    await store.begin({ callSid, startedAt: new Date(clock.epochMs()).toISOString(), people, facts: FACTS });
    await pager.start(callSid);
    return callSid;
  }

  it('pages the first person at once, with the facts and a link to the call, and queues the next step for the ack timeout', async () => {
    const callSid = await emergency();
    expect(queue.sent).toEqual([{ id: 'job-1', data: { callSid, step: 0 }, startAfter: undefined, key: `${callSid}:0:now` }]);
    clock.advance(800);
    await pager.due(queue.take(`${callSid}:0:now`));
    expect(sms.sent).toEqual([
      {
        to: alice.mobile,
        body: `EMERGENCY Acme Plumbing: Dana Smith, call back +14155552671. 12 Elm Street. Burst pipe. Reply YES to take it, NO to pass it on. https://calls.example.com/console/#/calls/${callSid}`,
      },
    ]);
    expect(await store.get(callSid)).toMatchObject({ status: 'paging', pages: [{ step: 0, personId: 'alice', status: 'sent', sentAt: new Date(clock.epochMs()).toISOString(), claimedBy: 'job-1' }] });
    expect(queue.sent[1]).toMatchObject({ data: { callSid, step: 1 }, startAfter: new Date(clock.epochMs() + ACK_MS), key: `${callSid}:1` });
    expect(logs.find('on-call page sent')).toMatchObject({ callSid, step: 0, person: 'alice', messageSid: expect.stringMatching(/^SM/) });
    // Never the text, the number or the address in the logs.
    expect(logs.raw.join('\n')).not.toMatch(/Elm Street|\+1555123|Dana/);
  });

  it('escalates through the list when nobody answers, then gives up, logging it as an error', async () => {
    const callSid = await emergency();
    await pager.due(queue.take(`${callSid}:0:now`));
    for (const [step, person] of [[1, bob], [2, owner]] as const) {
      // Early (a clock behind the database's): nothing sent, the job comes back at the deadline.
      clock.advance(ACK_MS - 1);
      await pager.due(queue.take(`${callSid}:${step}`));
      expect(sms.sent).toHaveLength(step);
      clock.advance(1);
      await pager.due(queue.take(`${callSid}:${step}`));
      expect(sms.sent.map((s) => s.to)).toHaveLength(step + 1);
      expect(sms.sent[step].to).toBe(person.mobile);
    }
    clock.advance(ACK_MS);
    await pager.due(queue.take(`${callSid}:3`));
    expect(await store.get(callSid)).toMatchObject({ status: 'unacknowledged', gaveUpAt: new Date(clock.epochMs()).toISOString() });
    expect(logs.find('emergency not taken: nobody on call answered the pages')).toMatchObject({ level: 50, callSid, paged: ['alice', 'bob', 'owner'] });
    // Late jobs change nothing.
    await pager.due({ ...queue.take(`${callSid}:3`), id: 'late' });
    expect(sms.sent).toHaveLength(3);
  });

  it("tells the problem in the call summary's words in a page sent once the call has its summary", async () => {
    const callSid = await emergency();
    await pager.due(queue.take(`${callSid}:0:now`));
    expect(sms.sent[0].body).toContain('12 Elm Street. Burst pipe.');
    const text = 'Dana Smith called from 12 Elm Street. A burst pipe under the sink is flooding the kitchen, an emergency. The on-call plumber will call back.';
    (records as Map<string, CallRecord>).set(callSid, { callSid, details: { summary: { status: 'ready', text, model: 'm', at: 'x' } } } as unknown as CallRecord);
    clock.advance(ACK_MS);
    await pager.due(queue.take(`${callSid}:1`));
    expect(sms.sent[1]).toEqual({
      to: bob.mobile,
      body: `EMERGENCY Acme Plumbing: Dana Smith, call back +14155552671. 12 Elm Street. A burst pipe under the sink is flooding the kitchen, an emergency. Reply YES to take it, NO to pass it on. https://calls.example.com/console/#/calls/${callSid}`,
    });
    // A record that cannot be read does not hold the page up: it goes with the facts.
    records = new Error('database unreachable');
    clock.advance(ACK_MS);
    await pager.due(queue.take(`${callSid}:2`));
    expect(sms.sent[2]).toMatchObject({ to: owner.mobile, body: expect.stringContaining('12 Elm Street. Burst pipe.') as string });
    expect(logs.find('call record not read for its summary: the page goes with the facts')).toMatchObject({ callSid });
  });

  it('stops once the page is taken', async () => {
    const callSid = await emergency();
    await pager.due(queue.take(`${callSid}:0:now`));
    expect(await store.answer(alice.mobile, 'accepted', new Date(clock.epochMs() + 60_000).toISOString(), 'SMreply')).toMatchObject({ callSid });
    clock.advance(ACK_MS);
    await pager.due(queue.take(`${callSid}:1`));
    expect(sms.sent).toHaveLength(1);
    expect(queue.sent).toHaveLength(2);
  });

  it('moves on at once from a page Twilio refuses', async () => {
    const callSid = await emergency();
    sms.failures.push(new SmsError('Twilio did not take the SMS: HTTP 400 (code 21211): invalid To', 'rejected'));
    await pager.due(queue.take(`${callSid}:0:now`));
    expect(await store.get(callSid)).toMatchObject({ pages: [{ step: 0, status: 'failed', error: expect.stringContaining('21211') }] });
    expect(queue.sent.at(-1)).toMatchObject({ data: { step: 1 }, startAfter: undefined, key: `${callSid}:1:now` });
    await pager.due(queue.take(`${callSid}:1:now`));
    expect(sms.sent.map((s) => s.to)).toEqual([bob.mobile]);
  });

  it('retries a page while Twilio is unreachable, sending it from the same job only, then counts it failed', async () => {
    const callSid = await emergency();
    const unreachable = () => new SmsError('Twilio did not take the SMS: connect ETIMEDOUT', 'unreachable');
    sms.failures.push(unreachable());
    const job = queue.take(`${callSid}:0:now`);
    await expect(pager.due(job)).rejects.toThrow(/ETIMEDOUT/);
    expect(await store.get(callSid)).toMatchObject({ pages: [{ step: 0, status: 'sending' }] });
    // Another job for the step (a duplicate) leaves it to the job that claimed it.
    await pager.due({ ...job, id: 'someone-else', retryCount: 0 });
    expect(sms.sent).toHaveLength(0);
    // The queue runs the same job again: it sends.
    await pager.due({ ...job, retryCount: 1 });
    expect(sms.sent.map((s) => s.to)).toEqual([alice.mobile]);

    const second = await emergency();
    const first = queue.take(`${second}:0:now`);
    for (let attempt = 0; attempt < SEND_ATTEMPTS; attempt++) sms.failures.push(unreachable());
    for (let attempt = 0; attempt < SEND_ATTEMPTS - 1; attempt++) await expect(pager.due({ ...first, retryCount: attempt })).rejects.toThrow();
    await pager.due({ ...first, retryCount: SEND_ATTEMPTS - 1 });
    expect(await store.get(second)).toMatchObject({ pages: [{ status: 'failed' }] });
    expect(queue.sent.at(-1)).toMatchObject({ data: { callSid: second, step: 1 }, key: `${second}:1:now` });
  });

  it('never texts a step twice, whoever runs it', async () => {
    const callSid = await emergency();
    const job = queue.take(`${callSid}:0:now`);
    await Promise.all([pager.due(job), pager.due({ ...job, id: 'another' }), pager.due({ ...job, id: 'a-third' })]);
    expect(sms.sent).toHaveLength(1);
  });

  it('drops a job for an emergency not on record, and sends nothing once the lease is lost', async () => {
    await pager.due({ id: 'x', name: PAGE_QUEUE, data: { callSid: newCallSid(), step: 0 }, retryCount: 0, signal: new AbortController().signal });
    expect(logs.find('page job for an emergency not on record: dropped')).toBeDefined();
    const callSid = await emergency();
    const aborted = new AbortController();
    aborted.abort();
    await expect(pager.due({ ...queue.take(`${callSid}:0:now`), signal: aborted.signal })).rejects.toThrow(/lease/);
    expect(sms.sent).toHaveLength(0);
  });

  describe('the sweep', () => {
    it('queues a due step whose job was lost, once per step', async () => {
      const callSid = await emergency();
      await pager.due(queue.take(`${callSid}:0:now`));
      // The job queued for the ack timeout is lost (failed past the queue's retries, say): nobody runs it.
      await pager.sweep();
      expect(queue.sent.filter((j) => j.data.callSid === callSid && j.key?.endsWith(':now'))).toHaveLength(1);
      clock.advance(ACK_MS);
      await pager.sweep();
      await pager.sweep();
      expect(queue.sent.filter((j) => j.key === `${callSid}:1:now`)).toHaveLength(1);
      await pager.due(queue.take(`${callSid}:1:now`));
      expect(sms.sent.map((s) => s.to)).toEqual([alice.mobile, bob.mobile]);
      // Past the last person, the sweep queues the step that gives up.
      clock.advance(2 * ACK_MS);
      await pager.due(queue.take(`${callSid}:2`));
      clock.advance(ACK_MS);
      await pager.sweep();
      await pager.due(queue.take(`${callSid}:3:now`));
      expect(await store.get(callSid)).toMatchObject({ status: 'unacknowledged' });
    });

    it('fails a page left sending by a lost job, and pages the next person', async () => {
      const callSid = await emergency();
      sms.failures.push(new SmsError('Twilio did not take the SMS: connect ETIMEDOUT', 'unreachable'));
      await expect(pager.due(queue.take(`${callSid}:0:now`))).rejects.toThrow();
      clock.advance(STUCK_SENDING_MS - 1);
      await pager.sweep();
      expect(await store.get(callSid)).toMatchObject({ pages: [{ status: 'sending' }] });
      clock.advance(1);
      await pager.sweep();
      expect(await store.get(callSid)).toMatchObject({ pages: [{ status: 'failed', error: 'not known to be sent: its job was lost' }] });
      expect(logs.find('on-call page lost while being sent: paging the next person')).toMatchObject({ callSid, step: 0, person: 'alice' });
      await pager.due(queue.take(`${callSid}:1:now`));
      expect(sms.sent.map((s) => s.to)).toEqual([bob.mobile]);
    });

    it('gives up an emergency still paging a day after it was raised', async () => {
      const callSid = await emergency();
      clock.advance(MAX_PAGING_AGE_MS + 1);
      await pager.sweep();
      expect(await store.get(callSid)).toMatchObject({ status: 'unacknowledged', pages: [] });
      expect(logs.find('emergency not taken: still paging a day after it was raised; given up', { callSid })).toMatchObject({ level: 50 });
      expect(sms.sent).toEqual([]);
    });
  });

  describe('delivery reports', () => {
    it('asks Twilio for them, and pages the next person at once when a page is not delivered', async () => {
      const callSid = await emergency();
      await pager.due(queue.take(`${callSid}:0:now`));
      expect(sms.statusCallbacks).toEqual(['https://calls.example.com/twilio/sms/status']);
      const { messageSid } = (await store.get(callSid))!.pages[0];
      await pager.delivery(messageSid!, 'undelivered', 30003);
      expect(logs.find('on-call page not delivered: paging the next person')).toMatchObject({ callSid, step: 0, delivery: 'undelivered', errorCode: 30003 });
      await pager.due(queue.take(`${callSid}:1:now`));
      expect(sms.sent.map((s) => s.to)).toEqual([alice.mobile, bob.mobile]);

      const bobs = (await store.get(callSid))!.pages[1].messageSid!;
      await pager.delivery(bobs, 'delivered', null);
      expect(logs.find('on-call page delivery reported')).toMatchObject({ callSid, step: 1, delivery: 'delivered' });
      expect(queue.sent.filter((j) => j.key === `${callSid}:2:now`)).toEqual([]);
      // Reports of other messages (callers' texts) are not pages: nothing happens.
      await pager.delivery('SM' + 'a'.repeat(32), 'failed', 30008);
      expect(await store.get(callSid)).toMatchObject({ status: 'paging', pages: [{ status: 'failed' }, { status: 'sent', delivery: 'delivered' }] });
    });
  });
});
