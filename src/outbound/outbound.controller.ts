import {
  Body,
  ConflictException,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  NotFoundException,
  Param,
  Post,
  Query,
  Res,
  UnprocessableEntityException,
  UseGuards,
  UsePipes,
  ValidationPipe,
  BadRequestException,
} from '@nestjs/common';
import type { Response } from 'express';
import { ApiTokenGuard } from '../call-log/api-token.guard';
import { OutboundCalls } from './outbound-calls.service';
import { FINISHED_STATUSES, OutboundRequests, type OutboundRequest } from './outbound-request';
import { CreateOutboundCallBody, ListOutboundCallsQuery } from './outbound.dto';

const IDEMPOTENCY_KEY = /^[\w.:-]{1,200}$/;

/** Outbound calls the business asks for: placed by the dialer within the guardrails. */
@Controller('api/outbound-calls')
@UseGuards(ApiTokenGuard)
@UsePipes(new ValidationPipe({ transform: true, whitelist: true, forbidNonWhitelisted: true }))
export class OutboundController {
  constructor(
    private readonly outbound: OutboundCalls,
    private readonly requests: OutboundRequests,
  ) {}

  /** 201 with the new request; 200 with the one it repeats (same Idempotency-Key, or same to and purpose lately); 422 refused. */
  @Post()
  async create(
    @Body() body: CreateOutboundCallBody,
    @Headers('idempotency-key') key: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ): Promise<OutboundRequest> {
    if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) throw new BadRequestException('Idempotency-Key must be 1-200 letters, digits, _ . : or -');
    const outcome = await this.outbound.create(body, key ?? null);
    if (outcome.kind === 'refused') throw new UnprocessableEntityException({ statusCode: 422, reason: outcome.reason, message: outcome.message });
    res.status(outcome.kind === 'created' ? 201 : 200);
    return outcome.request;
  }

  @Get()
  async list(@Query() q: ListOutboundCallsQuery): Promise<{ items: OutboundRequest[]; page: number; pageSize: number; total: number }> {
    const { items, total } = await this.requests.list({ status: q.status, to: q.to, limit: q.pageSize, offset: (q.page - 1) * q.pageSize });
    return { items, page: q.page, pageSize: q.pageSize, total };
  }

  @Get(':id')
  async get(@Param('id') id: string): Promise<OutboundRequest> {
    const request = await this.requests.get(id);
    if (!request) throw new NotFoundException('No such outbound call request.');
    return request;
  }

  /** Cancels a request not finished yet; 409 for one that is. */
  @Delete(':id')
  @HttpCode(200)
  async cancel(@Param('id') id: string): Promise<OutboundRequest> {
    const before = await this.requests.get(id);
    if (!before) throw new NotFoundException('No such outbound call request.');
    if (FINISHED_STATUSES.has(before.status)) throw new ConflictException(`The request is already ${before.status}.`);
    return (await this.requests.cancel(id))!;
  }
}
