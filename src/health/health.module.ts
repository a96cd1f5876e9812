import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { CallModule } from '../call/call.module';
import { RedisModule } from '../redis/redis.module';
import { AppHealthIndicator } from './app.health';
import { CallsHealthIndicator, RealtimeHealthIndicator } from './calls.health';
import { DatabaseHealthIndicator } from './database.health';
import { HealthController } from './health.controller';
import { RedisHealthIndicator } from './redis.health';

@Module({
  imports: [TerminusModule.forRoot({ logger: false }), CallModule, RedisModule],
  controllers: [HealthController],
  providers: [AppHealthIndicator, RealtimeHealthIndicator, CallsHealthIndicator, DatabaseHealthIndicator, RedisHealthIndicator],
})
export class HealthModule {}
