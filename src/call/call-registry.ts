import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';

/** Why a new call is turned away (and given the fallback instead). */
export type Refusal = 'missing_api_key' | 'draining' | 'at_capacity';

export interface LiveCall {
  readonly callSid: string | null;
  end(reason: string): void;
}

/** The calls this instance is carrying, and whether it takes new ones. */
@Injectable()
export class CallRegistry {
  private readonly calls = new Set<LiveCall>();
  private draining = false;

  constructor(private readonly config: AppConfig) {}

  get activeCalls(): number {
    return this.calls.size;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Why a new call cannot be taken now, or null when it can. */
  refusal(): Refusal | null {
    if (!this.config.openai.apiKey) return 'missing_api_key';
    if (this.draining) return 'draining';
    if (this.calls.size >= this.config.calls.maxConcurrent) return 'at_capacity';
    return null;
  }

  add(call: LiveCall): void {
    this.calls.add(call);
  }

  remove(call: LiveCall): void {
    this.calls.delete(call);
  }

  find(callSid: string): LiveCall | undefined {
    for (const call of this.calls) if (call.callSid === callSid) return call;
    return undefined;
  }

  /** Stop taking calls (readiness turns 503, the webhook answers with the fallback). */
  startDraining(): void {
    this.draining = true;
  }

  endAll(reason: string): void {
    for (const call of [...this.calls]) call.end(reason);
  }
}
