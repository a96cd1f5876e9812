import { Injectable, type OnModuleInit } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { CrmService } from '../crm/crm.port';
import { EmergencyAlerts } from '../on-call/emergency-alerts';
import { DoNotCallList } from '../outbound/do-not-call';
import { TwilioCallControl } from '../twilio/twilio-call-control';
import { endCallTool, transferToHumanTool } from './builtin/call-control.tools';
import { doNotCallTool } from './builtin/do-not-call.tool';
import { saveJobRequestTool } from './builtin/save-job-request.tool';
import { ToolRegistry } from './tool-registry';

/** Registers the plumbing operator's own tools. */
@Injectable()
export class BuiltinTools implements OnModuleInit {
  constructor(
    private readonly registry: ToolRegistry,
    private readonly crm: CrmService,
    private readonly config: AppConfig,
    private readonly control: TwilioCallControl,
    private readonly dnc: DoNotCallList,
    private readonly emergencies: EmergencyAlerts,
  ) {}

  /** Call control needs Twilio REST credentials (and transfer a number in the call's profile): without them it is not offered. */
  onModuleInit(): void {
    this.registry.register(saveJobRequestTool(this.crm, this.config.tools.defaultPhoneRegion, this.emergencies));
    this.registry.register(doNotCallTool(this.dnc));
    if (!this.control.available) return;
    this.registry.register(endCallTool(this.control));
    this.registry.register(transferToHumanTool(this.control));
  }
}
