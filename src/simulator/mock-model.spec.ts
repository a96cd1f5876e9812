import WebSocket from 'ws';
import { Waiters } from '../../test/support/wait';
import { SystemScheduler } from '../common/scheduler';
import { wsText } from '../common/ws-text';
import { silence, toneSpeech } from './audio';
import { MockModel } from './mock-model';

/** A client of the mock model that keeps every server event. */
async function connect(url: string) {
  const ws = new WebSocket(url);
  const events: any[] = [];
  const waiters = new Waiters('mock model client');
  const returned = new Set<unknown>();
  ws.on('message', (data) => {
    events.push(JSON.parse(wsText(data)));
    waiters.notify();
  });
  await new Promise((resolve) => ws.once('open', resolve));
  const waitFor = (type: string, predicate: (e: any) => boolean = () => true) =>
    waiters.until(
      type,
      () => {
        const found = events.find((e) => e.type === type && !returned.has(e) && predicate(e));
        if (found) returned.add(found);
        return found;
      },
      () => events.map((e) => e.type).join(', '),
    );
  const send = (event: object) => ws.send(JSON.stringify(event));
  /** Caller audio as the service appends it: 20 ms frames. */
  const append = (audio: Buffer) => {
    for (let off = 0; off < audio.length; off += 160) send({ type: 'input_audio_buffer.append', audio: audio.subarray(off, off + 160).toString('base64') });
  };
  return { ws, events, waitFor, send, append };
}

describe('the scripted mock model', () => {
  let model: MockModel;

  beforeAll(async () => {
    model = await MockModel.start(new SystemScheduler());
  });
  afterAll(() => model.close());

  it('speaks the greeting it is asked for, hears the caller by energy, and answers each turn from the script', async () => {
    model.script = {
      turns: [{ heard: 'My pipe burst.', reply: { say: 'Turn off the valve.', tools: [{ name: 'save_job_request', arguments: { urgency: 'emergency' } }], then: 'Help is on the way.' } }],
    };
    const c = await connect(model.url);
    await c.waitFor('session.created');
    c.send({ type: 'session.update', session: { audio: { input: { turn_detection: { type: 'server_vad', silence_duration_ms: 300 } } } } });
    await c.waitFor('session.updated');

    c.send({ type: 'response.create', response: { instructions: 'Greet the caller now by saying exactly this, then wait for their answer: "Thanks for calling Acme."' } });
    expect((await c.waitFor('response.output_audio_transcript.done')).transcript).toBe('Thanks for calling Acme.');
    const greeting = (await c.waitFor('response.done')).response.id;
    const deltas = c.events.filter((e) => e.type === 'response.output_audio.delta' && e.response_id === greeting);
    expect(deltas.length).toBeGreaterThan(1);
    expect(c.events.filter((e) => e.type === 'response.output_audio_transcript.delta' && e.response_id === greeting).map((e) => e.delta).join('')).toBe('Thanks for calling Acme.');

    // Silence is not speech; a voice is, and a pause as long as silence_duration_ms ends the turn.
    c.append(silence(400));
    c.append(toneSpeech('my pipe burst'));
    c.append(silence(400));
    const started = await c.waitFor('input_audio_buffer.speech_started');
    expect(started.audio_start_ms).toBe(400);
    const stopped = await c.waitFor('input_audio_buffer.speech_stopped');
    expect(stopped.item_id).toBe(started.item_id);
    expect((await c.waitFor('conversation.item.input_audio_transcription.completed')).transcript).toBe('My pipe burst.');
    expect((await c.waitFor('response.output_audio_transcript.done')).transcript).toBe('Turn off the valve.');
    const call = await c.waitFor('response.function_call_arguments.done');
    expect(call).toMatchObject({ name: 'save_job_request', arguments: '{"urgency":"emergency"}' });
    expect((await c.waitFor('response.done')).response.status).toBe('completed');

    // The tool's result is back: the model says what comes after it.
    c.send({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: call.call_id, output: '{}' } });
    c.send({ type: 'response.create' });
    expect((await c.waitFor('response.output_audio_transcript.done')).transcript).toBe('Help is on the way.');
    c.ws.close();
  });

  it('stops a reply the service cancels, and refuses a second response while one is active', async () => {
    model.script = { turns: [] };
    const c = await connect(model.url);
    c.send({ type: 'response.create', response: { instructions: 'Say exactly this: "one two three four five six seven eight nine ten eleven twelve"' } });
    const created = await c.waitFor('response.created');
    c.send({ type: 'response.create' });
    expect((await c.waitFor('error')).error.code).toBe('conversation_already_has_active_response');
    c.send({ type: 'response.cancel', response_id: created.response.id });
    expect((await c.waitFor('response.done')).response).toMatchObject({ id: created.response.id, status: 'cancelled' });
    expect(c.events.some((e) => e.type === 'response.output_audio_transcript.done')).toBe(false);
    c.send({ type: 'conversation.item.truncate', item_id: 'item_2', content_index: 0, audio_end_ms: 120 });
    expect(await c.waitFor('conversation.item.truncated')).toMatchObject({ item_id: 'item_2', audio_end_ms: 120 });
    c.ws.close();
  });
});
