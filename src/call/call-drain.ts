import { Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { raceTimeout, TIMED_OUT } from '../common/race-timeout';
import { Scheduler } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import { AppLogger } from '../logging/app-logger';
import { CallRegistry } from './call-registry';

/**
 * The calls' part of a graceful shutdown. New calls are refused at once; calls in progress go on
 * for up to DRAIN_TIMEOUT_SECONDS and, if still going then, end politely: each says goodbye and
 * hangs up (Call.endWithGoodbye, which bounds both). A drain timeout of 0 ends every call at once,
 * without a goodbye.
 */
@Injectable()
export class CallDrain {
  private readonly log: Logger;

  constructor(
    private readonly registry: CallRegistry,
    private readonly config: AppConfig,
    private readonly scheduler: Scheduler,
    logger: AppLogger,
  ) {
    this.log = logger.child({ component: 'drain' });
  }

  /** Resolves once every call has ended. */
  async run(): Promise<void> {
    this.registry.startDraining();
    const { drainTimeoutMs } = this.config.calls;
    this.log.info({ activeCalls: this.registry.activeCalls, drainTimeoutMs }, 'draining: no new calls');
    if (drainTimeoutMs === 0) {
      for (const call of this.registry.live()) call.end('shutdown');
      return;
    }
    if ((await raceTimeout(this.registry.whenEmpty(), drainTimeoutMs, this.scheduler)) !== TIMED_OUT) {
      this.log.info('drained: every call has ended');
      return;
    }
    const calls = this.registry.live();
    this.log.info({ activeCalls: calls.length }, 'drain timeout: ending the remaining calls with a goodbye');
    await Promise.all(calls.map((call) => call.endWithGoodbye()));
  }
}
