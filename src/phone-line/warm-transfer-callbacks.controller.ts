import { BadRequestException, Controller, Header, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import type { Request } from 'express';
import type { WarmTransferLegEvent } from '../call/call-command';
import { CallControlService } from '../call-control/call-control.service';
import { TwilioSignatureGuard } from '../security/twilio-signature.guard';
import { CALL_SID } from '../twilio/twilio-protocol';
import { CALL_PARAM, goodbyeTwiml, NOT_WAITING, TRANSFER_PARAM } from '../warm-transfer/warm-transfer-twiml';
import { WarmTransfers } from '../warm-transfer/warm-transfers';

const TRANSFER_ID = /^[0-9a-f]{24}$/;
const DIGITS = /^[0-9*#]{0,10}$/;
const STATUS = /^[a-z-]{1,20}$/;

function query(req: Request, name: string, valid: RegExp): string {
  const value = req.query[name];
  if (typeof value !== 'string' || !valid.test(value)) throw new BadRequestException(`${name} in the URL is not valid`);
  return value;
}

function field(req: Request, name: string, valid: RegExp): string {
  const value = ((req.body ?? {}) as Record<string, unknown>)[name] ?? '';
  if (typeof value !== 'string' || !valid.test(value)) throw new BadRequestException(`${name} is not valid`);
  return value;
}

/**
 * The on-call leg's webhooks of a warm transfer (signed by Twilio): whisper on answer, the key
 * pressed, its status. The transfer lives with its call: handled here when this instance holds
 * it, else carried to the instance that does (CallControlService, through Redis in a fleet), whose
 * TwiML comes back.
 */
@Controller('twilio/warm-transfer')
@UseGuards(TwilioSignatureGuard)
export class WarmTransferCallbacksController {
  constructor(
    private readonly transfers: WarmTransfers,
    private readonly calls: CallControlService,
  ) {}

  @Post('whisper')
  @HttpCode(200)
  @Header('Content-Type', 'text/xml')
  whisper(@Req() req: Request): Promise<string> {
    return this.leg(req, 'whisper', '');
  }

  @Post('answer')
  @HttpCode(200)
  @Header('Content-Type', 'text/xml')
  answer(@Req() req: Request): Promise<string> {
    return this.leg(req, 'digits', field(req, 'Digits', DIGITS));
  }

  @Post('status')
  @HttpCode(204)
  async status(@Req() req: Request): Promise<void> {
    await this.leg(req, 'status', field(req, 'CallStatus', STATUS));
  }

  private async leg(req: Request, event: WarmTransferLegEvent['event'], value: string): Promise<string> {
    const callSid = query(req, CALL_PARAM, CALL_SID);
    const transfer = query(req, TRANSFER_PARAM, TRANSFER_ID);
    const here = this.transfers.legEvent(transfer, event, value);
    if (here !== null) return here;
    const { status, body } = await this.calls.execute(callSid, { action: 'warm-transfer', transfer, event, value });
    if (status === 200 && typeof body.twiml === 'string') return body.twiml;
    // Over, or its holder is gone: the on-call person is told and let go.
    return event === 'status' ? '' : goodbyeTwiml(NOT_WAITING);
  }
}
