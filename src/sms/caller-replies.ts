import { Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app-config';
import { AppLogger } from '../logging/app-logger';
import type { InboundSms } from '../on-call/on-call-replies';
import { helpText, parseKeyword } from './confirmation-message';
import { SmsOptOuts } from './sms-opt-outs';

/**
 * Texts from callers (anyone not on call): STOP and the other opt-out keywords put the number on
 * the opt-out list, START (YES, UNSTOP) takes it off, HELP (INFO) is answered with who we are and
 * how to reach us. Anything else is not handled. Twilio confirms STOP and START itself, so those
 * get no reply of ours.
 */
@Injectable()
export class CallerReplies {
  private readonly log: Logger;
  private readonly company: string;

  constructor(
    private readonly optOuts: SmsOptOuts,
    private readonly clock: Clock,
    config: AppConfig,
    logger: AppLogger,
  ) {
    this.log = logger.child({ component: 'sms-replies' });
    this.company = config.operator.companyName;
  }

  /** The text to send back, or null; rejects when the database cannot take an opt-out or opt-in. */
  async reply(sms: InboundSms): Promise<string | null> {
    const keyword = parseKeyword(sms.body);
    if (!keyword) {
      this.log.info({ messageSid: sms.messageSid }, 'inbound SMS from a caller that is no keyword: ignored');
      return null;
    }
    switch (keyword.kind) {
      case 'opt-out':
        await this.optOuts.add(sms.from, keyword.keyword, new Date(this.clock.epochMs()).toISOString());
        this.log.info({ messageSid: sms.messageSid, keyword: keyword.keyword }, 'number opted out of texts');
        return null;
      case 'opt-in': {
        const was = await this.optOuts.remove(sms.from);
        this.log.info({ messageSid: sms.messageSid, keyword: keyword.keyword, wasOptedOut: was }, 'number opted back in to texts');
        return null;
      }
      case 'help':
        this.log.info({ messageSid: sms.messageSid }, 'HELP answered');
        return helpText(this.company, sms.to);
    }
  }
}
