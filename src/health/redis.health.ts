import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { RedisConnection } from '../redis/redis-connection';

/**
 * Redis, when REDIS_URL is set. Unreachable reports `degraded`, never `down`: calls in progress
 * and new calls go on without it; what is lost meanwhile is sharing (other instances do not see
 * this instance's calls), not service.
 */
@Injectable()
export class RedisHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly redis: RedisConnection,
  ) {}

  check() {
    const session = this.indicators.check('redis');
    if (!this.redis.client) return session.up({ configured: false });
    if (this.redis.ready) return session.up({ configured: true });
    return session.degraded({ configured: true, message: `unreachable (${this.redis.client.status}): sessions are not shared until it is back` });
  }
}
