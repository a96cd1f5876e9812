import { Module, type OnModuleInit } from '@nestjs/common';
import { OnCallModule } from '../on-call/on-call.module';
import { SecurityModule } from '../security/security.module';
import { ToolRegistry } from '../tools/tool-registry';
import { ToolsModule } from '../tools/tools.module';
import { connectToOnCallTool } from './connect-to-on-call.tool';
import { TwilioWarmTransferLegs, WarmTransferLegs } from './warm-transfer-legs';
import { WarmTransfers } from './warm-transfers';

/**
 * Warm transfer to the on-call person (connect_to_on_call): they are dialled and hear a whisper
 * while the caller stays with the agent; pressing 1 bridges both into a conference, anything else
 * (or WARM_TRANSFER_TIMEOUT_SECONDS) hands the caller back to the agent for a callback time. The
 * leg's webhooks reach it through the phone line (src/phone-line), from any instance.
 */
@Module({
  imports: [OnCallModule, SecurityModule, ToolsModule],
  providers: [WarmTransfers, { provide: WarmTransferLegs, useClass: TwilioWarmTransferLegs }],
  exports: [WarmTransfers],
})
export class WarmTransferModule implements OnModuleInit {
  constructor(
    private readonly registry: ToolRegistry,
    private readonly transfers: WarmTransfers,
  ) {}

  onModuleInit(): void {
    if (this.transfers.available) this.registry.register(connectToOnCallTool(this.transfers));
  }
}
