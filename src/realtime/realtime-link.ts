import type { Logger } from 'pino';
import type { Clock } from '../common/clock';
import { BYTES_PER_MS } from '../common/mulaw';
import type { ScheduledTask, Scheduler } from '../common/scheduler';
import type { CallMetrics } from '../metrics/call-metrics';
import type { RealtimeClient, RealtimeConnector } from './realtime-client';
import { appendAudioFrame, type RealtimeClientEvent, type RealtimeServerEvent } from './realtime-protocol';

/** How the current socket came to be: the call's first, one reopened after a drop, or a rollover. */
export type LinkChange = 'connected' | 'reopened' | 'rolled_over';

/** Connect attempts for a call's first socket: the first and one retry. */
const CONNECT_ATTEMPTS = 2;
/** Pause before the retry: a refused or timed-out connect is seldom fixed by an instant retry. */
export const CONNECT_RETRY_BACKOFF_MS = 500;
/**
 * A drop reopens the socket at most once in this window: a second drop soon after the first means
 * the link is unreliable, and the fallback serves the caller better than repeated gaps.
 */
export const REOPEN_MIN_INTERVAL_MS = 10 * 60_000;

export interface LinkClosed {
  readonly code: number;
  readonly reason: string;
  /** Whether the socket had opened. */
  readonly opened: boolean;
  /** What the lost socket was for. */
  readonly change: LinkChange;
}

export interface RealtimeLinkListener {
  /**
   * A socket became the call's current one and is open: its session needs configuring. Caller
   * audio buffered meanwhile is sent right after this returns, so it reaches a configured session.
   */
  onSessionOpen(change: LinkChange): void;
  /** A server event of the current socket, in arrival order. Events of other sockets never arrive here. */
  onEvent(event: RealtimeServerEvent): void;
  /** The current socket dropped mid-call and a new one is opening: whatever was in flight on it is gone. */
  onReconnecting(closed: LinkClosed): void;
  /** No socket is left and none will be opened: the call cannot go on. */
  onLost(closed: LinkClosed): void;
}

export interface RealtimeLinkDeps {
  readonly connector: RealtimeConnector;
  readonly scheduler: Scheduler;
  readonly clock: Clock;
  readonly log: Logger;
  /** How long a connect may take: caller audio is buffered for a connect, its retry and the pause between. */
  readonly connectTimeoutMs: number;
  /** Counts every socket's close by code, and early caller audio dropped. */
  readonly metrics: CallMetrics;
}

const NO_LISTENER: RealtimeLinkListener = {
  onSessionOpen: () => undefined,
  onEvent: () => undefined,
  onReconnecting: () => undefined,
  onLost: () => undefined,
};

/**
 * A call's connection to the Realtime API, across sockets: the first connect gets one retry, a
 * mid-call drop is reopened (at most once per REOPEN_MIN_INTERVAL_MS), and a rollover opens the
 * next session's socket ahead of time and swaps it in on request. Only the current socket's events
 * reach the listener, and a socket closed on purpose (replaced, or the call ended) reports nothing.
 * Caller audio that arrives while no socket is open (connecting, retrying, reopening) is kept, up
 * to a bound, and sent in order once one is.
 */
export class RealtimeLink {
  private current: RealtimeClient | null = null;
  private next: RealtimeClient | null = null;
  private nextOpen = false;
  private retry: ScheduledTask | null = null;
  private lastReopenAt = Number.NEGATIVE_INFINITY;
  private closed = false;
  private listener = NO_LISTENER;
  /** Caller audio waiting for a socket: base64 payloads in order, the first one's Twilio timestamp, their bytes. */
  private early: string[] = [];
  private earlyFirstMs = 0;
  private earlyBytes = 0;
  private earlyDropped = 0;
  private readonly earlyMaxBytes: number;
  private inputStart: number | null = null;

  constructor(private readonly deps: RealtimeLinkDeps) {
    // Enough for a connect, its retry and the pause between at real-time pace, so genuine audio is never dropped.
    this.earlyMaxBytes = (2 * deps.connectTimeoutMs + CONNECT_RETRY_BACKOFF_MS + 2_000) * BYTES_PER_MS;
  }

  /**
   * Twilio timestamp of the first caller frame the current session received: where its input audio
   * timeline (audio_start_ms and the like) begins. Null until it has received one.
   */
  get inputStartMs(): number | null {
    return this.inputStart;
  }

  /** Caller frames dropped because the early buffer was full (only a peer faster than real time fills it). */
  get earlyAudioDropped(): number {
    return this.earlyDropped;
  }

  /** The current socket is open: sends go through. */
  get isOpen(): boolean {
    return this.current !== null && this.current.isOpen;
  }

  /** The next session's socket is open and can be switched to. */
  get nextReady(): boolean {
    return this.nextOpen;
  }

  /** Sends on the current socket; dropped when none is open. */
  send(event: RealtimeClientEvent): boolean {
    return this.current !== null && this.current.send(event);
  }

  /** Caller audio (base64 mu-law, stamped by Twilio): sent now, or kept until a socket is open. */
  appendCallerAudio(payload: string, timestampMs: number): void {
    if (this.current !== null && this.current.isOpen) {
      this.inputStart ??= timestampMs;
      this.current.send(appendAudioFrame(payload));
      return;
    }
    if (this.closed) return;
    if (this.early.length === 0) this.earlyFirstMs = timestampMs;
    this.early.push(payload);
    this.earlyBytes += Buffer.byteLength(payload, 'base64');
    // Only reachable by a peer sending faster than real time: the connect timeout ends a
    // genuine call before its early audio could fill this.
    while (this.earlyBytes > this.earlyMaxBytes && this.early.length > 1) {
      this.earlyBytes -= Buffer.byteLength(this.early.shift() ?? '', 'base64');
      this.deps.metrics.earlyAudioDropped();
      if (this.earlyDropped++ === 0) this.deps.log.warn({ maxBytes: this.earlyMaxBytes }, 'early caller audio over its bound; dropping the oldest');
    }
  }

  /** Opens the call's first socket; `listener` hears of it from now on. */
  connect(listener: RealtimeLinkListener): void {
    this.listener = listener;
    this.current = this.open('connected', CONNECT_ATTEMPTS);
  }

  /** Starts opening the next session's socket, unless one is already under way. */
  prepareNext(): void {
    if (this.closed || this.next) return;
    this.deps.log.info('opening the next realtime session ahead of the session cap');
    this.next = this.open('rolled_over', 1);
  }

  /** Makes the ready next socket current and closes the old one quietly. False when none is ready. */
  switchToNext(): boolean {
    if (!this.next || !this.nextOpen) return false;
    const old = this.current;
    this.current = this.next;
    this.next = null;
    this.nextOpen = false;
    old?.close(1000, 'session rolled over');
    this.becameCurrent('rolled_over');
    return true;
  }

  /** Closes every socket; nothing is reported afterwards. */
  close(code = 1000, reason = 'call ended'): void {
    this.closed = true;
    this.retry?.cancel();
    this.retry = null;
    this.current?.close(code, reason);
    this.next?.close(code, reason);
    this.current = null;
    this.next = null;
    this.nextOpen = false;
    this.early = [];
    this.earlyBytes = 0;
  }

  /** The session of `change` is current and open: configured by the listener first, then given the early audio. */
  private becameCurrent(change: LinkChange): void {
    this.inputStart = null;
    this.listener.onSessionOpen(change);
    const early = this.early;
    const client = this.current;
    if (this.closed || client === null) return;
    if (early.length > 0) this.inputStart = this.earlyFirstMs;
    for (const payload of early) client.send(appendAudioFrame(payload));
    this.early = [];
    this.earlyBytes = 0;
    this.deps.log.info({ bufferedFrames: early.length, shape: client.shape, change }, change === 'connected' ? 'realtime connected' : 'realtime session replaced');
  }

  private open(change: LinkChange, attempts: number): RealtimeClient {
    const client: RealtimeClient = this.deps.connector.connect({
      onOpen: () => {
        if (client === this.next) {
          this.nextOpen = true;
          this.deps.log.info('next realtime session ready');
        } else if (client === this.current) this.becameCurrent(change);
      },
      onEvent: (event) => {
        if (client === this.current) this.listener.onEvent(event);
      },
      onClosed: (info) => this.onClosed(client, { ...info, change }, attempts),
    });
    return client;
  }

  private onClosed(client: RealtimeClient, closed: LinkClosed, attempts: number): void {
    // Counted whoever closed it, the call's end included.
    this.deps.metrics.webSocketClosed('realtime', closed.code);
    this.deps.log.debug({ code: closed.code }, 'realtime socket closed');
    if (this.closed) return;
    if (client === this.next) {
      this.next = null;
      this.nextOpen = false;
      this.deps.log.warn({ code: closed.code, reason: closed.reason.slice(0, 200) }, 'next realtime session lost before the switch');
      return;
    }
    if (client !== this.current) return;
    this.current = null;
    if (!closed.opened && attempts > 1) {
      this.deps.log.warn({ code: closed.code, reason: closed.reason.slice(0, 200), retryInMs: CONNECT_RETRY_BACKOFF_MS }, 'realtime connect failed; retrying');
      this.retry = this.deps.scheduler.after(CONNECT_RETRY_BACKOFF_MS, () => {
        this.retry = null;
        if (!this.closed) this.current = this.open(closed.change, attempts - 1);
      });
      return;
    }
    const now = this.deps.clock.now();
    if (closed.opened && now - this.lastReopenAt >= REOPEN_MIN_INTERVAL_MS) {
      this.lastReopenAt = now;
      // A next socket opened for a rollover has no summary of what follows; a fresh one is simpler.
      this.next?.close(1000, 'replaced by a reopen');
      this.next = null;
      this.nextOpen = false;
      this.inputStart = null;
      this.listener.onReconnecting(closed);
      if (!this.closed) this.current = this.open('reopened', 1);
      return;
    }
    this.listener.onLost(closed);
  }
}
