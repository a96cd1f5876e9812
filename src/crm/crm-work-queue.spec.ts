import pino from 'pino';
import { BreakerOpenError, CrmWorkQueue, JobError, QueueFullError, type QueueTimers, type WorkJob } from './crm-work-queue';

const silent = pino({ level: 'silent' });

/** Records each requested delay and fires it on the next tick, so tests never wait out backoff. */
function fastTimers(): QueueTimers & { delays: number[]; t: number } {
  const timers = {
    delays: [] as number[],
    t: 0,
    now: () => timers.t,
    setTimeout: (fn: () => void, ms: number) => {
      timers.delays.push(ms);
      return setTimeout(fn, 0);
    },
    clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout),
    random: () => 0.5,
  };
  return timers;
}

function job(key: string, name: string, run: () => Promise<void>, failures: Error[] = []): WorkJob {
  return { key, name, run, onFailure: (e) => void failures.push(e) };
}

describe('CrmWorkQueue', () => {
  it('runs the jobs of one key in order, even when an earlier one is slower', async () => {
    const queue = new CrmWorkQueue(silent, {}, fastTimers());
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    queue.enqueue(job('a', 'first', async () => {
      await gate;
      order.push('a1');
    }));
    queue.enqueue(job('a', 'second', async () => void order.push('a2')));
    queue.enqueue(job('b', 'other', async () => {
      order.push('b1');
      release();
    }));
    await queue.idle();
    expect(order).toEqual(['b1', 'a1', 'a2']);
  });

  it('retries transient failures with exponential backoff, then reports the final failure', async () => {
    const timers = fastTimers();
    const queue = new CrmWorkQueue(silent, { maxAttempts: 4, baseDelayMs: 100, breakerThreshold: 100 }, timers);
    const failures: Error[] = [];
    let runs = 0;
    queue.enqueue(job('a', 'flaky', async () => {
      runs++;
      throw new JobError('503', true);
    }, failures));
    await queue.idle();
    expect(runs).toBe(4);
    // random() = 0.5 → three quarters of 100, 200, 400.
    expect(timers.delays).toEqual([75, 150, 300]);
    expect(failures.map((e) => e.message)).toEqual(['503']);
  });

  it('waits as long as Retry-After says', async () => {
    const timers = fastTimers();
    const queue = new CrmWorkQueue(silent, { baseDelayMs: 100 }, timers);
    let runs = 0;
    queue.enqueue(job('a', 'limited', async () => {
      if (++runs === 1) throw new JobError('429', true, 7000);
    }));
    await queue.idle();
    expect(runs).toBe(2);
    expect(timers.delays).toEqual([7000]);
  });

  it('does not retry a failure that is not retryable', async () => {
    const queue = new CrmWorkQueue(silent, {}, fastTimers());
    const failures: Error[] = [];
    let runs = 0;
    queue.enqueue(job('a', 'bad request', async () => {
      runs++;
      throw new JobError('400', false);
    }, failures));
    await queue.idle();
    expect(runs).toBe(1);
    expect(failures).toHaveLength(1);
  });

  it('rejects jobs beyond its bound and runs their failure handler, logging a run of rejections once and counting them', async () => {
    const lines: Array<{ msg: string; rejected?: number }> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as { msg: string }) });
    const queue = new CrmWorkQueue(logger, { maxPending: 2 }, fastTimers());
    const failures: Error[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    expect(queue.enqueue(job('a', '1', () => gate, failures))).toBe(true);
    expect(queue.enqueue(job('b', '2', () => gate, failures))).toBe(true);
    for (let k = 3; k <= 12; k++) expect(queue.enqueue(job('c', String(k), () => gate, failures))).toBe(false);
    expect(queue.size).toBe(2);
    release();
    await queue.idle();
    await Promise.resolve();
    expect(failures).toHaveLength(10);
    expect(failures[0]).toBeInstanceOf(QueueFullError);
    expect(queue.rejected).toBe(10);
    expect(lines.filter((l) => l.msg === 'CRM job rejected')).toHaveLength(1);

    expect(queue.enqueue(job('d', 'after', async () => undefined))).toBe(true);
    expect(lines.find((l) => l.msg === 'CRM queue has room again')).toMatchObject({ rejected: 10 });
    await queue.idle();
  });

  it('opens the breaker after consecutive failures, fails fast while open, and closes after a good trial', async () => {
    const timers = fastTimers();
    const queue = new CrmWorkQueue(silent, { maxAttempts: 1, breakerThreshold: 3, breakerCoolDownMs: 1000 }, timers);
    const failures: Error[] = [];
    for (let i = 0; i < 3; i++) queue.enqueue(job(`k${i}`, 'failing', () => Promise.reject(new JobError('500', true)), failures));
    await queue.idle();
    expect(queue.breaker).toBe('open');

    let ran = false;
    queue.enqueue(job('x', 'while open', async () => void (ran = true), failures));
    await queue.idle();
    expect(ran).toBe(false);
    expect(failures[3]).toBeInstanceOf(BreakerOpenError);

    timers.t += 1000;
    expect(queue.breaker).toBe('half-open');
    queue.enqueue(job('y', 'trial', async () => void (ran = true), failures));
    await queue.idle();
    expect(ran).toBe(true);
    expect(queue.breaker).toBe('closed');
  });

  it('reopens when the half-open trial fails', async () => {
    const timers = fastTimers();
    const queue = new CrmWorkQueue(silent, { maxAttempts: 1, breakerThreshold: 1, breakerCoolDownMs: 1000 }, timers);
    queue.enqueue(job('a', 'failing', () => Promise.reject(new Error('down'))));
    await queue.idle();
    timers.t += 1000;
    queue.enqueue(job('b', 'trial', () => Promise.reject(new Error('still down'))));
    await queue.idle();
    expect(queue.breaker).toBe('open');
  });
});
