import { BadRequestException, Controller, HttpCode, Inject, Post, Req, UseGuards } from '@nestjs/common';
import type { Request } from 'express';
import type { Logger } from 'pino';
import { Clock } from '../common/clock';
import { AppLogger } from '../logging/app-logger';
import { AnsweringMachines } from '../outbound/answering-machine';
import { AttemptProgress } from '../outbound/attempt-progress';
import {
  ANSWERED_BY_VALUES,
  OutboundAttempts,
  TWILIO_CALL_STATUSES,
  type AttemptRef,
  type TwilioCallStatus,
} from '../outbound/outbound-attempts';
import { TwilioSignatureGuard } from '../security/twilio-signature.guard';
import { CALL_SID } from '../twilio/twilio-protocol';
import { OUTBOUND_ATTEMPT_PARAM, OUTBOUND_REQUEST_PARAM } from '../twilio/twilio-dialer';

const REQUEST_ID = /^[\w-]{1,100}$/;
const COUNT = /^\d{1,9}$/;

/** A form parameter of the callback; undefined when absent. */
function field(req: Request, name: string): string | undefined {
  const body = (req.body ?? {}) as Record<string, unknown>;
  const value = body[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new BadRequestException(`${name} must be a single value`);
  return value;
}

function required(req: Request, name: string, valid: (value: string) => boolean): string {
  const value = field(req, name);
  if (value === undefined) throw new BadRequestException(`${name} is required`);
  if (!valid(value)) throw new BadRequestException(`${name} is not valid`);
  return value;
}

function optionalCount(req: Request, name: string): number | undefined {
  const value = field(req, name);
  if (value === undefined || value === '') return undefined;
  if (!COUNT.test(value)) throw new BadRequestException(`${name} must be a whole number`);
  return Number(value);
}

/**
 * The attempt named by the callback URL's query (the dialer puts it there; Twilio signs it with the
 * URL). Undefined when the URL names none.
 */
function linkOf(req: Request): AttemptRef | undefined {
  const requestId = req.query[OUTBOUND_REQUEST_PARAM];
  const attempt = req.query[OUTBOUND_ATTEMPT_PARAM];
  if (requestId === undefined && attempt === undefined) return undefined;
  if (typeof requestId !== 'string' || !REQUEST_ID.test(requestId) || typeof attempt !== 'string' || !/^[1-9]\d{0,3}$/.test(attempt)) {
    throw new BadRequestException(`${OUTBOUND_REQUEST_PARAM} and ${OUTBOUND_ATTEMPT_PARAM} in the URL are not valid`);
  }
  return { requestId, attempt: Number(attempt) };
}

/**
 * The callbacks of the calls the dialer places: call progress (StatusCallback) and the answering
 * machine detection result (AsyncAmdStatusCallback, acted on by AnsweringMachines). Each updates
 * the call's attempt, only forward, and tells AttemptOutcomes what an ended attempt came to
 * (through AttemptProgress).
 */
@Controller('twilio')
@UseGuards(TwilioSignatureGuard)
export class OutboundCallbacksController {
  private readonly log: Logger;

  constructor(
    private readonly attempts: OutboundAttempts,
    private readonly progress: AttemptProgress,
    private readonly machines: AnsweringMachines,
    private readonly clock: Clock,
    @Inject(AppLogger) logger: AppLogger,
  ) {
    this.log = logger.child({ component: 'outbound-callbacks' });
  }

  @Post('status')
  @HttpCode(204)
  async status(@Req() req: Request): Promise<void> {
    const callSid = required(req, 'CallSid', (v) => CALL_SID.test(v));
    const status = required(req, 'CallStatus', (v) => (TWILIO_CALL_STATUSES as readonly string[]).includes(v)) as TwilioCallStatus;
    const sequence = optionalCount(req, 'SequenceNumber');
    const durationSeconds = optionalCount(req, 'CallDuration');
    const at = this.timestamp(req);
    const link = linkOf(req);
    const state = await this.progress.statusReported({ callSid, status, at, sequence, durationSeconds, link }, 'callback');
    if (!state) this.log.warn({ callSid, status, link }, 'status callback for a call no outbound attempt has: ignored');
  }

  @Post('amd')
  @HttpCode(204)
  async amd(@Req() req: Request): Promise<void> {
    const callSid = required(req, 'CallSid', (v) => CALL_SID.test(v));
    const answeredBy = required(req, 'AnsweredBy', (v) => (ANSWERED_BY_VALUES as readonly string[]).includes(v));
    const detectionMs = optionalCount(req, 'MachineDetectionDuration');
    const link = linkOf(req);
    const state = await this.machines.answered({ callSid, answeredBy, at: new Date(this.clock.epochMs()).toISOString(), link });
    if (!state) {
      this.log.warn({ callSid, answeredBy, link }, 'AMD callback for a call no outbound attempt has: ignored');
      return;
    }
    this.log.info({ callSid, answeredBy, detectionMs, requestId: state.requestId, attempt: state.attempt, applied: state.applied }, 'outbound call answered by');
    await this.progress.outcomeKnown(state);
  }

  /** Twilio's Timestamp (RFC 1123) as ISO 8601; now when it sent none. */
  private timestamp(req: Request): string {
    const raw = field(req, 'Timestamp');
    if (raw === undefined || raw === '') return new Date(this.clock.epochMs()).toISOString();
    const ms = Date.parse(raw);
    if (raw.length > 64 || Number.isNaN(ms)) throw new BadRequestException('Timestamp is not a date');
    return new Date(ms).toISOString();
  }
}
