import { Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import Redis from 'ioredis';
import type { Logger } from 'pino';
import { Clock } from '../common/clock';
import { Scheduler } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import { AppLogger } from '../logging/app-logger';
import { CallMetrics } from '../metrics/call-metrics';

/** How long boot waits for Redis before going on without it (commands fail until it is back). */
export const REDIS_BOOT_WAIT_MS = 5_000;

/**
 * The one connection to Redis, when REDIS_URL is set (client is null otherwise). A command sent
 * while Redis is away fails at once instead of waiting in a queue: its caller logs and carries
 * on, and nothing piles up in memory during an outage. ioredis reconnects by itself.
 */
@Injectable()
export class RedisConnection implements OnModuleInit, OnApplicationShutdown {
  readonly client: Redis | null;
  private readonly logger: Logger;
  private down = false;
  private upSince: number | null = null;

  constructor(
    config: AppConfig,
    appLogger: AppLogger,
    private readonly scheduler: Scheduler,
    private readonly clock: Clock,
    metrics: CallMetrics,
  ) {
    this.logger = appLogger.child({ component: 'redis' });
    const { url } = config.redis;
    if (!url) {
      this.client = null;
      return;
    }
    const target = new URL(url);
    const where = { host: target.hostname, port: target.port || '6379' };
    this.client = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectionName: 'call-operator' });
    metrics.watchRedis(() => this.ready);
    // One line when Redis goes away and one when it is back, not one per reconnect attempt.
    this.client.on('error', (err: Error) => {
      this.upSince = null;
      if (this.down) return;
      this.down = true;
      this.logger.warn({ ...where, err: err.message }, 'redis unreachable');
    });
    this.client.on('close', () => (this.upSince = null));
    this.client.on('ready', () => {
      this.upSince = this.clock.now();
      if (this.down) this.logger.info(where, 'redis reachable again');
      else this.logger.info(where, 'redis connected');
      this.down = false;
    });
  }

  /** Whether commands can be sent now. */
  get ready(): boolean {
    return this.client?.status === 'ready';
  }

  /** How long commands have been possible without a break (Clock.now() ms); 0 while they are not. */
  upForMs(): number {
    return this.upSince === null || !this.ready ? 0 : this.clock.now() - this.upSince;
  }

  async onModuleInit(): Promise<void> {
    const client = this.client;
    if (!client || client.status === 'ready') return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        deadline.cancel();
        client.off('ready', done);
        resolve();
      };
      // Bounded: the service boots and takes calls with Redis away, and says so in its logs.
      const deadline = this.scheduler.after(REDIS_BOOT_WAIT_MS, done);
      client.once('ready', done);
    });
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.client) return;
    await this.client.quit().catch(() => this.client?.disconnect());
  }
}
