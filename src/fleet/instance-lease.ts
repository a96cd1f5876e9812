import { Injectable, type BeforeApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Logger } from 'pino';
import { Clock } from '../common/clock';
import { Scheduler, type ScheduledTask } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import { AppLogger } from '../logging/app-logger';
import { RedisConnection } from '../redis/redis-connection';

/**
 * This instance's lease in Redis (`<prefix>instance:<INSTANCE_ID>`, expiring after
 * INSTANCE_LEASE_SECONDS), renewed every third of that and again the moment Redis is back. An
 * instance whose lease has lapsed has died, or has been cut off from the fleet as long: the
 * others record its calls as ended. Without REDIS_URL there is no fleet and no lease.
 */
@Injectable()
export class InstanceLease implements OnModuleInit, BeforeApplicationShutdown {
  private renewal: ScheduledTask | null = null;
  private readonly log: Logger;
  private readonly onReady = (): void => this.renew();
  /** The lease's value: when this instance booted, for whoever inspects Redis. */
  private readonly bootedAt: string;

  constructor(
    private readonly redis: RedisConnection,
    private readonly config: AppConfig,
    clock: Clock,
    private readonly scheduler: Scheduler,
    logger: AppLogger,
  ) {
    this.log = logger.child({ component: 'fleet' });
    this.bootedAt = new Date(clock.epochMs()).toISOString();
  }

  key(instanceId: string): string {
    return `${this.config.redis.keyPrefix}instance:${instanceId}`;
  }

  onModuleInit(): void {
    const client = this.redis.client;
    if (!client) return;
    client.on('ready', this.onReady);
    this.renew();
    this.renewal = this.scheduler.every(Math.max(1, Math.floor(this.config.fleet.leaseMs / 3)), () => this.renew());
  }

  /** Of `instanceIds`, those whose lease is held now. Throws while Redis is unreachable. */
  async alive(instanceIds: readonly string[]): Promise<Set<string>> {
    const client = this.redis.client;
    if (!client || instanceIds.length === 0) return new Set();
    const pipeline = client.pipeline();
    for (const id of instanceIds) pipeline.exists(this.key(id));
    const replies = (await pipeline.exec()) ?? [];
    const alive = new Set<string>();
    replies.forEach(([err, exists], i) => {
      if (err) throw err;
      if (exists === 1) alive.add(instanceIds[i]);
    });
    return alive;
  }

  /** After the drain: this instance holds no calls any more, and says so at once. */
  async beforeApplicationShutdown(): Promise<void> {
    this.renewal?.cancel();
    const client = this.redis.client;
    if (!client) return;
    client.off('ready', this.onReady);
    if (this.redis.ready) await client.del(this.key(this.config.instanceId)).catch(() => undefined);
  }

  private renew(): void {
    if (!this.redis.ready) return;
    this.redis
      .client!.set(this.key(this.config.instanceId), this.bootedAt, 'PX', this.config.fleet.leaseMs)
      .catch((err: Error) => this.log.warn({ err: err.message }, 'instance lease not renewed'));
  }
}
