/** A job as its handler sees it. */
export interface Job<T = unknown> {
  readonly id: string;
  readonly name: string;
  readonly data: T;
  /** 0 on the first run; how many runs before this one failed or expired. */
  readonly retryCount: number;
  /**
   * Aborted when this run no longer holds the job: its lease is about to run out (the job may soon
   * be handed to another worker), or the queue stopped and stopped waiting for it. A handler that
   * sees it aborted should not start anything it cannot undo; what it returns then is ignored.
   */
  readonly signal: AbortSignal;
}

/** Resolving completes the job; throwing fails this run, and the job is retried as configured. */
export type JobHandler<T = unknown> = (job: Job<T>) => Promise<void>;

export interface SendOptions {
  /** Not worked before this time. */
  readonly startAfter?: Date;
  /** At most one queued (not yet started) job per key and queue; send() returns null for a second. */
  readonly singletonKey?: string;
}

export interface WorkOptions {
  /** How many jobs of this queue this process works at once; 1 by default. */
  readonly concurrency?: number;
}

/**
 * A durable job queue: a job sent is kept in the database until a worker has worked it, however
 * many processes restart in between; with several instances on one database each job is held by
 * one worker at a time. A job whose worker dies comes back after its lease expires, so a job is
 * worked at least once and, short of a worker outliving its lease, never by two at once.
 *
 * start() is optional: send() and work() start the queue on first use, so that a queue nothing
 * uses costs nothing.
 */
export abstract class JobQueue {
  abstract start(): Promise<void>;
  /** Stops taking jobs and waits (bounded) for the jobs in hand; those still running then are left to expire. */
  abstract stop(): Promise<void>;
  /** The job's id, or null when singletonKey matched a job already queued. */
  abstract send<T extends object>(name: string, data: T, options?: SendOptions): Promise<string | null>;
  /** Works the queue `name` with `handler` in this process until stop(). Once per queue name. */
  abstract work<T>(name: string, handler: JobHandler<T>, options?: WorkOptions): Promise<void>;
  /** True when the job was still to be worked (queued, or retrying) and is now cancelled. */
  abstract cancel(name: string, id: string): Promise<boolean>;
}
