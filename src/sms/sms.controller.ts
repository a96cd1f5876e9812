import { Controller, DefaultValuePipe, Get, ParseIntPipe, Query, UseGuards } from '@nestjs/common';
import { ApiTokenGuard } from '../call-log/api-token.guard';
import { SmsOptOuts, type SmsOptOut } from './sms-opt-outs';

/** GET /api/sms/opt-outs: the numbers that texted STOP (or that Twilio refused as opted out), newest first. */
@Controller('api/sms')
@UseGuards(ApiTokenGuard)
export class SmsController {
  constructor(private readonly optOuts: SmsOptOuts) {}

  @Get('opt-outs')
  async optOutList(
    @Query('limit', new DefaultValuePipe(50), ParseIntPipe) limit: number,
    @Query('offset', new DefaultValuePipe(0), ParseIntPipe) offset: number,
  ): Promise<{ items: SmsOptOut[]; total: number; limit: number; offset: number }> {
    const l = Math.min(Math.max(limit, 1), 500);
    const o = Math.max(offset, 0);
    return { ...(await this.optOuts.list(l, o)), limit: l, offset: o };
  }
}
