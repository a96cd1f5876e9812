import { Controller, Get, Header, NotFoundException, Res } from '@nestjs/common';
import type { Response } from 'express';
import { AppConfig } from '../config/app-config';
import { CallMetrics } from './call-metrics';

/** Prometheus' text format, for a scraper, on the main port unless METRICS_PORT moves it. */
@Controller()
export class MetricsController {
  constructor(
    private readonly metrics: CallMetrics,
    private readonly config: AppConfig,
  ) {}

  @Get('metrics')
  @Header('Cache-Control', 'no-store')
  async scrape(@Res() res: Response): Promise<void> {
    // As if there were no such route: the main port is the public one.
    if (this.config.metricsPort !== undefined) throw new NotFoundException('Cannot GET /metrics');
    const body = await this.metrics.registry.metrics();
    res.type(this.metrics.registry.contentType).send(body);
  }
}
