import { Global, Module } from '@nestjs/common';
import { CallMetrics } from './call-metrics';
import { MetricsController } from './metrics.controller';
import { MetricsServer } from './metrics-server';

/**
 * Global: the call and its collaborators count through CallMetrics wherever they are built.
 * GET /metrics is served by MetricsServer on METRICS_PORT when set, else by the controller on PORT.
 */
@Global()
@Module({
  providers: [{ provide: CallMetrics, useFactory: () => new CallMetrics({ processMetrics: true }) }, MetricsServer],
  controllers: [MetricsController],
  exports: [CallMetrics],
})
export class MetricsModule {}
