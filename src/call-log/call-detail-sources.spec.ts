import pino from 'pino';
import { LogCapture } from '../../test/support/log-capture';
import type { AppLogger } from '../logging/app-logger';
import { CallDetailSources } from './call-detail-sources';
import { EMPTY_USAGE, type CallRecord } from './call-record';

const record = (callSid: string, details: Record<string, unknown> = {}): CallRecord => ({
  callSid,
  streamSid: null,
  direction: 'inbound',
  from: '+15551230000',
  to: '+15557650000',
  status: 'completed',
  startedAt: '2026-01-15T07:00:00.000Z',
  endedAt: '2026-01-15T07:01:00.000Z',
  durationMs: 60_000,
  endReason: 'twilio_stop',
  transcript: [],
  usage: EMPTY_USAGE,
  costUsd: 0,
  recording: null,
  details,
  profile: 'default',
});

describe('CallDetailSources', () => {
  let logs: LogCapture;
  let sources: CallDetailSources;

  beforeEach(() => {
    logs = new LogCapture();
    const logger = pino({ level: 'debug' }, logs);
    sources = new CallDetailSources({ child: () => logger } as unknown as AppLogger);
  });

  it('joins each source into the details of the calls it knows, in one call per source', async () => {
    const asked: string[][] = [];
    sources.register('paging', async (sids) => {
      asked.push([...sids]);
      return new Map([['CA1', { status: 'acknowledged' }]]);
    });
    const joined = await sources.join([record('CA1', { jobRequest: { problem: 'Leak' } }), record('CA2')]);
    expect(asked).toEqual([['CA1', 'CA2']]);
    expect(joined.map((r) => r.details)).toEqual([{ jobRequest: { problem: 'Leak' }, paging: { status: 'acknowledged' } }, {}]);
  });

  it('serves the records without a source that fails, saying so', async () => {
    sources.register('paging', () => Promise.reject(new Error('connect ECONNREFUSED')));
    expect((await sources.join([record('CA1')]))[0].details).toEqual({});
    expect(logs.find('call details not joined')).toMatchObject({ key: 'paging', err: 'connect ECONNREFUSED' });
  });

  it('refuses a second source for one key, and asks nothing for no records', async () => {
    const source = jest.fn(async () => new Map<string, unknown>());
    sources.register('paging', source);
    expect(() => sources.register('paging', source)).toThrow(/registered already/);
    expect(await sources.join([])).toEqual([]);
    expect(source).not.toHaveBeenCalled();
  });
});
