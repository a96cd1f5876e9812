import { Body, Controller, Delete, Get, HttpCode, NotFoundException, Param, Post, Query, UseGuards, UsePipes, ValidationPipe, BadRequestException } from '@nestjs/common';
import { ApiTokenGuard } from '../call-log/api-token.guard';
import { DoNotCallList, type DoNotCallEntry } from './do-not-call';
import { AddDoNotCallBody, E164, ListDoNotCallQuery } from './outbound.dto';

/** The do-not-call list. */
@Controller('api/dnc')
@UseGuards(ApiTokenGuard)
@UsePipes(new ValidationPipe({ transform: true, whitelist: true, forbidNonWhitelisted: true }))
export class DoNotCallController {
  constructor(private readonly dnc: DoNotCallList) {}

  @Get()
  async list(@Query() q: ListDoNotCallQuery): Promise<{ items: DoNotCallEntry[]; page: number; pageSize: number; total: number }> {
    const { items, total } = await this.dnc.list(q.pageSize, (q.page - 1) * q.pageSize);
    return { items, page: q.page, pageSize: q.pageSize, total };
  }

  @Post()
  @HttpCode(200)
  add(@Body() body: AddDoNotCallBody): Promise<DoNotCallEntry> {
    return this.dnc.add(body.number, 'api', body.reason ?? null);
  }

  /** The number URL-encoded (%2B for the +). */
  @Delete(':number')
  @HttpCode(204)
  async remove(@Param('number') number: string): Promise<void> {
    if (!E164.test(number)) throw new BadRequestException('number must be a phone number in E.164 form, such as +15551234567');
    if (!(await this.dnc.remove(number))) throw new NotFoundException('That number is not on the do-not-call list.');
  }
}
