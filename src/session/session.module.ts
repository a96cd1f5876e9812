import { Module } from '@nestjs/common';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app-config';
import { RedisConnection } from '../redis/redis-connection';
import { RedisModule } from '../redis/redis.module';
import { RedisSessionStore } from './redis-session-store';
import { InMemorySessionStore, SessionStore } from './session-store';

/** Sessions in Redis when REDIS_URL is set (shared by every instance), else in this process. */
export function createSessionStore(config: AppConfig, clock: Clock, redis: RedisConnection): SessionStore {
  return redis.client ? new RedisSessionStore(redis.client, config, clock) : new InMemorySessionStore(config, clock);
}

@Module({
  imports: [RedisModule],
  providers: [{ provide: SessionStore, inject: [AppConfig, Clock, RedisConnection], useFactory: createSessionStore }],
  exports: [SessionStore],
})
export class SessionModule {}
