import { BadRequestException, Body, Controller, HttpCode, HttpException, Param, Post, UseGuards, UsePipes, ValidationPipe } from '@nestjs/common';
import { ApiTokenGuard } from '../call-log/api-token.guard';
import type { CallCommand } from '../call/call-command';
import { CALL_SID } from '../twilio/twilio-protocol';
import { CallControlService } from './call-control.service';
import { SayBody, TransferBody } from './call-control.dto';

/** An operator acts on a live call, whichever instance holds it. */
@Controller('api/calls')
@UseGuards(ApiTokenGuard)
@UsePipes(new ValidationPipe({ transform: true, whitelist: true, forbidNonWhitelisted: true }))
export class CallControlController {
  constructor(private readonly calls: CallControlService) {}

  @Post(':callSid/hangup')
  @HttpCode(200)
  hangup(@Param('callSid') callSid: string): Promise<Record<string, unknown>> {
    return this.run(callSid, { action: 'hangup' });
  }

  @Post(':callSid/transfer')
  @HttpCode(200)
  transfer(@Param('callSid') callSid: string, @Body() body: TransferBody): Promise<Record<string, unknown>> {
    return this.run(callSid, body.to === undefined ? { action: 'transfer' } : { action: 'transfer', to: body.to });
  }

  @Post(':callSid/say')
  @HttpCode(200)
  say(@Param('callSid') callSid: string, @Body() body: SayBody): Promise<Record<string, unknown>> {
    return this.run(callSid, { action: 'say', text: body.text, mode: body.mode });
  }

  private async run(callSid: string, command: CallCommand): Promise<Record<string, unknown>> {
    if (!CALL_SID.test(callSid)) throw new BadRequestException('callSid must be a Twilio Call SID: CA followed by 32 hex digits');
    const { status, body } = await this.calls.execute(callSid, command);
    if (status !== 200) throw new HttpException({ statusCode: status, ...body }, status);
    return { callSid, action: command.action, ...body };
  }
}
