import { TwilioCallControl } from '../../src/twilio/twilio-call-control';

/** Twilio's REST API as a call sees it, without HTTP: records requests, fails when told, and reports each hang-up. */
export class FakeCallControl extends TwilioCallControl {
  readonly hungUp: string[] = [];
  readonly transfers: Array<{ callSid: string; to: string }> = [];
  failure: Error | null = null;
  /** Runs after a hang-up succeeds: where a test makes Twilio stop the stream, as the real API does. */
  onHangUp: (callSid: string) => void = () => undefined;

  constructor(readonly available = true) {
    super();
  }

  async transfer(callSid: string, to: string): Promise<void> {
    this.transfers.push({ callSid, to });
    if (this.failure) throw this.failure;
  }

  readonly said: Array<{ callSid: string; text: string }> = [];

  async sayAndHangUp(callSid: string, text: string): Promise<void> {
    this.said.push({ callSid, text });
    if (this.failure) throw this.failure;
    this.onHangUp(callSid);
  }

  async hangUp(callSid: string): Promise<void> {
    this.hungUp.push(callSid);
    if (this.failure) throw this.failure;
    this.onHangUp(callSid);
  }
}
