import { Controller, ForbiddenException, Get, GoneException, NotFoundException, Param, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { RECORDING_LINK_PATH, RecordingLinks } from '../recording/recording-links';
import { RecordingService } from '../recording/recording.service';
import { ApiAuthFailures } from '../security/api-auth-failures';
import { tooManyRequests } from '../security/rate-limit.guard';
import { CallLogRepository } from './call-record';
import { sendRecording } from './send-recording';

const FILE = /^(CA[0-9a-fA-F]{32})\.wav$/;

/**
 * The recording behind a signed link (RecordingLinks), with no API token: what the CRM plays.
 * A forged link counts as a failed API authentication for its client, so links cannot be
 * guessed faster than tokens. There is no per-request limit otherwise: a player seeking through
 * a recording sends many Range requests.
 */
@Controller(RECORDING_LINK_PATH)
export class RecordingLinksController {
  constructor(
    private readonly links: RecordingLinks,
    private readonly calls: CallLogRepository,
    private readonly recordings: RecordingService,
    private readonly failures: ApiAuthFailures,
  ) {}

  @Get(':file')
  async play(
    @Param('file') file: string,
    @Query('expires') expires: unknown,
    @Query('signature') signature: unknown,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const callSid = FILE.exec(file)?.[1];
    if (!callSid) throw new NotFoundException('No such recording.');
    const client = req.ip ?? '';
    // Refused while over the limit, valid link or not: otherwise the limit would still answer guesses.
    const retryAfter = this.failures.retryAfterSeconds(client);
    if (retryAfter > 0) throw tooManyRequests(res, retryAfter);
    const verdict = this.links.verify(callSid, expires, signature);
    if (verdict === 'forged') {
      this.failures.record(client);
      throw new ForbiddenException('This recording link is not valid.');
    }
    if (verdict === 'expired') throw new GoneException('This recording link has expired.');

    const call = await this.calls.get(callSid);
    const path = call?.recording ? this.recordings.pathOf(call.recording) : null;
    if (!path) throw new NotFoundException('This call has no recording.');
    await sendRecording(res, path);
  }
}
