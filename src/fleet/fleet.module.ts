import { Module } from '@nestjs/common';
import { Scheduler } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import { AppLogger } from '../logging/app-logger';
import { RedisConnection } from '../redis/redis-connection';
import { RedisModule } from '../redis/redis.module';
import { SessionModule } from '../session/session.module';
import { AbandonedCalls } from './abandoned-calls';
import { CallCommandBus, LocalCallCommandBus, RedisCallCommandBus } from './call-command-bus';
import { InstanceLease } from './instance-lease';

/** Commands through Redis pub/sub when REDIS_URL is set, else to this instance only. */
export function createCallCommandBus(redis: RedisConnection, config: AppConfig, scheduler: Scheduler, logger: AppLogger): CallCommandBus {
  if (!redis.client) return new LocalCallCommandBus(config.instanceId);
  // A subscribed connection can do nothing else; this one may queue its SUBSCRIBE until Redis is there.
  const subscriber = redis.client.duplicate({ enableOfflineQueue: true, connectionName: 'call-operator-commands' });
  subscriber.on('error', () => undefined); // the main connection logs the outage
  const log = logger.child({ component: 'fleet' });
  return new RedisCallCommandBus(redis.client, subscriber, config.redis.keyPrefix, config.instanceId, config.fleet.commandTimeoutMs, scheduler, log);
}

/** How the instances of a fleet know each other: leases, commands to the holder of a call, and the records of calls whose instance died. */
@Module({
  imports: [RedisModule, SessionModule],
  providers: [
    InstanceLease,
    AbandonedCalls,
    { provide: CallCommandBus, inject: [RedisConnection, AppConfig, Scheduler, AppLogger], useFactory: createCallCommandBus },
  ],
  exports: [InstanceLease, CallCommandBus],
})
export class FleetModule {}
