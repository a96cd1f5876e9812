import { BadRequestException, Controller, Header, HttpCode, Inject, Post, Req, ServiceUnavailableException, UseGuards } from '@nestjs/common';
import type { Request } from 'express';
import type { Logger } from 'pino';
import twilio from 'twilio';
import { AppLogger } from '../logging/app-logger';
import { OnCallPager } from '../on-call/on-call-pager';
import { OnCallReplies, type InboundSms } from '../on-call/on-call-replies';
import type { PageDelivery } from '../on-call/paging-store';
import { TwilioSignatureGuard } from '../security/twilio-signature.guard';
import { CallerReplies } from '../sms/caller-replies';

const E164 = /^\+[1-9]\d{6,14}$/;
const MESSAGE_SID = /^(SM|MM)[0-9a-fA-F]{32}$/;

function field(req: Request, name: string): string {
  const value = ((req.body ?? {}) as Record<string, unknown>)[name];
  if (typeof value !== 'string') throw new BadRequestException(`${name} is required`);
  return value;
}

/** The inbound message webhook's form, checked. */
function readSms(req: Request): InboundSms {
  const sms = { from: field(req, 'From'), to: field(req, 'To'), body: field(req, 'Body'), messageSid: field(req, 'MessageSid') };
  if (!E164.test(sms.from)) throw new BadRequestException('From is not an E.164 number');
  if (!MESSAGE_SID.test(sms.messageSid)) throw new BadRequestException('MessageSid is not a message SID');
  if (sms.body.length > 1600) throw new BadRequestException('Body is too long');
  return sms;
}

const FINAL_DELIVERY: ReadonlySet<string> = new Set<PageDelivery>(['delivered', 'undelivered', 'failed']);

/** A message status callback's form, checked: its final delivery state, or null for a state on the way (queued, sent…). */
function readDelivery(req: Request): { messageSid: string; delivery: PageDelivery; errorCode: number | null } | null {
  const messageSid = field(req, 'MessageSid');
  if (!MESSAGE_SID.test(messageSid)) throw new BadRequestException('MessageSid is not a message SID');
  const status = field(req, 'MessageStatus');
  if (!/^[a-z_-]{1,20}$/.test(status)) throw new BadRequestException('MessageStatus is not a message status');
  if (!FINAL_DELIVERY.has(status)) return null;
  const code = ((req.body ?? {}) as Record<string, unknown>).ErrorCode;
  const errorCode = typeof code === 'string' && /^\d{1,6}$/.test(code) ? Number(code) : null;
  return { messageSid, delivery: status as PageDelivery, errorCode };
}

/** TwiML that texts `text` back, or says nothing. */
function messagingResponse(text: string | null): string {
  const response = new twilio.twiml.MessagingResponse();
  if (text !== null) response.message(text);
  return response.toString();
}

/**
 * Twilio's "A message comes in" webhook for the service's numbers. Messages are routed by sender:
 * on-call staff replying to a page (YES, NO) go to the on-call side first (their YES is an answer,
 * not an opt-in); everyone else goes to CallerReplies: STOP and the other opt-out keywords, START,
 * HELP. Anything else is logged (without its text) and answered with an empty response. Also the
 * status callback of the pages sent (their delivery).
 */
@Controller('twilio')
@UseGuards(TwilioSignatureGuard)
export class InboundSmsController {
  private readonly log: Logger;

  constructor(
    private readonly onCall: OnCallReplies,
    private readonly callers: CallerReplies,
    private readonly pager: OnCallPager,
    @Inject(AppLogger) logger: AppLogger,
  ) {
    this.log = logger.child({ component: 'inbound-sms' });
  }

  @Post('sms')
  @HttpCode(200)
  @Header('Content-Type', 'text/xml')
  async sms(@Req() req: Request): Promise<string> {
    const sms = readSms(req);
    return messagingResponse(await this.route(sms));
  }

  /**
   * Twilio's message status callback: the delivery of a page (a page not delivered moves on to the
   * next person at once). Other messages and states on the way are acknowledged and ignored.
   */
  @Post('sms/status')
  @HttpCode(204)
  async status(@Req() req: Request): Promise<void> {
    const report = readDelivery(req);
    if (report === null) return;
    try {
      await this.pager.delivery(report.messageSid, report.delivery, report.errorCode);
    } catch (err) {
      this.log.error({ messageSid: report.messageSid, err: err instanceof Error ? err.message : String(err) }, 'message status not recorded');
      throw new ServiceUnavailableException('The delivery report could not be recorded');
    }
  }

  /** The reply to text back, or null for none. */
  private async route(sms: InboundSms): Promise<string | null> {
    try {
      if (await this.onCall.isStaff(sms.from)) return await this.onCall.reply(sms);
    } catch (err) {
      // The database is down: the answer cannot be kept. Better to ask again than to lose it silently.
      this.log.error({ messageSid: sms.messageSid, err: err instanceof Error ? err.message : String(err) }, 'inbound SMS from staff not handled');
      return 'Sorry, your answer could not be recorded. Please reply again in a minute.';
    }
    try {
      return await this.callers.reply(sms);
    } catch (err) {
      // An opt-out that cannot be kept must not look kept: Twilio retries nothing, so ask again.
      this.log.error({ messageSid: sms.messageSid, err: err instanceof Error ? err.message : String(err) }, 'inbound SMS from a caller not handled');
      return 'Sorry, your message could not be processed. Please send it again in a minute.';
    }
  }
}
