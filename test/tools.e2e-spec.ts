import { CallLogWriter } from '../src/call-log/call-log-writer';
import { CallLogRepository } from '../src/call-log/call-record';
import { ToolRegistry } from '../src/tools/tool-registry';
import { MockRealtimeServer, type MockRealtimeConnection } from './support/mock-realtime-server';
import { startApp, TEST_API_KEY, type TestApp } from './support/test-app';
import { startCall } from './support/calls';

describe('tool calls through the bridge', () => {
  let mock: MockRealtimeServer;
  let t: TestApp;

  beforeAll(async () => {
    mock = await MockRealtimeServer.start();
    t = await startApp({ OPENAI_API_KEY: TEST_API_KEY, OPENAI_REALTIME_URL: mock.url });
    t.app.get(ToolRegistry).register({
      name: 'slow_lookup',
      description: 'Never answers in time.',
      parameters: { type: 'object', properties: {} },
      timeoutMs: 150,
      handler: () => new Promise(() => undefined),
    });
  });

  afterAll(async () => {
    await t.close();
    await mock.close();
  });


  /** The model calls a tool in response `responseId`, which then ends. */
  function functionCall(rt: MockRealtimeConnection, responseId: string, callId: string, name: string, args: string): void {
    rt.responseCreated(responseId);
    rt.send({ type: 'response.function_call_arguments.done', response_id: responseId, item_id: `item_${callId}`, output_index: 0, call_id: callId, name, arguments: args });
    rt.responseDone(responseId);
  }

  const outputOf = async (rt: MockRealtimeConnection, callId: string) =>
    JSON.parse((await rt.waitFor('conversation.item.create', (e) => e.item?.call_id === callId)).item.output as string) as Record<string, unknown>;

  it('offers the tools in session.update', async () => {
    const { caller, rt } = await startCall(t, mock);
    const update = rt.received.find((e) => e.type === 'session.update');
    expect(update.session.tool_choice).toBe('auto');
    const save = update.session.tools.find((tool: { name: string }) => tool.name === 'save_job_request');
    expect(save).toMatchObject({ type: 'function', parameters: { type: 'object', properties: { urgency: { enum: ['emergency', 'urgent', 'routine'] } } } });
    caller.sendStop();
    await rt.waitForClose();
  });

  it('saves the job request, returns the output, asks for a response, and keeps it on the record', async () => {
    const { caller, rt } = await startCall(t, mock);
    functionCall(rt, 'resp_1', 'call_1', 'save_job_request', JSON.stringify({ caller_name: 'Dana Smith', callback_number: '(415) 555-2671', urgency: 'emergency', problem: 'Burst pipe in the basement' }));
    const output = await outputOf(rt, 'call_1');
    expect(output).toMatchObject({ saved: true, jobRequest: { callerName: 'Dana Smith', callbackNumber: '+14155552671', urgency: 'emergency' }, stillMissing: ['serviceAddress', 'preferredTime'] });
    const create = rt.received.findIndex((e) => e.type === 'conversation.item.create' && e.item.call_id === 'call_1');
    await rt.waitFor('response.create', () => rt.received.filter((e) => e.type === 'response.create').length >= 2);
    const lastCreate = rt.received.map((e: { type: string }) => e.type).lastIndexOf('response.create');
    expect(lastCreate).toBeGreaterThan(create);

    // A correction keeps the earlier fields.
    functionCall(rt, 'resp_2', 'call_2', 'save_job_request', JSON.stringify({ service_address: '12 Elm Street, Springfield', preferred_time: 'tomorrow morning' }));
    expect(await outputOf(rt, 'call_2')).toMatchObject({ saved: true, jobRequest: { callerName: 'Dana Smith', serviceAddress: '12 Elm Street, Springfield' }, stillMissing: [] });

    // A number that cannot be one is not saved the first time, and the model is told to ask again.
    functionCall(rt, 'resp_3', 'call_3', 'save_job_request', JSON.stringify({ callback_number: '555-12' }));
    expect(await outputOf(rt, 'call_3')).toMatchObject({ saved: false, callbackNumberSaved: false, askAgain: expect.stringContaining('repeat') });

    caller.sendStop();
    await rt.waitForClose();
    await t.logs.waitFor('call ended', { callSid: caller.callSid });
    await t.app.get(CallLogWriter).drained();
    const record = await t.app.get(CallLogRepository).get(caller.callSid);
    expect(record?.details.jobRequest).toEqual({
      callerName: 'Dana Smith',
      callbackNumber: '+14155552671',
      urgency: 'emergency',
      problem: 'Burst pipe in the basement',
      serviceAddress: '12 Elm Street, Springfield',
      preferredTime: 'tomorrow morning',
    });
    expect((record?.details.toolCalls as Array<{ name: string; ok: boolean }>).map((c) => [c.name, c.ok])).toEqual([
      ['save_job_request', true],
      ['save_job_request', true],
      ['save_job_request', true],
    ]);
  });

  it('keeps the lead when the callback number does not validate: other fields at once, the repeated number flagged unverified', async () => {
    const { caller, rt } = await startCall(t, mock);
    // 222 is no US area code yet: a possible number, not a valid one.
    functionCall(rt, 'resp_1', 'call_1', 'save_job_request', JSON.stringify({ caller_name: 'Lee Park', callback_number: '222 555 0100', problem: 'No hot water' }));
    expect(await outputOf(rt, 'call_1')).toMatchObject({ saved: true, callbackNumberSaved: false, askAgain: expect.stringContaining('repeat'), jobRequest: { callerName: 'Lee Park', problem: 'No hot water' } });
    functionCall(rt, 'resp_2', 'call_2', 'save_job_request', JSON.stringify({ callback_number: '2 2 2, 5 5 5, 0 1 0 0' }));
    expect(await outputOf(rt, 'call_2')).toMatchObject({ saved: true, callbackNumberSaved: true, jobRequest: { callbackNumber: '+12225550100', callbackNumberUnverified: true } });

    caller.sendStop();
    await rt.waitForClose();
    await t.logs.waitFor('call ended', { callSid: caller.callSid });
    await t.app.get(CallLogWriter).drained();
    const record = await t.app.get(CallLogRepository).get(caller.callSid);
    expect(record?.details.jobRequest).toEqual({ callerName: 'Lee Park', problem: 'No hot water', callbackNumber: '+12225550100', callbackNumberUnverified: true });
  });

  it('answers bad arguments, unknown tools and timeouts with an error output, never silence', async () => {
    const { caller, rt } = await startCall(t, mock);
    functionCall(rt, 'resp_1', 'bad', 'save_job_request', JSON.stringify({ urgency: 'whenever' }));
    expect(await outputOf(rt, 'bad')).toMatchObject({ error: 'Invalid arguments.', problems: [expect.stringContaining('/urgency')] });
    functionCall(rt, 'resp_2', 'notjson', 'save_job_request', '{"caller_name": ');
    expect(await outputOf(rt, 'notjson')).toMatchObject({ error: expect.stringContaining('not valid JSON') });
    functionCall(rt, 'resp_3', 'unknown', 'book_flight', '{}');
    expect(await outputOf(rt, 'unknown')).toMatchObject({ error: 'There is no tool named book_flight.' });

    // Audio keeps flowing while a tool runs: caller audio reaches the model before the timeout's output.
    functionCall(rt, 'resp_4', 'slow', 'slow_lookup', '{}');
    caller.sendMedia(Buffer.alloc(160, 0x42));
    await rt.waitFor('input_audio_buffer.append');
    const slow = await outputOf(rt, 'slow');
    expect(slow).toMatchObject({ error: expect.stringContaining('did not answer within 150 ms') });
    const appendAt = rt.received.findIndex((e) => e.type === 'input_audio_buffer.append');
    const outputAt = rt.received.findIndex((e) => e.type === 'conversation.item.create' && e.item.call_id === 'slow');
    expect(appendAt).toBeLessThan(outputAt);
    // Every output was followed by a response.create, and both sockets are still open.
    await rt.waitFor('response.create', () => rt.received.filter((e) => e.type === 'response.create').length >= 5);
    caller.sendStop();
    await rt.waitForClose();
  });

  it('holds a tool result until the response that called it is done, then asks for one response', async () => {
    const { caller, rt } = await startCall(t, mock);
    rt.responseCreated('resp_1');
    rt.send({ type: 'response.function_call_arguments.done', response_id: 'resp_1', item_id: 'i1', output_index: 0, call_id: 'held', name: 'save_job_request', arguments: '{"problem":"Dripping tap"}' });
    await t.logs.waitFor('tool finished', { callSid: caller.callSid, callId: 'held' });
    expect(rt.received.some((e) => e.type === 'conversation.item.create')).toBe(false);
    rt.responseDone('resp_1');
    await outputOf(rt, 'held');
    await rt.waitFor('response.create', () => rt.received.filter((e) => e.type === 'response.create').length >= 2);
    caller.sendStop();
    await rt.waitForClose();
  });
});
