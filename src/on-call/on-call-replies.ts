import { Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { Clock } from '../common/clock';
import { AppLogger } from '../logging/app-logger';
import { OnCallPager } from './on-call-pager';
import { OnCallRotas } from './on-call-rotas';
import type { PageAnswer } from './paging-policy';
import { PagingStore } from './paging-store';

/** An inbound SMS as Twilio's messaging webhook posts it. */
export interface InboundSms {
  /** E.164. */
  readonly from: string;
  readonly to: string;
  readonly body: string;
  readonly messageSid: string;
}

const ACCEPT = new Set(['YES', 'Y', 'OK', 'OKAY']);
const DECLINE = new Set(['NO', 'N']);

/** YES / NO (case, spaces and closing punctuation aside); null for anything else. */
export function readAnswer(body: string): PageAnswer | null {
  const word = body.trim().replace(/[.!\s]+$/, '').toUpperCase();
  if (ACCEPT.has(word)) return 'accepted';
  if (DECLINE.has(word)) return 'declined';
  return null;
}

/**
 * Replies of on-call staff to their pages. YES (Y, OK) takes the latest page sent to that number
 * that nobody has answered: the emergency is theirs, and paging stops. NO (N) passes it on: the next
 * person is paged at once. Anything else gets a reminder of the two words. Every answer is kept on
 * the page it answers.
 */
@Injectable()
export class OnCallReplies {
  private readonly log: Logger;

  constructor(
    private readonly store: PagingStore,
    private readonly rotas: OnCallRotas,
    private readonly pager: OnCallPager,
    private readonly clock: Clock,
    logger: AppLogger,
  ) {
    this.log = logger.child({ component: 'on-call' });
  }

  /** Whether `number` is on-call staff: on the rota in force, or paged at some time. */
  async isStaff(number: string): Promise<boolean> {
    if ((await this.rotas.current()).rota.people.some((p) => p.mobile === number)) return true;
    return this.store.wasPaged(number);
  }

  /** Handles a reply from staff; returns the text to answer with. */
  async reply(sms: InboundSms): Promise<string> {
    const answer = readAnswer(sms.body);
    if (answer === null) {
      this.log.info({ messageSid: sms.messageSid }, 'on-call reply not understood');
      return 'Reply YES to take the emergency you were paged about, or NO to pass it on.';
    }
    const at = new Date(this.clock.epochMs()).toISOString();
    const page = await this.store.answer(sms.from, answer, at, sms.messageSid);
    if (!page) {
      this.log.info({ messageSid: sms.messageSid, answer }, 'on-call reply with no page waiting for it');
      return 'No emergency is waiting for your answer.';
    }
    const log = this.log.child({ callSid: page.callSid });
    const caller = page.facts.callerName ?? 'the caller';
    const callback = page.facts.callbackNumber ?? page.facts.callerNumber;
    if (answer === 'accepted') {
      log.info({ step: page.step, person: page.personId, messageSid: sms.messageSid, late: !page.wasPaging }, 'emergency taken: paging stopped');
      return `Thanks ${page.personName}, it is yours: please call ${caller} back on ${callback} now.`;
    }
    log.info({ step: page.step, person: page.personId, messageSid: sms.messageSid }, 'emergency page declined: paging the next person');
    if (page.wasPaging) await this.pager.moveOn(page.callSid, page.step + 1);
    return 'Thanks, it goes to the next person on call.';
  }
}
