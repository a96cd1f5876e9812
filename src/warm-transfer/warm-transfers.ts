import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { Clock } from '../common/clock';
import { raceTimeout, TIMED_OUT } from '../common/race-timeout';
import { Scheduler, type ScheduledTask } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import { AppLogger } from '../logging/app-logger';
import { OnCallRotas } from '../on-call/on-call-rotas';
import { PagingStore, type Escalation } from '../on-call/paging-store';
import type { OnCallPerson } from '../on-call/rota';
import type { LiveCallControl, ToolCallContext } from '../tools/tool';
import { WarmTransferLegs } from './warm-transfer-legs';
import { WarmTransferState, type WarmTransferEvent, type WarmTransferStatus } from './warm-transfer-state';
import { conferenceTwiml, goodbyeTwiml, NOT_WAITING, transferUrl, WARM_TRANSFER_PATHS, whisperTwiml } from './warm-transfer-twiml';

/** How long the rota may take to read before the copy read last is used: a caller is waiting. */
const ROTA_READ_MS = 1_500;
/** How often a pending transfer's deadline is checked against the clock (one timer per transfer, not per frame). */
export const DEADLINE_CHECK_MS = 1_000;

/** What the call record keeps of a warm transfer (`details.warmTransfer`). */
export interface WarmTransferRecord {
  readonly to: string;
  readonly personId: string;
  readonly startedAt: string;
  status: WarmTransferStatus | 'failed';
  answeredAt?: string;
  bridgedAt?: string;
  endedAt?: string;
  error?: string;
}

interface Transfer {
  readonly id: string;
  readonly callSid: string;
  readonly person: { readonly id: string; readonly name: string };
  readonly whisper: string;
  readonly state: WarmTransferState;
  readonly call: LiveCallControl;
  readonly record: WarmTransferRecord;
  readonly save: () => void;
  legSid: string | null;
  /** Clock time (Clock.now) at which the transfer times out. */
  deadline: number;
  timer: ScheduledTask | null;
}

/** What the tool tells the model. */
export type WarmTransferStart =
  | { readonly connecting: true; readonly onCall: string; readonly instruction: string }
  | { readonly connecting: false; readonly instruction: string };

/**
 * Warm transfers in progress on this instance (the one holding the call: the leg's webhooks are
 * carried here from whichever instance Twilio reached): the on-call person is dialled and hears a whisper
 * while the caller stays with the agent; pressing 1 bridges both into a conference (and
 * acknowledges the call's emergency page); anything else, or WARM_TRANSFER_TIMEOUT_SECONDS without
 * an answer, hands the caller back to the agent to take a callback time. The decisions are
 * WarmTransferState's; this carries them out.
 */
@Injectable()
export class WarmTransfers {
  private readonly transfers = new Map<string, Transfer>();
  /** By call: the people a transfer has dialled already (a second try goes to someone else), until the call ends. */
  private readonly tried = new Map<string, Set<string>>();
  private readonly log: Logger;

  constructor(
    private readonly legs: WarmTransferLegs,
    private readonly rotas: OnCallRotas,
    private readonly paging: PagingStore,
    private readonly clock: Clock,
    private readonly scheduler: Scheduler,
    private readonly config: AppConfig,
    logger: AppLogger,
  ) {
    this.log = logger.child({ component: 'warm-transfer' });
  }

  /** Whether a transfer can be placed at all: Twilio REST and a public URL for its webhooks. */
  get available(): boolean {
    return this.legs.available && this.config.calls.publicBaseUrl !== undefined;
  }

  /** Transfers waiting for an answer or a decision. */
  get pending(): number {
    return this.transfers.size;
  }

  async start(ctx: ToolCallContext, summary: string): Promise<WarmTransferStart> {
    const publicBaseUrl = this.config.calls.publicBaseUrl;
    if (!this.legs.available || publicBaseUrl === undefined) {
      return { connecting: false, instruction: 'Connecting to the on-call person is not set up. Offer to take a callback time instead.' };
    }
    if ([...this.transfers.values()].some((t) => t.callSid === ctx.callSid)) {
      return { connecting: false, instruction: 'The caller is already being connected; wait.' };
    }
    const tried = this.tried.get(ctx.callSid);
    const person = await this.whoToDial(ctx.callSid, tried ?? new Set());
    if (person === undefined) {
      return tried
        ? { connecting: false, instruction: 'Everyone on call has been tried already. Tell the caller so, and take a callback time instead.' }
        : { connecting: false, instruction: 'Nobody is on call right now. Tell the caller so, and take a callback time instead.' };
    }
    if (!tried) {
      this.tried.set(ctx.callSid, new Set([person.id]));
      void ctx.call.whenEnded().then(() => this.tried.delete(ctx.callSid));
    } else tried.add(person.id);
    const id = randomBytes(12).toString('hex');
    const record: WarmTransferRecord = { to: person.name, personId: person.id, startedAt: this.nowIso(), status: 'dialing' };
    const save = () => ctx.setDetail('warmTransfer', { ...record });
    const transfer: Transfer = {
      id,
      callSid: ctx.callSid,
      person: { id: person.id, name: person.name },
      whisper: `${ctx.profile.companyName}: a caller is waiting to be connected to you. ${summary}`,
      state: new WarmTransferState(),
      call: ctx.call,
      record,
      save,
      legSid: null,
      deadline: this.clock.now() + this.config.onCall.warmTransferTimeoutMs,
      timer: null,
    };
    save();
    this.transfers.set(id, transfer);
    const timeoutMs = this.config.onCall.warmTransferTimeoutMs;
    // Checked against the clock, so the deadline follows the injected Clock.
    transfer.timer = this.scheduler.every(DEADLINE_CHECK_MS, () => {
      if (this.clock.now() >= transfer.deadline) this.handle(transfer, { type: 'timeout' });
    });
    try {
      transfer.legSid = await this.legs.dial({
        to: person.mobile,
        from: ctx.to,
        url: transferUrl(publicBaseUrl, WARM_TRANSFER_PATHS.whisper, ctx.callSid, id),
        statusCallback: transferUrl(publicBaseUrl, WARM_TRANSFER_PATHS.status, ctx.callSid, id),
        timeoutSeconds: Math.round(timeoutMs / 1000),
      });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.log.warn({ callSid: ctx.callSid, transfer: id, err: message }, 'warm transfer: the on-call person could not be dialled');
      transfer.timer.cancel();
      this.transfers.delete(id);
      record.status = 'failed';
      record.error = message.slice(0, 300);
      record.endedAt = this.nowIso();
      save();
      return { connecting: false, instruction: `${person.name} could not be reached right now. Tell the caller so, and take a callback time instead.` };
    }
    this.log.info({ callSid: ctx.callSid, transfer: id, person: person.id, legSid: transfer.legSid }, 'warm transfer: dialling the on-call person');
    ctx.call.hold(true);
    void ctx.call.whenEnded().then(() => this.handle(transfer, { type: 'caller_gone' }));
    return {
      connecting: true,
      onCall: person.name,
      instruction:
        `Tell the caller, in one short sentence, that you are connecting them to ${person.name} now and to stay on the line. ` +
        `Then say nothing more: if ${person.name} cannot take the call you will be told, and you will take a callback time instead.`,
    };
  }

  /**
   * Who is dialled, leaving out those a transfer of this call dialled already: the person paged for
   * the call's emergency (the latest page sent and not declined), then the rest of its escalation
   * list in order, then the people on call now. The paging record is read within ROTA_READ_MS, or
   * left aside.
   */
  private async whoToDial(callSid: string, tried: ReadonlySet<string>): Promise<OnCallPerson | undefined> {
    const escalation = raceTimeout(
      this.paging.get(callSid).catch((err: unknown) => {
        this.log.warn({ callSid, err: err instanceof Error ? err.message : String(err) }, 'warm transfer: paging record not read; using the rota');
        return null;
      }),
      ROTA_READ_MS,
      this.scheduler,
    );
    const [paged, now] = await Promise.all([escalation, this.rotas.onCallNow(ROTA_READ_MS)]);
    const record = paged === TIMED_OUT || paged === null ? null : paged;
    const page = record ? latestPage(record) : undefined;
    const candidates: OnCallPerson[] = [
      ...(page ? [{ id: page.personId, name: page.personName, mobile: page.to }] : []),
      ...(record?.people ?? []),
      ...now.people,
    ];
    return candidates.find((p) => !tried.has(p.id));
  }

  /**
   * A webhook of a transfer's on-call leg, when the transfer is on this instance (else null: it is
   * held with its call elsewhere, or over). `whisper`: the leg answered, `digits`: the key pressed
   * (empty: none), `status`: the leg's CallStatus. The TwiML to answer the leg with ('' for a status).
   */
  legEvent(id: string, event: 'whisper' | 'digits' | 'status', value: string): string | null {
    const transfer = this.transfers.get(id);
    if (!transfer) return null;
    if (event === 'status') {
      this.handle(transfer, { type: 'leg_status', status: value });
      return '';
    }
    if (event === 'whisper') {
      if (!this.handle(transfer, { type: 'whisper_requested' })) return goodbyeTwiml(NOT_WAITING);
      return whisperTwiml(this.config.calls.publicBaseUrl ?? '', transfer.callSid, id, transfer.whisper);
    }
    if (this.handle(transfer, { type: 'digits', digits: value }) === 'bridged') return conferenceTwiml(id);
    return goodbyeTwiml('Okay. The caller will be offered a call back. Goodbye.');
  }

  /** Applies an event; the new status, or null when it changed nothing. */
  private handle(transfer: Transfer, event: WarmTransferEvent): WarmTransferStatus | null {
    const before = transfer.state.status;
    const effects = transfer.state.on(event);
    if (effects === null) return null;
    const { record } = transfer;
    const at = this.nowIso();
    record.status = effects.status;
    if (effects.status === 'whispering') record.answeredAt = at;
    if (effects.status === 'bridged') record.bridgedAt = at;
    if (transfer.state.finished) {
      record.endedAt = at;
      transfer.timer?.cancel();
      transfer.timer = null;
      this.transfers.delete(transfer.id);
    } else if (effects.restartTimer) {
      transfer.deadline = this.clock.now() + this.config.onCall.warmTransferTimeoutMs;
    }
    this.log.info({ callSid: transfer.callSid, transfer: transfer.id, from: before, to: effects.status, event: event.type }, 'warm transfer');
    if (effects.status !== 'caller-gone') transfer.save();
    if (effects.endLeg && transfer.legSid !== null) {
      this.legs.end(transfer.legSid, before === 'whispering').catch((err: unknown) => this.warn(transfer, 'the on-call leg could not be ended', err));
    }
    if (effects.bridge) this.bridge(transfer);
    if (effects.backToAgent) this.backToAgent(transfer);
    return effects.status;
  }

  private bridge(transfer: Transfer): void {
    // Marked first: Twilio stops the stream as soon as the update lands.
    transfer.call.markOutcome('transferred');
    this.legs.redirect(transfer.callSid, conferenceTwiml(transfer.id)).then(
      () => {
        this.paging.acknowledge(transfer.callSid, 'transfer', this.nowIso(), transfer.person.id).then(
          (taken) => taken && this.log.info({ callSid: transfer.callSid, transfer: transfer.id }, 'warm transfer: the emergency page is acknowledged'),
          (err: unknown) => this.warn(transfer, 'the page could not be acknowledged', err),
        );
      },
      (err: unknown) => {
        this.warn(transfer, 'the caller could not be bridged', err);
        transfer.call.markOutcome(null);
        transfer.record.status = 'failed';
        transfer.record.error = 'the caller could not be moved to the conference';
        transfer.save();
        if (transfer.legSid !== null) this.legs.end(transfer.legSid, true).catch((e: unknown) => this.warn(transfer, 'the on-call leg could not be ended', e));
        this.backToAgent(transfer);
      },
    );
  }

  private backToAgent(transfer: Transfer): void {
    transfer.call.hold(false);
    const name = transfer.person.name;
    const asked = transfer.call.instruct(
      `${name} could not answer right now. Tell the caller that nobody could answer right now, apologise briefly, ` +
        `and ask when would be a good time for ${name} to call them back; note the time they give.`,
    );
    if (!asked) this.log.warn({ callSid: transfer.callSid, transfer: transfer.id }, 'warm transfer: the agent could not be asked to take a callback time');
  }

  private warn(transfer: Transfer, what: string, err: unknown): void {
    this.log.warn({ callSid: transfer.callSid, transfer: transfer.id, err: err instanceof Error ? err.message : String(err) }, `warm transfer: ${what}`);
  }

  private nowIso(): string {
    return new Date(this.clock.epochMs()).toISOString();
  }
}

/** The latest page of an escalation that went out and was not turned down. */
function latestPage(escalation: Escalation): Escalation['pages'][number] | undefined {
  return [...escalation.pages].reverse().find((p) => p.status === 'sent' && p.answer !== 'declined');
}
