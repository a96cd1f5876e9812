import { Injectable } from '@nestjs/common';
import twilio from 'twilio';
import { fallbackApology, type CallProfile } from '../profile/call-profile';

type VoiceResponse = InstanceType<typeof twilio.twiml.VoiceResponse>;

/** The call details passed to the media stream as <Parameter>s (they arrive in start.customParameters). */
export interface StreamParameters {
  readonly callSid: string;
  readonly from: string;
  readonly to: string;
  readonly direction: string;
  /** Proves to the stream's start that this webhook asked for it (StreamTokens). */
  readonly streamToken: string;
  /** On a call the business placed: its outbound request, and what it is about. */
  readonly outboundRequest?: string;
  readonly purpose?: string;
}

export const STREAM_PATH = '/twilio/stream';

const HOST = /^[A-Za-z0-9.-]{1,253}(:\d{1,5})?$/;

/**
 * The wss:// URL of the media stream. PUBLIC_BASE_URL wins (it is what Twilio reaches); else
 * the first X-Forwarded-Host or the Host header, if it looks like a host name. Null when
 * neither can be trusted.
 */
export function streamUrl(publicBaseUrl: string | undefined, headers: Record<string, string | string[] | undefined>): string | null {
  if (publicBaseUrl) {
    const base = new URL(publicBaseUrl);
    const scheme = base.protocol === 'http:' ? 'ws:' : 'wss:';
    return `${scheme}//${base.host}${base.pathname.replace(/\/+$/, '')}${STREAM_PATH}`;
  }
  const host = requestHost(headers);
  return host ? `wss://${host}${STREAM_PATH}` : null;
}

/** The first X-Forwarded-Host, else Host, if it looks like a host name; else null. */
export function requestHost(headers: Record<string, string | string[] | undefined>): string | null {
  const host = firstHeaderValue(headers['x-forwarded-host']) || firstHeaderValue(headers.host);
  return host && HOST.test(host) ? host : null;
}

/** The first value of a header that may be repeated or comma-separated (as proxies append). */
export function firstHeaderValue(v: string | string[] | undefined): string | undefined {
  return (Array.isArray(v) ? v[0] : v)?.split(',')[0]?.trim();
}

/** Builds the TwiML the voice webhook answers with, using the twilio package. */
@Injectable()
export class TwimlBuilder {
  /**
   * Connects the call to our media stream. The fallback follows </Connect>: Twilio runs it only
   * if we close the stream (the agent failed), never after the caller hangs up.
   */
  connect(url: string, params: StreamParameters, profile: CallProfile): string {
    const response = new twilio.twiml.VoiceResponse();
    const stream = response.connect().stream({ url });
    for (const name of ['callSid', 'from', 'to', 'direction', 'streamToken', 'outboundRequest', 'purpose'] as const) {
      if (params[name]) stream.parameter({ name, value: params[name] });
    }
    this.appendFallback(response, profile);
    return response.toString();
  }

  /** Ends the call at once: an outbound call whose request is unknown. */
  hangup(): string {
    const response = new twilio.twiml.VoiceResponse();
    response.hangup();
    return response.toString();
  }

  /** The call is not taken by the agent: dial the fallback number, or apologise and hang up. */
  fallback(profile: CallProfile): string {
    const response = new twilio.twiml.VoiceResponse();
    this.appendFallback(response, profile);
    return response.toString();
  }

  private appendFallback(response: VoiceResponse, profile: CallProfile): void {
    if (profile.fallbackNumber) {
      response.dial(profile.fallbackNumber);
      return;
    }
    response.say(fallbackApology(profile));
    response.hangup();
  }
}
