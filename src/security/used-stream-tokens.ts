import type Redis from 'ioredis';
import type { Logger } from 'pino';
import type { Clock } from '../common/clock';
import { raceTimeout, TIMED_OUT } from '../common/race-timeout';
import type { Scheduler } from '../common/scheduler';
import { ExpiringMap } from './expiring-map';

/** Far more tokens than one instance can use within a TTL (MAX_CONCURRENT_CALLS bounds it long before). */
const MAX_USED_TOKENS = 100_000;

/**
 * The longest a stream's start waits for Redis to say whether its token was used. Twilio's frames
 * are held meanwhile; a Redis that answers slower than this is treated as away.
 */
export const CLAIM_TIMEOUT_MS = 1_000;

/** Which stream tokens have been used. A port: one instance remembers them itself; a fleet in Redis. */
export abstract class UsedStreamTokens {
  /** True on the token's first use (from now on it is used); false when it was used before. */
  abstract claim(nonce: string, expiresAt: number): Promise<boolean>;
}

/** Used tokens in this process, each forgotten at its expiry (it is refused as expired from then on). */
export class LocalUsedStreamTokens extends UsedStreamTokens {
  private readonly used = new ExpiringMap<true>(MAX_USED_TOKENS);

  constructor(private readonly clock: Clock) {
    super();
  }

  async claim(nonce: string, expiresAt: number): Promise<boolean> {
    const now = this.clock.epochMs();
    if (this.used.get(nonce, now)) return false;
    this.used.set(nonce, true, expiresAt, now);
    return true;
  }
}

/**
 * Used tokens shared by every instance: `SET <prefix>stream-token:<nonce> NX PXAT <expiry>`, so a
 * token replayed on another instance is refused. Each instance also remembers its own, so that a
 * replay on the same instance is refused even while Redis is away; meanwhile a replay on another
 * instance is not caught (logged), because refusing every call during an outage would lose them all.
 */
export class RedisUsedStreamTokens extends UsedStreamTokens {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly instanceId: string,
    private readonly local: LocalUsedStreamTokens,
    private readonly scheduler: Scheduler,
    private readonly log: Logger,
  ) {
    super();
  }

  async claim(nonce: string, expiresAt: number): Promise<boolean> {
    if (!(await this.local.claim(nonce, expiresAt))) return false;
    if (this.redis.status !== 'ready') return this.unchecked('redis unreachable');
    const set = this.redis.set(`${this.keyPrefix}stream-token:${nonce}`, this.instanceId, 'PXAT', expiresAt, 'NX').catch((err: Error) => err);
    const reply = await raceTimeout(set, CLAIM_TIMEOUT_MS, this.scheduler);
    if (reply === TIMED_OUT) return this.unchecked(`redis did not answer within ${CLAIM_TIMEOUT_MS} ms`);
    if (reply instanceof Error) return this.unchecked(reply.message);
    return reply === 'OK';
  }

  private unchecked(why: string): true {
    this.log.warn({ why }, 'stream token checked on this instance only: a replay on another instance would not be caught');
    return true;
  }
}
