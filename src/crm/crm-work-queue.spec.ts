import pino from 'pino';
import type { Logger } from 'pino';
import { ImmediateScheduler } from '../../test/support/immediate-scheduler';
import { ManualClock } from '../common/clock';
import { Scheduler, type ScheduledTask } from '../common/scheduler';
import { CallMetrics } from '../metrics/call-metrics';
import { metricValue } from '../../test/support/metric-value';
import { BreakerOpenError, CrmWorkQueue, JobError, QueueFullError, type WorkJob, type WorkQueueOptions } from './crm-work-queue';

const silent = pino({ level: 'silent' });

/** A queue on a hand-moved clock and the immediate scheduler, with jitter fixed at its middle. */
function makeQueue(logger: Logger = silent, options: Partial<WorkQueueOptions> = {}) {
  const clock = new ManualClock();
  const scheduler = new ImmediateScheduler();
  const metrics = new CallMetrics();
  return { queue: new CrmWorkQueue(logger, options, clock, scheduler, metrics, () => 0.5), clock, scheduler, metrics };
}

function job(key: string, name: string, run: () => Promise<void>, failures: Error[] = []): WorkJob {
  return { key, name, run, onFailure: (e) => void failures.push(e) };
}

describe('CrmWorkQueue', () => {
  it('runs the jobs of one key in order, even when an earlier one is slower', async () => {
    const { queue } = makeQueue();
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

  it('retries transient failures with exponential backoff, then reports and counts the final failure', async () => {
    const { queue, scheduler, metrics } = makeQueue(silent, { maxAttempts: 4, baseDelayMs: 100, breakerThreshold: 100 });
    const failures: Error[] = [];
    let runs = 0;
    queue.enqueue(job('a', 'flaky', async () => {
      runs++;
      throw new JobError('503', true);
    }, failures));
    await queue.idle();
    expect(runs).toBe(4);
    // random() = 0.5 → three quarters of 100, 200, 400.
    expect(scheduler.delays).toEqual([75, 150, 300]);
    expect(failures.map((e) => e.message)).toEqual(['503']);
    // One failure: the attempts that were retried are not failures yet.
    expect(await metricValue(metrics.registry, 'call_operator_crm_failures_total')).toBe(1);
  });

  it('waits as long as Retry-After says', async () => {
    const { queue, scheduler } = makeQueue(silent, { baseDelayMs: 100 });
    let runs = 0;
    queue.enqueue(job('a', 'limited', async () => {
      if (++runs === 1) throw new JobError('429', true, 7000);
    }));
    await queue.idle();
    expect(runs).toBe(2);
    expect(scheduler.delays).toEqual([7000]);
  });

  it('cancels a retry waiting for its backoff on close', async () => {
    const tasks: Array<{ ms: number; cancelled: boolean }> = [];
    let scheduled!: () => void;
    const retryScheduled = new Promise<void>((resolve) => (scheduled = resolve));
    // Holds its tasks: only close() can settle them.
    const holding = new (class extends Scheduler {
      after(ms: number): ScheduledTask {
        const task = { ms, cancelled: false };
        tasks.push(task);
        scheduled();
        return { cancel: () => (task.cancelled = true) };
      }
    })();
    const queue = new CrmWorkQueue(silent, { baseDelayMs: 100 }, new ManualClock(), holding, new CallMetrics(), () => 0);
    queue.enqueue(job('a', 'flaky', () => Promise.reject(new JobError('503', true))));
    await retryScheduled;
    queue.close();
    expect(tasks).toEqual([{ ms: 50, cancelled: true }]);
  });

  it('does not retry a failure that is not retryable', async () => {
    const { queue } = makeQueue();
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
    const { queue, metrics } = makeQueue(logger, { maxPending: 2 });
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
    expect(await metricValue(metrics.registry, 'call_operator_crm_failures_total')).toBe(10);
    expect(lines.filter((l) => l.msg === 'CRM job rejected')).toHaveLength(1);

    expect(queue.enqueue(job('d', 'after', async () => undefined))).toBe(true);
    expect(lines.find((l) => l.msg === 'CRM queue has room again')).toMatchObject({ rejected: 10 });
    await queue.idle();
  });

  it('opens the breaker after consecutive failures, fails fast while open, and closes after a good trial', async () => {
    const { queue, clock } = makeQueue(silent, { maxAttempts: 1, breakerThreshold: 3, breakerCoolDownMs: 1000 });
    const failures: Error[] = [];
    for (let i = 0; i < 3; i++) queue.enqueue(job(`k${i}`, 'failing', () => Promise.reject(new JobError('500', true)), failures));
    await queue.idle();
    expect(queue.breaker).toBe('open');

    let ran = false;
    queue.enqueue(job('x', 'while open', async () => void (ran = true), failures));
    await queue.idle();
    expect(ran).toBe(false);
    expect(failures[3]).toBeInstanceOf(BreakerOpenError);

    clock.advance(1000);
    expect(queue.breaker).toBe('half-open');
    queue.enqueue(job('y', 'trial', async () => void (ran = true), failures));
    await queue.idle();
    expect(ran).toBe(true);
    expect(queue.breaker).toBe('closed');
  });

  it('reopens when the half-open trial fails', async () => {
    const { queue, clock } = makeQueue(silent, { maxAttempts: 1, breakerThreshold: 1, breakerCoolDownMs: 1000 });
    queue.enqueue(job('a', 'failing', () => Promise.reject(new Error('down'))));
    await queue.idle();
    clock.advance(1000);
    queue.enqueue(job('b', 'trial', () => Promise.reject(new Error('still down'))));
    await queue.idle();
    expect(queue.breaker).toBe('open');
  });
});
