import { Injectable } from '@nestjs/common';
import { parsePhoneNumberFromString } from 'libphonenumber-js';
import type { Logger } from 'pino';
import { AppConfig } from '../config/app-config';
import { AppLogger } from '../logging/app-logger';
import { CallProfileResolver } from '../profile/call-profile.resolver';
import { TwilioCallControl } from '../twilio/twilio-call-control';
import { machineAction, OutboundAttempts, type AttemptRef, type AttemptState, type MachineAction } from './outbound-attempts';

/**
 * A phone number as text-to-speech should read it: digit by digit, in the groups the country
 * writes it in ("2 1 2, 5 5 5, 0 1 2 3"), so that it is not read as "two hundred twelve".
 */
export function spokenNumber(e164: string): string {
  const national = parsePhoneNumberFromString(e164)?.formatNational();
  const groups = national ? (national.match(/\d+/g) ?? []) : (e164.replace(/\D/g, '').match(/\d{1,3}/g) ?? []);
  return groups.map((group) => group.split('').join(' ')).join(', ');
}

/** OUTBOUND_VOICEMAIL_MESSAGE with its placeholders filled in. */
export function voicemailText(template: string, values: { company: string; callbackNumber: string }): string {
  return template.replaceAll('{company}', values.company).replaceAll('{callback_number}', spokenNumber(values.callbackNumber));
}

export interface AmdAnswer {
  readonly callSid: string;
  /** Twilio's AnsweredBy. */
  readonly answeredBy: string;
  /** When it was received (ISO 8601). */
  readonly at: string;
  readonly link?: AttemptRef;
}

/**
 * What an outbound call does once answering-machine detection has answered: after a machine's
 * greeting it leaves the voicemail message (business, callback number, how to opt out) and hangs
 * up, or only hangs up (OUTBOUND_VOICEMAIL); a fax is hung up on; a human, or an answer AMD could
 * not tell, stays with the agent. The action is recorded with the answer before Twilio is asked, so
 * the attempt's outcome is right whichever of the AMD and final status callbacks comes first; a
 * refusal (the call had ended already) is recorded too, and the outcome becomes `machine`.
 */
@Injectable()
export class AnsweringMachines {
  private readonly log: Logger;

  constructor(
    private readonly attempts: OutboundAttempts,
    private readonly control: TwilioCallControl,
    private readonly profiles: CallProfileResolver,
    private readonly config: AppConfig,
    logger: AppLogger,
  ) {
    this.log = logger.child({ component: 'outbound' });
  }

  /** Records the answer and acts on it; the attempt as it then is, undefined when no attempt has this call. */
  async answered(answer: AmdAnswer): Promise<AttemptState | undefined> {
    const action = machineAction(answer.answeredBy, this.config.outbound.voicemail.action);
    const state = await this.attempts.answeredBy(answer.callSid, answer.answeredBy, answer.at, answer.link, action ?? undefined);
    // A repeated callback finds the answer recorded and the action taken already.
    if (!state?.applied || action === null) return state;
    const { callSid } = answer;
    try {
      if (action === 'message') await this.control.sayAndHangUp(callSid, this.message());
      else await this.control.hangUp(callSid);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.log.warn({ callSid, requestId: state.requestId, attempt: state.attempt, action, err: reason }, 'answering machine: action refused by Twilio');
      return (await this.attempts.machineActionFailed(callSid, reason)) ?? state;
    }
    this.log.info({ callSid, requestId: state.requestId, attempt: state.attempt, answeredBy: answer.answeredBy, action }, describe(action));
    return state;
  }

  private message(): string {
    const callerId = this.config.outbound.callerId ?? '';
    return voicemailText(this.config.outbound.voicemail.message, {
      company: this.profiles.resolve(callerId).companyName,
      callbackNumber: callerId,
    });
  }
}

function describe(action: MachineAction): string {
  return action === 'message' ? 'answering machine: leaving the voicemail message' : 'answering machine: hung up';
}
