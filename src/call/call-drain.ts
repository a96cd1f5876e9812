import { Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { raceTimeout, TIMED_OUT } from '../common/race-timeout';
import { AppConfig } from '../config/app-config';
import { AppLogger } from '../logging/app-logger';
import { TwilioCallControl } from '../twilio/twilio-call-control';
import { CallRegistry, type LiveCall } from './call-registry';

/** Longest wait for a goodbye to be said and played: a sentence, with room for a slow start. */
export const GOODBYE_MAX_MS = 10_000;
/** Longest wait for Twilio to stop the stream of a call hung up over REST. */
export const HANGUP_MAX_MS = 5_000;

/**
 * The calls' part of a graceful shutdown. New calls are refused at once; calls in progress go on
 * for up to DRAIN_TIMEOUT_SECONDS and, if still going then, end politely: the agent says goodbye,
 * and once that has played the call is hung up (over Twilio's REST API when credentials are
 * configured, else by closing the stream, which lets Twilio run the fallback TwiML).
 * A drain timeout of 0 ends every call at once, without a goodbye.
 */
@Injectable()
export class CallDrain {
  private readonly log: Logger;

  constructor(
    private readonly registry: CallRegistry,
    private readonly config: AppConfig,
    private readonly control: TwilioCallControl,
    logger: AppLogger,
  ) {
    this.log = logger.child({ component: 'drain' });
  }

  /** Resolves once every call has ended. */
  async run(): Promise<void> {
    this.registry.startDraining();
    const { drainTimeoutMs } = this.config.calls;
    this.log.info({ activeCalls: this.registry.activeCalls, drainTimeoutMs }, 'draining: no new calls');
    if (drainTimeoutMs === 0) {
      for (const call of this.registry.live()) call.end('shutdown');
      return;
    }
    if ((await raceTimeout(this.registry.whenEmpty(), drainTimeoutMs)) !== TIMED_OUT) {
      this.log.info('drained: every call has ended');
      return;
    }
    const calls = this.registry.live();
    this.log.info({ activeCalls: calls.length }, 'drain timeout: ending the remaining calls with a goodbye');
    await Promise.all(calls.map((call) => this.endWithGoodbye(call)));
  }

  private async endWithGoodbye(call: LiveCall): Promise<void> {
    await raceTimeout(call.sayGoodbye(), GOODBYE_MAX_MS);
    const { callSid } = call;
    if (callSid && this.control.available && this.registry.has(call)) {
      try {
        await this.control.hangUp(callSid);
        // Twilio's stop frame ends the call; the bound covers a stop that never comes.
        await raceTimeout(this.registry.whenGone(call), HANGUP_MAX_MS);
      } catch (err) {
        this.log.warn({ callSid, err: err instanceof Error ? err.message : String(err) }, 'hang-up failed: closing the stream');
      }
    }
    if (this.registry.has(call)) call.end('shutdown');
  }
}
