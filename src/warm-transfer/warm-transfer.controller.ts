import { BadRequestException, Controller, Header, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import type { Request } from 'express';
import { TwilioSignatureGuard } from '../security/twilio-signature.guard';
import { TRANSFER_PARAM } from './warm-transfer-twiml';
import { WarmTransfers } from './warm-transfers';

const TRANSFER_ID = /^[0-9a-f]{24}$/;
const DIGITS = /^[0-9*#]{0,10}$/;
const STATUS = /^[a-z-]{1,20}$/;

function transferOf(req: Request): string {
  const id = req.query[TRANSFER_PARAM];
  if (typeof id !== 'string' || !TRANSFER_ID.test(id)) throw new BadRequestException(`${TRANSFER_PARAM} in the URL is not valid`);
  return id;
}

function field(req: Request, name: string, valid: RegExp): string {
  const value = ((req.body ?? {}) as Record<string, unknown>)[name] ?? '';
  if (typeof value !== 'string' || !valid.test(value)) throw new BadRequestException(`${name} is not valid`);
  return value;
}

/** The on-call leg's webhooks (signed by Twilio): whisper on answer, the key pressed, its status. */
@Controller('twilio/warm-transfer')
@UseGuards(TwilioSignatureGuard)
export class WarmTransferController {
  constructor(private readonly transfers: WarmTransfers) {}

  @Post('whisper')
  @HttpCode(200)
  @Header('Content-Type', 'text/xml')
  whisper(@Req() req: Request): string {
    return this.transfers.whisperAnswered(transferOf(req));
  }

  @Post('answer')
  @HttpCode(200)
  @Header('Content-Type', 'text/xml')
  answer(@Req() req: Request): string {
    return this.transfers.keyPressed(transferOf(req), field(req, 'Digits', DIGITS));
  }

  @Post('status')
  @HttpCode(204)
  status(@Req() req: Request): void {
    this.transfers.legStatus(transferOf(req), field(req, 'CallStatus', STATUS));
  }
}
