import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app-config';

/** Liveness: the process answers. No external checks, so a slow upstream never restarts pods. */
@Injectable()
export class AppHealthIndicator {
  private readonly startedAt: number;

  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {
    this.startedAt = clock.now();
  }

  check() {
    return this.indicators.check('app').up({
      version: this.config.version,
      uptimeSeconds: Math.round((this.clock.now() - this.startedAt) / 1000),
    });
  }
}
