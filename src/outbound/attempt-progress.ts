import { Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { AppLogger } from '../logging/app-logger';
import { AttemptOutcomes, OutboundAttempts, type AttemptOutcome, type AttemptState, type StatusReport } from './outbound-attempts';

/** Where a call status came from: Twilio's status callback, or Twilio's record of the call read back by the reconciler. */
export type StatusSource = 'callback' | 'lookup';

/**
 * What a call status does to its attempt, wherever it was learnt: the attempt moves forward only
 * (OutboundAttempts), and AttemptOutcomes hears of an outcome that is new or changed. The status
 * callback and the reconciler (for a call whose final callback never arrived) both go through here.
 */
@Injectable()
export class AttemptProgress {
  private readonly log: Logger;

  constructor(
    private readonly attempts: OutboundAttempts,
    private readonly outcomes: AttemptOutcomes,
    logger: AppLogger,
  ) {
    this.log = logger.child({ component: 'outbound-progress' });
  }

  /** Applies the status to its call's attempt; undefined when no attempt has the call. */
  async statusReported(report: StatusReport, source: StatusSource): Promise<AttemptState | undefined> {
    const state = await this.attempts.statusReported(report);
    if (!state) return undefined;
    const { callSid, status, sequence } = report;
    this.log.info({ callSid, status, sequence, source, requestId: state.requestId, attempt: state.attempt, applied: state.applied }, 'outbound call status');
    await this.outcomeKnown(state);
    return state;
  }

  /** Tells AttemptOutcomes of a new or changed outcome; its failure is logged, the attempt row keeps the outcome. */
  async outcomeKnown(state: AttemptState): Promise<void> {
    if (!state.outcomeChanged || state.outcome === null) return;
    this.log.info({ callSid: state.callSid, requestId: state.requestId, attempt: state.attempt, outcome: state.outcome }, 'outbound attempt ended');
    await this.tell(state.requestId, state.attempt, state.outcome);
  }

  /** Tells AttemptOutcomes again of an outcome it failed to take (the reconciler found the request still dialing). */
  async outcomeNotTaken(requestId: string, attempt: number, outcome: AttemptOutcome): Promise<void> {
    this.log.warn({ requestId, attempt, outcome }, 'outbound attempt outcome taken again: its request was still dialing');
    await this.tell(requestId, attempt, outcome);
  }

  private async tell(requestId: string, attempt: number, outcome: AttemptOutcome): Promise<void> {
    try {
      await this.outcomes.attemptEnded(requestId, attempt, outcome);
    } catch (error) {
      this.log.error({ requestId, attempt, outcome, err: error instanceof Error ? error.message : String(error) }, 'attempt outcome not taken');
    }
  }
}
