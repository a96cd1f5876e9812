import { Injectable } from '@nestjs/common';
import { CrmService } from './crm.port';

/** Used while no CRM is configured: calls go on, nothing is sent anywhere. */
@Injectable()
export class NoopCrmService extends CrmService {
  callStarted(): void {}
  callEnded(): void {}
}
