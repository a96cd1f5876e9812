import { Module } from '@nestjs/common';
import { Clock } from '../common/clock';
import { Scheduler } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import { CrmModule } from '../crm/crm.module';
import { OnCallModule } from '../on-call/on-call.module';
import { OutboundModule } from '../outbound/outbound.module';
import { TwilioModule } from '../twilio/twilio.module';
import { BuiltinTools } from './builtin-tools';
import { McpToolSource } from './mcp/mcp-tool-source';
import { ToolRegistry } from './tool-registry';

@Module({
  imports: [CrmModule, OnCallModule, OutboundModule, TwilioModule],
  providers: [
    {
      provide: ToolRegistry,
      inject: [AppConfig, Clock, Scheduler],
      useFactory: (config: AppConfig, clock: Clock, scheduler: Scheduler) => new ToolRegistry(clock, scheduler, config.tools.timeoutMs),
    },
    BuiltinTools,
    McpToolSource,
  ],
  exports: [ToolRegistry, McpToolSource],
})
export class ToolsModule {}
