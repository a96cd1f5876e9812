import { Module } from '@nestjs/common';
import { RedisModule } from '../redis/redis.module';
import { SessionModule } from '../session/session.module';
import { AbandonedCalls } from './abandoned-calls';
import { InstanceLease } from './instance-lease';

/** How the instances of a fleet know each other: leases, and the records of calls whose instance died. */
@Module({
  imports: [RedisModule, SessionModule],
  providers: [InstanceLease, AbandonedCalls],
  exports: [InstanceLease],
})
export class FleetModule {}
