import { Global, Module } from '@nestjs/common';
import { CallMetrics } from './call-metrics';
import { MetricsController } from './metrics.controller';

/** Global: the call and its collaborators count through CallMetrics wherever they are built. */
@Global()
@Module({
  providers: [{ provide: CallMetrics, useFactory: () => new CallMetrics({ processMetrics: true }) }],
  controllers: [MetricsController],
  exports: [CallMetrics],
})
export class MetricsModule {}
