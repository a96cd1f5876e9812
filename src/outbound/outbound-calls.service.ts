import { Injectable } from '@nestjs/common';
import { isValidPhoneNumber } from 'libphonenumber-js';
import { CallLogRepository } from '../call-log/call-record';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app-config';
import { DoNotCallList } from './do-not-call';
import { OutboundDialer } from './outbound-dialer';
import type { CreateOutboundCallBody } from './outbound.dto';
import { newOutboundRequestId, OutboundRequests, type OutboundRequest } from './outbound-request';

/** Why a request is refused (422): said in the answer, so the caller of the API can fix it. */
export type OutboundRefusal = 'invalid_number' | 'do_not_call' | 'no_consent' | 'consent_in_future' | 'callback_not_from_this_number';

export type CreateOutcome =
  | { readonly kind: 'created' | 'existing'; readonly request: OutboundRequest }
  | { readonly kind: 'refused'; readonly reason: OutboundRefusal; readonly message: string };

const refused = (reason: OutboundRefusal, message: string): CreateOutcome => ({ kind: 'refused', reason, message });

/**
 * Takes outbound call requests: a number that can be called, not on the do-not-call list, and
 * recorded consent (or a callback to someone who called the business), deduplicated.
 */
@Injectable()
export class OutboundCalls {
  constructor(
    private readonly requests: OutboundRequests,
    private readonly dnc: DoNotCallList,
    private readonly calls: CallLogRepository,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly dialer: OutboundDialer,
  ) {}

  async create(body: CreateOutboundCallBody, idempotencyKey: string | null): Promise<CreateOutcome> {
    if (!isValidPhoneNumber(body.to)) return refused('invalid_number', `${body.to} is not a number that can be called.`);
    if (await this.dnc.has(body.to)) return refused('do_not_call', `${body.to} is on the do-not-call list.`);
    const now = this.clock.epochMs();
    const consentRefusal = await this.consentRefusal(body, now);
    if (consentRefusal) return consentRefusal;
    const notBefore = body.notBefore ? new Date(body.notBefore).toISOString() : null;
    const firstAttempt = notBefore && Date.parse(notBefore) > now ? notBefore : new Date(now).toISOString();
    const dedupeSince = new Date(now - this.config.outbound.dedupeWindowMs).toISOString();
    const { request, created } = await this.requests.create(
      {
        id: newOutboundRequestId(),
        to: body.to,
        purpose: body.purpose,
        consent: body.consent ? { source: body.consent.source, obtainedAt: new Date(body.consent.obtainedAt).toISOString() } : null,
        callbackOf: body.callbackOf ?? null,
        timezone: body.timezone ?? null,
        notBefore,
        metadata: body.metadata ?? {},
        idempotencyKey,
      },
      firstAttempt,
      dedupeSince,
    );
    if (created) await this.dialer.enqueue(request);
    return { kind: created ? 'created' : 'existing', request };
  }

  /**
   * Consent recorded before now; or, without it, a callback of an inbound call that came from
   * this very number (the callee called the business and is being called back).
   */
  private async consentRefusal(body: CreateOutboundCallBody, now: number): Promise<CreateOutcome | null> {
    if (body.consent) {
      return Date.parse(body.consent.obtainedAt) > now ? refused('consent_in_future', 'consent.obtainedAt is in the future.') : null;
    }
    if (!body.callbackOf) {
      return refused('no_consent', 'No recorded consent: give consent {source, obtainedAt}, or callbackOf for a call this number made to the business.');
    }
    const inbound = await this.calls.get(body.callbackOf);
    if (inbound?.direction !== 'inbound' || inbound.from !== body.to) {
      return refused('callback_not_from_this_number', `callbackOf is not an inbound call from ${body.to}: a callback needs the caller's own call.`);
    }
    return null;
  }
}
