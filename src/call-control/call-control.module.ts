import { Module } from '@nestjs/common';
import { CallLogModule } from '../call-log/call-log.module';
import { CallModule } from '../call/call.module';
import { FleetModule } from '../fleet/fleet.module';
import { SecurityModule } from '../security/security.module';
import { SessionModule } from '../session/session.module';
import { WarmTransferModule } from '../warm-transfer/warm-transfer.module';
import { CallControlController } from './call-control.controller';
import { CallControlService } from './call-control.service';

/** POST /api/calls/:callSid/hangup|transfer|say, for calls on any instance of the fleet; and the carrying of warm transfers' leg events to their call's instance. */
@Module({
  imports: [CallModule, CallLogModule, FleetModule, SessionModule, SecurityModule, WarmTransferModule],
  controllers: [CallControlController],
  providers: [CallControlService],
  exports: [CallControlService],
})
export class CallControlModule {}
