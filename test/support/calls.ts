import type { MockRealtimeConnection, MockRealtimeServer } from './mock-realtime-server';
import type { TestApp } from './test-app';
import { TwilioCaller } from './twilio-caller';

export const CALL_PARAMS = { from: '+15551230000', to: '+15557650000', direction: 'inbound' };

/** A call as Twilio starts it, up to the greeting request: the bridge is fully set up. */
export async function startCall(
  t: TestApp,
  mock: MockRealtimeServer,
  customParameters: Record<string, string> = CALL_PARAMS,
): Promise<{ caller: TwilioCaller; rt: MockRealtimeConnection }> {
  const caller = await TwilioCaller.connect(t.streamUrl, { customParameters });
  caller.sendConnected();
  caller.sendStart();
  const rt = await mock.nextConnection();
  await rt.waitFor('response.create');
  return { caller, rt };
}
