import type Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { commandRefused, readCallCommand, type CallCommand, type CallCommandResult, type CallCommandStatus } from '../call/call-command';
import type { ScheduledTask, Scheduler } from '../common/scheduler';

/** Carries out a command on a call this instance holds. */
export type CallCommandHandler = (callSid: string, command: CallCommand) => Promise<CallCommandResult>;

/**
 * Gets a command to the instance that holds a call's socket, and its answer back. A port: alone,
 * an instance only reaches itself; in a fleet the command goes through Redis pub/sub.
 */
export abstract class CallCommandBus {
  /** The holder's answer, or 504 when it does not answer within CALL_COMMAND_TIMEOUT_MS. */
  abstract send(instanceId: string, callSid: string, command: CallCommand): Promise<CallCommandResult>;
  /** Takes the commands sent to this instance. */
  abstract serve(handler: CallCommandHandler): void;
}

const notAnswered = (instanceId: string, why: string): CallCommandResult => commandRefused(504, `The instance holding the call (${instanceId}) ${why}.`);

/** One instance: the only holder it can reach is itself. */
export class LocalCallCommandBus extends CallCommandBus {
  private handler: CallCommandHandler | null = null;

  constructor(private readonly instanceId: string) {
    super();
  }

  async send(instanceId: string, callSid: string, command: CallCommand): Promise<CallCommandResult> {
    if (instanceId !== this.instanceId || !this.handler) return notAnswered(instanceId, 'cannot be reached without REDIS_URL');
    return this.handler(callSid, command);
  }

  serve(handler: CallCommandHandler): void {
    this.handler = handler;
  }
}

interface CommandMessage {
  readonly id: string;
  readonly from: string;
  readonly callSid: string;
  readonly command: CallCommand;
}

interface ReplyMessage {
  readonly id: string;
  readonly result: CallCommandResult;
}

const STATUSES: ReadonlySet<number> = new Set<CallCommandStatus>([200, 404, 409, 502, 504]);

/**
 * Commands through Redis pub/sub: each instance listens on `<prefix>calls:commands:<INSTANCE_ID>`
 * for commands and on `<prefix>calls:replies:<INSTANCE_ID>` for answers, on a connection of its
 * own (a subscribed connection can do nothing else). A command nobody is subscribed to is answered
 * 504 at once; one whose answer does not come in time, 504 when the time is up.
 */
export class RedisCallCommandBus extends CallCommandBus {
  private handler: CallCommandHandler | null = null;
  private readonly pending = new Map<string, { resolve: (result: CallCommandResult) => void; deadline: ScheduledTask; instanceId: string }>();
  private readonly commands: string;
  private readonly replies: string;

  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    private readonly keyPrefix: string,
    private readonly instanceId: string,
    private readonly timeoutMs: number,
    private readonly scheduler: Scheduler,
    private readonly log: Logger,
  ) {
    super();
    this.commands = this.channel('commands', instanceId);
    this.replies = this.channel('replies', instanceId);
    subscriber.on('message', (channel: string, text: string) => this.received(channel, text));
  }

  /** Subscribes: resolves once Redis has confirmed, or as soon as a failure is logged (ioredis subscribes again on reconnect). */
  async onModuleInit(): Promise<void> {
    await this.subscriber.subscribe(this.commands, this.replies).catch((err: Error) => this.log.warn({ err: err.message }, 'call commands: subscribe failed; retried on reconnect'));
  }

  async onApplicationShutdown(): Promise<void> {
    for (const [id, p] of this.pending) {
      p.deadline.cancel();
      p.resolve(notAnswered(p.instanceId, 'was not heard from before this instance shut down'));
      this.pending.delete(id);
    }
    await this.subscriber.quit().catch(() => this.subscriber.disconnect());
  }

  serve(handler: CallCommandHandler): void {
    this.handler = handler;
  }

  send(instanceId: string, callSid: string, command: CallCommand): Promise<CallCommandResult> {
    const id = randomUUID();
    const message: CommandMessage = { id, from: this.instanceId, callSid, command };
    return new Promise((resolve) => {
      const deadline = this.scheduler.after(this.timeoutMs, () => settle(notAnswered(instanceId, `did not answer within ${this.timeoutMs} ms`)));
      const settle = (result: CallCommandResult): void => {
        if (!this.pending.delete(id)) return;
        deadline.cancel();
        resolve(result);
      };
      this.pending.set(id, { resolve: settle, deadline, instanceId });
      this.publisher.publish(this.channel('commands', instanceId), JSON.stringify(message)).then(
        (receivers) => {
          if (receivers === 0) settle(notAnswered(instanceId, 'is not listening (it has stopped or lost Redis)'));
        },
        (err: Error) => settle(notAnswered(instanceId, `could not be reached (${err.message})`)),
      );
    });
  }

  private channel(kind: 'commands' | 'replies', instanceId: string): string {
    return `${this.keyPrefix}calls:${kind}:${instanceId}`;
  }

  private received(channel: string, text: string): void {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      this.log.warn({ channel }, 'call commands: ignored a message that is not JSON');
      return;
    }
    if (channel === this.commands) this.command(message);
    else if (channel === this.replies) this.reply(message);
  }

  private command(value: unknown): void {
    const m = value as Partial<CommandMessage> | null;
    const command = readCallCommand(m?.command);
    if (!m || typeof m.id !== 'string' || typeof m.from !== 'string' || typeof m.callSid !== 'string' || !command) {
      this.log.warn('call commands: ignored a malformed command');
      return;
    }
    const { id, from, callSid } = m;
    const handled = this.handler ? this.handler(callSid, command) : Promise.resolve(commandRefused(404, 'No such live call.'));
    handled
      .catch((err: unknown) => {
        this.log.error({ err, callSid }, 'call command failed');
        return commandRefused(502, 'The command failed on the instance holding the call.');
      })
      .then((result) => this.publisher.publish(this.channel('replies', from), JSON.stringify({ id, result } satisfies ReplyMessage)))
      .catch((err: Error) => this.log.warn({ err: err.message, callSid }, 'call commands: answer not sent'));
  }

  private reply(value: unknown): void {
    const m = value as Partial<ReplyMessage> | null;
    const result = m?.result;
    if (typeof m?.id !== 'string' || typeof result !== 'object' || result === null || !STATUSES.has(result.status) || typeof result.body !== 'object') {
      this.log.warn('call commands: ignored a malformed answer');
      return;
    }
    // An answer after its deadline finds nothing pending.
    this.pending.get(m.id)?.resolve(result);
  }
}
