import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import type { CallProfile } from './call-profile';

/**
 * Picks the profile that answers a call from the number that was called. Synchronous on purpose:
 * the call is built on Twilio's start frame, with caller audio already arriving, so a resolver
 * that reads a database keeps its profiles in memory and refreshes them on its own time.
 */
export abstract class CallProfileResolver {
  /** `to`: the called number as Twilio gave it (E.164), or '' when unknown. */
  abstract resolve(to: string): CallProfile;
}

/** One business, configured by the environment and the prompt file: every number gets its profile. */
@Injectable()
export class EnvironmentProfileResolver extends CallProfileResolver {
  private readonly profile: CallProfile;

  constructor(config: AppConfig) {
    super();
    const { operator } = config;
    this.profile = Object.freeze({
      id: 'default',
      companyName: operator.companyName,
      instructions: operator.instructions,
      greeting: operator.greeting,
      voice: operator.voice,
      transferNumber: operator.transferNumber,
      fallbackNumber: operator.fallbackNumber,
      shutdownGoodbye: operator.shutdownGoodbye,
      reconnectInstruction: operator.reconnectInstruction,
      silencePrompt: operator.silencePrompt,
      silenceGoodbye: operator.silenceGoodbye,
      crm: config.hubspot.enabled,
    });
  }

  resolve(_to: string): CallProfile {
    return this.profile;
  }
}
