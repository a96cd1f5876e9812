import { Controller, Sse, UseGuards, type MessageEvent } from '@nestjs/common';
import type { Observable } from 'rxjs';
import { ApiTokenGuard } from '../call-log/api-token.guard';
import { LiveCallsFeed } from './live-calls-feed';

/** GET /api/calls/live/events: the live calls across the fleet as server-sent events (bearer API_TOKEN). */
@Controller('api/calls/live')
@UseGuards(ApiTokenGuard)
export class LiveCallsEventsController {
  constructor(private readonly feed: LiveCallsFeed) {}

  @Sse('events')
  events(): Observable<MessageEvent> {
    return this.feed.events();
  }
}
