import { Injectable, type OnModuleInit } from '@nestjs/common';
import { commandDone, commandRefused, type CallCommand, type CallCommandResult } from '../call/call-command';
import { CallRegistry } from '../call/call-registry';
import { AppConfig } from '../config/app-config';
import { CallCommandBus } from '../fleet/call-command-bus';
import { SessionStore } from '../session/session-store';
import { WarmTransfers } from '../warm-transfer/warm-transfers';

/**
 * Gets an operator's command to the call, wherever it is: carried out here when this instance
 * holds the call, else sent to the instance the call's session names, whose answer comes back. A
 * warm transfer's leg events travel the same way to the transfer, which lives with its call.
 */
@Injectable()
export class CallControlService implements OnModuleInit {
  constructor(
    private readonly registry: CallRegistry,
    private readonly sessions: SessionStore,
    private readonly bus: CallCommandBus,
    private readonly config: AppConfig,
    private readonly transfers: WarmTransfers,
  ) {}

  onModuleInit(): void {
    this.bus.serve((callSid, command) => this.here(callSid, command));
  }

  async execute(callSid: string, command: CallCommand): Promise<CallCommandResult> {
    // Held here: no need of Redis, so this works during an outage too.
    if (this.registry.find(callSid)) return this.here(callSid, command);
    const session = await this.sessions.get(callSid);
    if (!session || session.instanceId === this.config.instanceId) return commandRefused(404, 'No such live call.');
    return this.bus.send(session.instanceId, callSid, command);
  }

  private here(callSid: string, command: CallCommand): Promise<CallCommandResult> {
    if (command.action === 'warm-transfer') {
      const twiml = this.transfers.legEvent(command.transfer, command.event, command.value);
      return Promise.resolve(twiml === null ? commandRefused(404, 'No such warm transfer.') : commandDone({ twiml }));
    }
    const call = this.registry.find(callSid);
    return call ? call.command(command) : Promise.resolve(commandRefused(404, 'No such live call.'));
  }
}
