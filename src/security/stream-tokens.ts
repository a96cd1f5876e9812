import { Injectable } from '@nestjs/common';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app-config';
import { UsedStreamTokens } from './used-stream-tokens';

/** The <Parameter> of the <Stream> that carries the token into start.customParameters. */
export const STREAM_TOKEN_PARAMETER = 'streamToken';

/** Why a stream's start was refused; also the reason the call ends with. */
export type StreamTokenRefusal = 'stream_token_missing' | 'stream_token_forged' | 'stream_token_expired' | 'stream_token_replayed';

/** Where the signing secret came from, for the boot report. */
export type StreamTokenSecretSource = 'configured' | 'twilio_auth_token' | 'random';

const TOKEN = /^(\d{1,12})\.([\w-]{16})\.([\w-]{43})$/;

const mac = (secret: Buffer, callSid: string, expiresAtSeconds: number, nonce: string): string =>
  createHmac('sha256', secret).update(`${callSid}.${expiresAtSeconds}.${nonce}`).digest('base64url');

/** `expiry.nonce.mac`: the MAC (HMAC-SHA256) binds the token to one CallSid and its expiry (epoch seconds). */
export function mintStreamToken(secret: Buffer, callSid: string, expiresAtSeconds: number, nonce = randomBytes(12).toString('base64url')): string {
  return `${expiresAtSeconds}.${nonce}.${mac(secret, callSid, expiresAtSeconds, nonce)}`;
}

/**
 * The secret that signs stream tokens: STREAM_TOKEN_SECRET, else one derived from
 * TWILIO_AUTH_TOKEN (shared by every instance that has it), else random for this process.
 */
export function streamTokenSecret(configured: string | undefined, twilioAuthToken: string | undefined): { secret: Buffer; source: StreamTokenSecretSource } {
  if (configured) return { secret: Buffer.from(configured, 'utf8'), source: 'configured' };
  if (twilioAuthToken) return { secret: createHmac('sha256', twilioAuthToken).update('call-operator stream token').digest(), source: 'twilio_auth_token' };
  return { secret: randomBytes(32), source: 'random' };
}

/**
 * Short-lived, single-use tokens that tie a media stream to the voice webhook that asked for it:
 * minted into the TwiML, checked on the stream's start, before any Realtime session is opened.
 */
@Injectable()
export class StreamTokens {
  readonly secretSource: StreamTokenSecretSource;
  private readonly secret: Buffer;
  private readonly ttlMs: number;

  constructor(
    config: AppConfig,
    private readonly clock: Clock,
    private readonly used: UsedStreamTokens,
  ) {
    ({ secret: this.secret, source: this.secretSource } = streamTokenSecret(config.security.streamTokenSecret, config.twilio.authToken));
    this.ttlMs = config.security.streamTokenTtlMs;
  }

  mint(callSid: string): string {
    return mintStreamToken(this.secret, callSid, Math.ceil((this.clock.epochMs() + this.ttlMs) / 1000));
  }

  /**
   * Null when `token` is valid for `callSid` and unused, on any instance of the fleet (it is used
   * from now on); else why not. The signature and expiry are checked here, use in UsedStreamTokens.
   */
  async redeem(callSid: string, token: string | undefined): Promise<StreamTokenRefusal | null> {
    if (!token) return 'stream_token_missing';
    const parts = TOKEN.exec(token);
    if (!parts) return 'stream_token_forged';
    const expiresAtSeconds = Number(parts[1]);
    const expected = Buffer.from(mac(this.secret, callSid, expiresAtSeconds, parts[2]), 'base64url');
    if (!timingSafeEqual(Buffer.from(parts[3], 'base64url'), expected)) return 'stream_token_forged';
    const now = this.clock.epochMs();
    const expiresAt = expiresAtSeconds * 1000;
    if (expiresAt <= now) return 'stream_token_expired';
    return (await this.used.claim(parts[2], expiresAt)) ? null : 'stream_token_replayed';
  }
}
