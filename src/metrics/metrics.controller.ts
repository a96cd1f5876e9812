import { Controller, Get, Header, Res } from '@nestjs/common';
import type { Response } from 'express';
import { CallMetrics } from './call-metrics';

/** Prometheus' text format, for a scraper. */
@Controller()
export class MetricsController {
  constructor(private readonly metrics: CallMetrics) {}

  @Get('metrics')
  @Header('Cache-Control', 'no-store')
  async scrape(@Res() res: Response): Promise<void> {
    const body = await this.metrics.registry.metrics();
    res.type(this.metrics.registry.contentType).send(body);
  }
}
