import { Controller, Get, Header, HttpCode, Inject, Post, Req, UseGuards } from '@nestjs/common';
import type { Request } from 'express';
import type { Logger } from 'pino';
import { CallLog } from '../call-log/call-log.service';
import { CallRegistry } from '../call/call-registry';
import { raceTimeout, TIMED_OUT } from '../common/race-timeout';
import { Scheduler } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import { AppLogger } from '../logging/app-logger';
import { OutboundRequests } from '../outbound/outbound-request';
import { forOutboundCall, type CallProfile } from '../profile/call-profile';
import { CallProfileResolver } from '../profile/call-profile.resolver';
import { StreamTokens } from '../security/stream-tokens';
import { TwilioSignatureGuard } from '../security/twilio-signature.guard';
import { SessionStore } from '../session/session-store';
import { CALL_SID } from '../twilio/twilio-protocol';
import { streamUrl, TwimlBuilder } from '../twilio/twiml.builder';

const PARAM = /^[\w+:@.\- ]{0,64}$/;

/** The longest the webhook waits for the fleet's call count; Twilio waits 15 s for the whole answer. */
export const FLEET_COUNT_TIMEOUT_MS = 500;

/** Reads one Twilio webhook parameter, from the form body (POST) or the query (GET). */
function param(req: Request, name: string): string {
  const body = (req.body ?? {}) as Record<string, unknown>;
  const value = body[name] ?? req.query[name];
  return typeof value === 'string' && PARAM.test(value) ? value : '';
}

/** Twilio's "A call comes in" webhook. */
@Controller('twilio')
@UseGuards(TwilioSignatureGuard)
export class VoiceController {
  private readonly log: Logger;

  constructor(
    private readonly twiml: TwimlBuilder,
    private readonly registry: CallRegistry,
    private readonly config: AppConfig,
    private readonly callLog: CallLog,
    private readonly streamTokens: StreamTokens,
    private readonly profiles: CallProfileResolver,
    private readonly sessions: SessionStore,
    private readonly scheduler: Scheduler,
    private readonly outboundRequests: OutboundRequests,
    @Inject(AppLogger) logger: AppLogger,
  ) {
    this.log = logger.child({ component: 'voice-webhook' });
  }

  @Post('voice')
  @HttpCode(200)
  @Header('Content-Type', 'text/xml')
  voicePost(@Req() req: Request): Promise<string> {
    return this.answer(req);
  }

  @Get('voice')
  @Header('Content-Type', 'text/xml')
  voiceGet(@Req() req: Request): Promise<string> {
    return this.answer(req);
  }

  private async answer(req: Request): Promise<string> {
    const raw = param(req, 'CallSid');
    const callSid = CALL_SID.test(raw) ? raw : '';
    const from = param(req, 'From');
    const to = param(req, 'To');
    const direction = param(req, 'Direction') || 'inbound';
    if (direction.startsWith('outbound')) return this.answerOutbound(req, callSid, from, to, direction);
    const profile = this.profiles.resolve(to);
    const refusal = this.registry.refusal() ?? (await this.fleetRefusal(callSid));
    if (refusal) {
      this.log.warn({ callSid, refusal }, 'call not taken by the agent: answering with the fallback');
      return this.fallback(profile, callSid, from, to, direction, refusal);
    }
    const url = streamUrl(this.config.calls.publicBaseUrl, req.headers);
    if (!url) {
      this.log.error({ callSid }, 'no usable host for the stream URL (set PUBLIC_BASE_URL): answering with the fallback');
      return this.fallback(profile, callSid, from, to, direction, 'no_stream_host');
    }
    // Without a real Call SID there is no token: the stream it opens would be refused anyway.
    const streamToken = callSid ? this.streamTokens.mint(callSid) : '';
    return this.twiml.connect(url, { callSid, from, to, direction, streamToken }, profile);
  }

  /**
   * A call the dialer placed has been answered: the agent takes it with the request's purpose.
   * The business's line is `from` here. A call whose request is unknown, or for another number, is
   * hung up: nothing is said on behalf of a request nobody made.
   */
  private async answerOutbound(req: Request, callSid: string, from: string, to: string, direction: string): Promise<string> {
    const requestId = param(req, 'outboundRequest');
    const request = requestId ? await this.outboundRequests.get(requestId) : undefined;
    if (!request || request.to !== to) {
      this.log.warn({ callSid, outboundRequest: requestId || null }, 'outbound call with no matching request: hanging up');
      return this.twiml.hangup();
    }
    const profile = forOutboundCall(this.profiles.resolve(from), { requestId: request.id, purpose: request.purpose });
    const url = streamUrl(this.config.calls.publicBaseUrl, req.headers);
    const refusal = this.registry.refusal();
    if (refusal || !url) {
      this.log.warn({ callSid, refusal: refusal ?? 'no_stream_host' }, 'outbound call not taken by the agent: apologising');
      return this.twiml.fallback(profile);
    }
    const streamToken = callSid ? this.streamTokens.mint(callSid) : '';
    return this.twiml.connect(url, { callSid, from, to, direction, streamToken, outboundRequest: request.id, purpose: request.purpose }, profile);
  }

  /** 'fleet_at_capacity' when MAX_FLEET_CALLS calls are live across the fleet; not applied when they cannot be counted. */
  private async fleetRefusal(callSid: string): Promise<'fleet_at_capacity' | null> {
    const max = this.config.fleet.maxCalls;
    if (max === undefined) return null;
    const live = await raceTimeout(
      this.sessions.count().catch((err: Error) => err),
      FLEET_COUNT_TIMEOUT_MS,
      this.scheduler,
    );
    if (live === TIMED_OUT || live instanceof Error) {
      this.log.warn({ callSid, err: live === TIMED_OUT ? 'timed out' : live.message }, 'fleet call count unavailable: MAX_FLEET_CALLS not applied to this call');
      return null;
    }
    return live >= max ? 'fleet_at_capacity' : null;
  }

  private fallback(profile: CallProfile, callSid: string, from: string, to: string, direction: string, reason: string): string {
    // Only a real Call SID gets a record: anything else is not a call Twilio placed.
    if (callSid) {
      this.callLog.fallback({ callSid, from, to, direction: direction.startsWith('outbound') ? 'outbound' : 'inbound', profile: profile.id }, reason);
    }
    return this.twiml.fallback(profile);
  }
}
