import { BadRequestException, Controller, Get, NotFoundException, Param, Query, Res, ServiceUnavailableException, UseGuards, UsePipes, ValidationPipe } from '@nestjs/common';
import type { Response } from 'express';
import { RecordingService } from '../recording/recording.service';
import { SessionStore, type CallSession } from '../session/session-store';
import { CALL_SID } from '../twilio/twilio-protocol';
import { ApiTokenGuard } from './api-token.guard';
import { CallDetailSources } from './call-detail-sources';
import { CallLogRepository, type CallRecord } from './call-record';
import { ListCallsQuery } from './list-calls.query';
import { liveCallsOf, type LiveCalls } from './live-calls';
import { sendRecording } from './send-recording';

/** Read access to the call log: who called, what was said, what it cost, and the recording; and the calls live now. */
@Controller('api/calls')
@UseGuards(ApiTokenGuard)
@UsePipes(new ValidationPipe({ transform: true, whitelist: true, forbidNonWhitelisted: true }))
export class CallsController {
  constructor(
    private readonly calls: CallLogRepository,
    private readonly recordings: RecordingService,
    private readonly sessions: SessionStore,
    private readonly detailSources: CallDetailSources,
  ) {}

  /** The calls live now across the fleet, newest first, each with the instance that holds it. Before :callSid. */
  @Get('live')
  async live(): Promise<LiveCalls> {
    let sessions: CallSession[];
    try {
      sessions = await this.sessions.list();
    } catch {
      throw new ServiceUnavailableException('The live calls cannot be listed while Redis is unreachable.');
    }
    return liveCallsOf(sessions);
  }

  @Get()
  async list(@Query() q: ListCallsQuery): Promise<{ items: readonly CallRecord[]; page: number; pageSize: number; total: number }> {
    const { items, total } = await this.calls.list({
      number: q.number,
      since: q.from,
      until: q.to,
      status: q.status,
      outcome: q.outcome,
      urgency: q.urgency,
      order: q.order,
      limit: q.pageSize,
      offset: (q.page - 1) * q.pageSize,
    });
    return { items: await this.detailSources.join(items), page: q.page, pageSize: q.pageSize, total };
  }

  /** The record, with the details other features keep apart (emergency pages) joined in. */
  @Get(':callSid')
  async get(@Param('callSid') callSid: string): Promise<CallRecord> {
    const [record] = await this.detailSources.join([await this.find(callSid)]);
    return record;
  }

  /** The stereo WAV (caller left, agent right); Range requests are served by Express's sendFile. */
  @Get(':callSid/recording')
  async recording(@Param('callSid') callSid: string, @Res() res: Response): Promise<void> {
    const call = await this.find(callSid);
    const path = call.recording ? this.recordings.pathOf(call.recording) : null;
    if (!path) throw new NotFoundException('This call has no recording.');
    await sendRecording(res, path);
  }

  private async find(callSid: string): Promise<CallRecord> {
    if (!CALL_SID.test(callSid)) throw new BadRequestException('callSid must be a Twilio Call SID: CA followed by 32 hex digits');
    const call = await this.calls.get(callSid);
    if (!call) throw new NotFoundException('No such call.');
    return call;
  }
}
