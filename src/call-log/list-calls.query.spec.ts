import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { ListCallsQuery } from './list-calls.query';

/** The query as the API's ValidationPipe reads it: transformed, then validated; the problems by field. */
async function read(query: Record<string, string>): Promise<{ value: ListCallsQuery; problems: string[] }> {
  const value = plainToInstance(ListCallsQuery, query);
  const errors = await validate(value, { whitelist: true, forbidNonWhitelisted: true });
  return { value, problems: errors.map((e) => e.property) };
}

describe('ListCallsQuery', () => {
  it('takes the outcome, the urgency and the order', async () => {
    const { value, problems } = await read({ outcome: 'job_request', urgency: 'emergency', order: 'emergency_first', page: '2' });
    expect(problems).toEqual([]);
    expect(value).toMatchObject({ outcome: 'job_request', urgency: 'emergency', order: 'emergency_first', page: 2, pageSize: 20 });
  });

  it.each([
    [{ outcome: 'booked' }, 'outcome'],
    [{ urgency: 'whenever' }, 'urgency'],
    [{ order: 'oldest' }, 'order'],
    [{ outcome: '' }, 'outcome'],
    [{ sort: 'urgency' }, 'sort'],
  ])('refuses %j, naming %s', async (query, field) => {
    expect((await read(query)).problems).toEqual([field]);
  });

  it('leaves every filter optional', async () => {
    const { value, problems } = await read({});
    expect(problems).toEqual([]);
    expect([value.outcome, value.urgency, value.order]).toEqual([undefined, undefined, undefined]);
  });
});
