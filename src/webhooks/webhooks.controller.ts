import { BadRequestException, ConflictException, Controller, Get, HttpCode, NotFoundException, Param, Post, Query, UseGuards, UsePipes, ValidationPipe } from '@nestjs/common';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, Matches, Max, Min } from 'class-validator';
import { ApiTokenGuard } from '../call-log/api-token.guard';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app-config';
import { CALL_SID } from '../twilio/twilio-protocol';
import { WebhookDispatcher } from './webhook-dispatcher';
import { DELIVERY_STATUSES, WebhookOutbox, type DeliveryStatus, type WebhookDelivery, type WebhookEventView } from './webhook-outbox';

/** Query of GET /api/webhooks/deliveries. */
export class ListDeliveriesQuery {
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(100_000)
  page = 1;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(100)
  pageSize = 20;

  @IsOptional() @IsIn(DELIVERY_STATUSES)
  status?: DeliveryStatus;

  @IsOptional() @Matches(CALL_SID, { message: 'callSid must be a Twilio Call SID: CA followed by 32 hex digits' })
  callSid?: string;
}

const EVENT_ID = /^evt_[0-9a-f]{32}$/;
const DELIVERY_ID = /^whd_[0-9a-f]{24}$/;

/** What the webhook outbox holds and did: every delivery's status, attempts and last error; and a retry by hand. */
@Controller('api/webhooks')
@UseGuards(ApiTokenGuard)
@UsePipes(new ValidationPipe({ transform: true, whitelist: true, forbidNonWhitelisted: true }))
export class WebhooksController {
  constructor(
    private readonly outbox: WebhookOutbox,
    private readonly dispatcher: WebhookDispatcher,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {}

  @Get('deliveries')
  async list(@Query() q: ListDeliveriesQuery): Promise<{ items: WebhookDelivery[]; page: number; pageSize: number; total: number }> {
    const { items, total } = await this.outbox.list({ status: q.status, callSid: q.callSid, limit: q.pageSize, offset: (q.page - 1) * q.pageSize });
    return { items, page: q.page, pageSize: q.pageSize, total };
  }

  @Get('events/:id')
  async event(@Param('id') id: string): Promise<WebhookEventView> {
    if (!EVENT_ID.test(id)) throw new BadRequestException('id must be an event id: evt_ followed by 32 hex digits');
    const event = await this.outbox.event(id);
    if (!event) throw new NotFoundException('No such webhook event.');
    return event;
  }

  /** A pending or failed delivery is attempted now (once; then retried as usual while its limits allow). */
  @Post('deliveries/:id/retry')
  @HttpCode(200)
  async retry(@Param('id') id: string): Promise<WebhookDelivery> {
    if (!DELIVERY_ID.test(id)) throw new BadRequestException('id must be a delivery id: whd_ followed by 24 hex digits');
    const before = await this.outbox.delivery(id);
    if (!before) throw new NotFoundException('No such webhook delivery.');
    if (before.status === 'delivered') throw new ConflictException('The delivery is already delivered.');
    if (!this.config.webhooks.urls.includes(before.url)) throw new ConflictException('The delivery is to a URL no longer in WEBHOOK_URLS.');
    const after = (await this.outbox.retryNow(id, this.clock.epochMs()))!;
    this.dispatcher.wake();
    return after;
  }
}
