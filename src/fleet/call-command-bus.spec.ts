import Redis from 'ioredis';
import pino from 'pino';
import { commandDone, type CallCommand, type CallCommandResult } from '../call/call-command';
import { ManualScheduler } from '../common/scheduler';
import { LogCapture } from '../../test/support/log-capture';
import { deferred } from '../../test/support/wait';
import { LocalCallCommandBus, RedisCallCommandBus } from './call-command-bus';

const CALL = 'CA' + 'a'.repeat(32);
const HANGUP: CallCommand = { action: 'hangup' };

describe('LocalCallCommandBus', () => {
  it('reaches this instance only', async () => {
    const bus = new LocalCallCommandBus('solo');
    expect((await bus.send('solo', CALL, HANGUP)).status).toBe(504);
    bus.serve(async (callSid, command) => commandDone({ callSid, action: command.action }));
    expect(await bus.send('solo', CALL, HANGUP)).toEqual({ status: 200, body: { callSid: CALL, action: 'hangup' } });
    expect(await bus.send('pod-b', CALL, HANGUP)).toEqual({ status: 504, body: { message: 'The instance holding the call (pod-b) cannot be reached without REDIS_URL.' } });
  });
});

(process.env.REDIS_URL ? describe : describe.skip)('RedisCallCommandBus (REDIS_URL)', () => {
  const prefix = `call-operator-test:${process.pid}:${Date.now()}:bus:`;
  const connections: Redis[] = [];
  const buses: RedisCallCommandBus[] = [];

  const connect = async (): Promise<Redis> => {
    const c = new Redis(process.env.REDIS_URL!, { lazyConnect: true });
    connections.push(c);
    await c.connect();
    return c;
  };

  /** An instance's bus: a publishing connection, a subscribed one, its own scheduler. */
  async function instance(id: string, timeoutMs = 3_000) {
    const logs = new LogCapture();
    const scheduler = new ManualScheduler();
    const bus = new RedisCallCommandBus(await connect(), await connect(), prefix, id, timeoutMs, scheduler, pino({ level: 'info' }, logs));
    buses.push(bus);
    await bus.onModuleInit();
    return { bus, scheduler, logs };
  }

  afterEach(async () => {
    for (const bus of buses.splice(0)) await bus.onApplicationShutdown();
    for (const c of connections.splice(0)) c.disconnect();
  });

  it("gets a command to the instance named and brings back its answer, whatever it is", async () => {
    const a = await instance('pod-a');
    const b = await instance('pod-b');
    const seen: Array<[string, CallCommand]> = [];
    b.bus.serve(async (callSid, command) => {
      seen.push([callSid, command]);
      return command.action === 'say' ? commandDone({ said: 'now', waiting: 0 }) : { status: 409, body: { message: 'leaving' } };
    });
    expect(await a.bus.send('pod-b', CALL, { action: 'say', text: 'Hello "there"', mode: 'instruction' })).toEqual({ status: 200, body: { said: 'now', waiting: 0 } });
    expect(await a.bus.send('pod-b', CALL, { action: 'transfer', to: '+15552223333' })).toEqual({ status: 409, body: { message: 'leaving' } });
    expect(seen).toEqual([
      [CALL, { action: 'say', text: 'Hello "there"', mode: 'instruction' }],
      [CALL, { action: 'transfer', to: '+15552223333' }],
    ]);
  });

  it('answers 504 at once when nobody listens for the instance named (it stopped)', async () => {
    const a = await instance('pod-a');
    expect(await a.bus.send('pod-gone', CALL, HANGUP)).toEqual({
      status: 504,
      body: { message: 'The instance holding the call (pod-gone) is not listening (it has stopped or lost Redis).' },
    });
    expect(a.scheduler.pending).toBe(0);
  });

  it('answers 504 when the holder does not answer in time, and ignores its late answer', async () => {
    const a = await instance('pod-a', 2_000);
    const b = await instance('pod-b');
    const answer = deferred<CallCommandResult>();
    const asked = deferred();
    b.bus.serve(() => {
      asked.resolve();
      return answer.promise;
    });
    const sent = a.bus.send('pod-b', CALL, HANGUP);
    await asked.promise;
    a.scheduler.advance(2_000);
    expect(await sent).toEqual({ status: 504, body: { message: 'The instance holding the call (pod-b) did not answer within 2000 ms.' } });
    answer.resolve(commandDone({ hungUp: true }));
    // The late answer arrives and finds nothing waiting: the next round trip still works.
    b.bus.serve(async () => commandDone({ hungUp: true }));
    expect(await a.bus.send('pod-b', CALL, HANGUP)).toEqual({ status: 200, body: { hungUp: true } });
  });

  it('ignores malformed commands and answers, logging them', async () => {
    const a = await instance('pod-a');
    const raw = await connect();
    let served = 0;
    a.bus.serve(async () => {
      served++;
      return commandDone({});
    });
    await raw.publish(`${prefix}calls:commands:pod-a`, 'not json');
    await raw.publish(`${prefix}calls:commands:pod-a`, JSON.stringify({ id: '1', from: 'x', callSid: CALL, command: { action: 'explode' } }));
    await raw.publish(`${prefix}calls:replies:pod-a`, JSON.stringify({ id: '1', result: { status: 418, body: {} } }));
    await a.logs.waitFor('call commands: ignored a malformed answer');
    expect(a.logs.lines.map((l) => l.msg)).toEqual([
      'call commands: ignored a message that is not JSON',
      'call commands: ignored a malformed command',
      'call commands: ignored a malformed answer',
    ]);
    expect(served).toBe(0);
  });

  it('answers what is pending 504 when this instance shuts down', async () => {
    const a = await instance('pod-a');
    const b = await instance('pod-b');
    b.bus.serve(() => new Promise(() => undefined));
    const sent = a.bus.send('pod-b', CALL, HANGUP);
    await a.bus.onApplicationShutdown();
    buses.splice(buses.indexOf(a.bus), 1);
    expect((await sent).status).toBe(504);
  });
});
