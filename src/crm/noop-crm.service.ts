import { Injectable } from '@nestjs/common';
import { CrmService } from './crm.port';

/** Used while no CRM is configured (HUBSPOT_ENABLED=false): calls go on, nothing is sent anywhere. */
@Injectable()
export class NoopCrmService extends CrmService {
  callStarted(): void {}
  jobRequested(): void {}
  callEnded(): void {}
}
