import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';

/** Why a new call is turned away (and given the fallback instead). */
export type Refusal = 'missing_api_key' | 'draining' | 'at_capacity';

export interface LiveCall {
  readonly callSid: string | null;
  end(reason: string): void;
  /**
   * Shutdown has reached this call: the agent says `goodbye`. Resolves once it has played at
   * Twilio, or the call has ended, whichever comes first; the call itself goes on.
   */
  sayGoodbye(): Promise<void>;
}

/** The calls this instance is carrying, and whether it takes new ones. */
@Injectable()
export class CallRegistry {
  private readonly calls = new Set<LiveCall>();
  private draining = false;
  private waiters: Array<{ done: () => boolean; resolve: () => void }> = [];

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
    if (this.waiters.length === 0) return;
    const settled = this.waiters.filter((w) => w.done());
    this.waiters = this.waiters.filter((w) => !settled.includes(w));
    for (const w of settled) w.resolve();
  }

  has(call: LiveCall): boolean {
    return this.calls.has(call);
  }

  /** The live calls, for shutdown to go through. */
  live(): LiveCall[] {
    return [...this.calls];
  }

  /** Resolves once no call is live. */
  whenEmpty(): Promise<void> {
    return this.until(() => this.calls.size === 0);
  }

  /** Resolves once `call` has ended. */
  whenGone(call: LiveCall): Promise<void> {
    return this.until(() => !this.calls.has(call));
  }

  private until(done: () => boolean): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ done, resolve }));
  }

  find(callSid: string): LiveCall | undefined {
    for (const call of this.calls) if (call.callSid === callSid) return call;
    return undefined;
  }

  /** Stop taking calls (readiness turns 503, the webhook answers with the fallback). */
  startDraining(): void {
    this.draining = true;
  }
}
