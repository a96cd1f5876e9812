import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { AppHealthIndicator } from './app.health';
import { CallsHealthIndicator, RealtimeHealthIndicator } from './calls.health';
import { DatabaseHealthIndicator } from './database.health';
import { RedisHealthIndicator } from './redis.health';

@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly app: AppHealthIndicator,
    private readonly realtime: RealtimeHealthIndicator,
    private readonly calls: CallsHealthIndicator,
    private readonly database: DatabaseHealthIndicator,
    private readonly redis: RedisHealthIndicator,
  ) {}

  /** Liveness. */
  @Get('health')
  @HealthCheck()
  live() {
    return this.health.check([() => this.app.check()]);
  }

  /** Readiness: 503 while the agent cannot take calls. A database or Redis outage only degrades it. */
  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([() => this.realtime.check(), () => this.calls.check(), () => this.database.check(), () => this.redis.check()]);
  }
}
