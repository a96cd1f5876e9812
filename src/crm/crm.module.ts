import { Module } from '@nestjs/common';
import { CrmService } from './crm.port';
import { NoopCrmService } from './noop-crm.service';

@Module({
  providers: [{ provide: CrmService, useClass: NoopCrmService }],
  exports: [CrmService],
})
export class CrmModule {}
