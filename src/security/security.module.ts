import { Module, type OnModuleInit } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { Clock } from '../common/clock';
import { Scheduler } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import { AppLogger } from '../logging/app-logger';
import { RedisConnection } from '../redis/redis-connection';
import { RedisModule } from '../redis/redis.module';
import { ApiAuthFailures } from './api-auth-failures';
import { RateLimitGuard, throttlers } from './rate-limit.guard';
import { StreamTokens } from './stream-tokens';
import { StreamUpgradeCheck } from './stream-upgrade-check';
import { TwilioSignatureGuard } from './twilio-signature.guard';
import { TwilioSignatureVerifier } from './twilio-signature';
import { LocalUsedStreamTokens, RedisUsedStreamTokens, UsedStreamTokens } from './used-stream-tokens';

/** Used stream tokens in Redis when REDIS_URL is set (single use across the fleet), else in this process. */
export function createUsedStreamTokens(redis: RedisConnection, config: AppConfig, clock: Clock, scheduler: Scheduler, logger: AppLogger): UsedStreamTokens {
  const local = new LocalUsedStreamTokens(clock);
  if (!redis.client) return local;
  return new RedisUsedStreamTokens(redis.client, config.redis.keyPrefix, config.instanceId, local, scheduler, logger.child({ component: 'stream-tokens' }));
}

/** Who may connect: Twilio signatures, per-call stream tokens, rate limits. */
@Module({
  imports: [RedisModule, ThrottlerModule.forRootAsync({ inject: [AppConfig], useFactory: throttlers })],
  providers: [
    { provide: UsedStreamTokens, inject: [RedisConnection, AppConfig, Clock, Scheduler, AppLogger], useFactory: createUsedStreamTokens },
    TwilioSignatureVerifier,
    TwilioSignatureGuard,
    StreamUpgradeCheck,
    StreamTokens,
    ApiAuthFailures,
    { provide: APP_GUARD, useClass: RateLimitGuard },
  ],
  exports: [TwilioSignatureVerifier, TwilioSignatureGuard, StreamUpgradeCheck, StreamTokens, ApiAuthFailures],
})
export class SecurityModule implements OnModuleInit {
  constructor(
    private readonly signatures: TwilioSignatureVerifier,
    private readonly tokens: StreamTokens,
    private readonly logger: AppLogger,
  ) {}

  /** Says at boot what cannot be checked, so an open door is never silent. */
  onModuleInit(): void {
    const log = this.logger.child({ component: 'security' });
    if (this.signatures.mode === 'off') {
      log.warn('TWILIO_VALIDATE_SIGNATURE=false: Twilio webhook and media stream signatures are not checked (local development only)');
    } else if (this.signatures.mode === 'no_token') {
      log.warn('TWILIO_AUTH_TOKEN is not set: Twilio webhook and media stream signatures cannot be checked');
    }
    if (this.tokens.secretSource === 'random') {
      log.warn(
        'STREAM_TOKEN_SECRET and TWILIO_AUTH_TOKEN are not set: stream tokens are signed with a random per-process secret; ' +
          'several instances behind one webhook URL need a shared STREAM_TOKEN_SECRET',
      );
    }
  }
}
