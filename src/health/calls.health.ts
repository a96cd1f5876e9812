import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { CallRegistry } from '../call/call-registry';
import { AppConfig } from '../config/app-config';

/** Readiness for the Realtime dependency: without an API key no call can be answered by the agent. */
@Injectable()
export class RealtimeHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly config: AppConfig,
  ) {}

  check() {
    const session = this.indicators.check('realtime');
    return this.config.openai.apiKey
      ? session.up({ model: this.config.openai.model, api: this.config.openai.api })
      : session.down({ message: 'OPENAI_API_KEY is not set' });
  }
}

/** Readiness for taking calls: down while draining for shutdown; reports the active call count. */
@Injectable()
export class CallsHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly registry: CallRegistry,
    private readonly config: AppConfig,
  ) {}

  check() {
    const session = this.indicators.check('calls');
    const data = { activeCalls: this.registry.activeCalls, maxConcurrentCalls: this.config.calls.maxConcurrent };
    return this.registry.isDraining ? session.down({ ...data, message: 'draining' }) : session.up(data);
  }
}
