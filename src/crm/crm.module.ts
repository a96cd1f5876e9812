import { Module } from '@nestjs/common';
import { CallLogRepository } from '../call-log/call-record';
import { Clock } from '../common/clock';
import { Scheduler } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import { AppLogger } from '../logging/app-logger';
import { CallMetrics } from '../metrics/call-metrics';
import { CrmService } from './crm.port';
import { HubspotCrmService, type HubspotCrmOptions } from './hubspot-crm.service';
import { NoopCrmService } from './noop-crm.service';

/** Options for HubspotCrmService that tests override (timeouts, retry delays). */
export const HUBSPOT_CRM_OPTIONS = Symbol('HUBSPOT_CRM_OPTIONS');

@Module({
  providers: [
    // null: the defaults. Registered so that tests can override it.
    { provide: HUBSPOT_CRM_OPTIONS, useValue: null },
    {
      provide: CrmService,
      // Clock and Scheduler come from the global CommonModule: the queue's backoff and breaker run on the app's one clock.
      inject: [AppConfig, AppLogger, CallLogRepository, Clock, Scheduler, CallMetrics, { token: HUBSPOT_CRM_OPTIONS, optional: true }],
      useFactory: (
        config: AppConfig,
        logger: AppLogger,
        repository: CallLogRepository,
        clock: Clock,
        scheduler: Scheduler,
        metrics: CallMetrics,
        options?: Partial<HubspotCrmOptions> | null,
      ): CrmService => {
        const { enabled, accessToken, baseUrl } = config.hubspot;
        // Config validation requires the token whenever HubSpot is enabled.
        if (!enabled || !accessToken) return new NoopCrmService();
        return new HubspotCrmService({ accessToken, baseUrl }, logger.child({ component: 'crm' }), repository, clock, scheduler, metrics, options ?? {});
      },
    },
  ],
  exports: [CrmService],
})
export class CrmModule {}
