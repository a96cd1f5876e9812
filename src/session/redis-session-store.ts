import type Redis from 'ioredis';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app-config';
import { SessionStore, SharedStateUnavailable, type CallDirection, type CallSession, type NewCallSession } from './session-store';

// KEYS: the session's hash, the index. ARGV: callSid, now, ttl ms, then the script's own.
// A session counts as gone once now passes lastSeenAt + ttl, whatever Redis's own expiry (set to
// the same instant, as a backstop that frees the memory) has done yet: expiry follows the
// service's clock, as it does in the in-memory store.
const LIVE = `
local last = tonumber(redis.call('HGET', KEYS[1], 'lastSeenAt'))
if not last or last + tonumber(ARGV[3]) < tonumber(ARGV[2]) then return nil end
`;

/** ARGV[4]: when Twilio was last heard from; only ever moves lastSeenAt forward. Nil: no live session. */
const TOUCH = `${LIVE}
local at = tonumber(ARGV[4])
if at <= last then return 1 end
redis.call('HSET', KEYS[1], 'lastSeenAt', ARGV[4])
redis.call('PEXPIREAT', KEYS[1], at + tonumber(ARGV[3]))
redis.call('ZADD', KEYS[2], at + tonumber(ARGV[3]), ARGV[1])
return 1
`;

/** ARGV[4]: the state. */
const SET_STATE = `${LIVE}
redis.call('HSET', KEYS[1], 'state', ARGV[4])
return 1
`;

interface SessionCommands {
  sessionTouch(key: string, index: string, callSid: string, now: number, ttlMs: number, at: number): Promise<number | null>;
  sessionSetState(key: string, index: string, callSid: string, now: number, ttlMs: number, state: string): Promise<number | null>;
}

/**
 * Sessions in Redis, shared by every instance: a hash per call (`<prefix>session:<callSid>`) and a
 * sorted set of call SIDs by expiry (`<prefix>sessions`) so that list() reads the live ones
 * without scanning keys. Touch and state writes are scripts, so that neither can bring back a
 * session that has expired or been removed. While Redis is unreachable, writes fail at once with
 * SharedStateUnavailable (nothing queues up in memory) and reads throw.
 */
export class RedisSessionStore extends SessionStore {
  private readonly redis: Redis & SessionCommands;
  private readonly ttlMs: number;
  private readonly prefix: string;
  private readonly index: string;
  private readonly instanceId: string;

  constructor(
    redis: Redis,
    config: AppConfig,
    private readonly clock: Clock,
    keyPrefix = config.redis.keyPrefix,
  ) {
    super();
    redis.defineCommand('sessionTouch', { numberOfKeys: 2, lua: TOUCH });
    redis.defineCommand('sessionSetState', { numberOfKeys: 2, lua: SET_STATE });
    this.redis = redis as Redis & SessionCommands;
    this.ttlMs = config.sessions.ttlMinutes * 60_000;
    this.prefix = `${keyPrefix}session:`;
    this.index = `${keyPrefix}sessions`;
    this.instanceId = config.instanceId;
  }

  async save(s: NewCallSession): Promise<void> {
    this.reachable();
    const key = this.key(s.callSid);
    const expiresAt = s.lastSeenAt + this.ttlMs;
    await this.redis
      .multi()
      .del(key)
      .hset(key, {
        callSid: s.callSid,
        instanceId: this.instanceId,
        streamSid: s.streamSid,
        from: s.from,
        to: s.to,
        direction: s.direction,
        startedAt: String(s.startedAt),
        lastSeenAt: String(s.lastSeenAt),
        state: s.state,
      })
      .pexpireat(key, expiresAt)
      .zadd(this.index, expiresAt, s.callSid)
      .exec()
      .then(failedStep);
  }

  async get(callSid: string): Promise<CallSession | undefined> {
    return this.live(await this.redis.hgetall(this.key(callSid)));
  }

  async touch(callSid: string, at: number): Promise<boolean> {
    this.reachable();
    return (await this.redis.sessionTouch(this.key(callSid), this.index, callSid, this.clock.epochMs(), this.ttlMs, at)) !== null;
  }

  async setState(callSid: string, state: string): Promise<void> {
    this.reachable();
    await this.redis.sessionSetState(this.key(callSid), this.index, callSid, this.clock.epochMs(), this.ttlMs, state);
  }

  async remove(callSid: string): Promise<void> {
    this.reachable();
    await this.redis.multi().del(this.key(callSid)).zrem(this.index, callSid).exec().then(failedStep);
  }

  async list(): Promise<CallSession[]> {
    const now = this.clock.epochMs();
    // Entries whose time has passed leave the index here; their hashes expire in Redis.
    await this.redis.zremrangebyscore(this.index, '-inf', `(${now}`);
    const sids = await this.redis.zrangebyscore(this.index, now, '+inf');
    if (sids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const sid of sids) pipeline.hgetall(this.key(sid));
    const replies = (await pipeline.exec()) ?? [];
    const live: CallSession[] = [];
    for (const [err, fields] of replies) {
      if (err) throw err;
      const s = this.live(fields as Record<string, string>, now);
      if (s) live.push(s);
    }
    return live;
  }

  async count(): Promise<number> {
    return this.redis.zcount(this.index, this.clock.epochMs(), '+inf');
  }

  private reachable(): void {
    if (this.redis.status !== 'ready') throw new SharedStateUnavailable();
  }

  private key(callSid: string): string {
    return this.prefix + callSid;
  }

  /** The session a hash holds, unless it is empty or its time has passed. */
  private live(h: Record<string, string>, now = this.clock.epochMs()): CallSession | undefined {
    if (!h.callSid) return undefined;
    const lastSeenAt = Number(h.lastSeenAt);
    if (!(lastSeenAt + this.ttlMs >= now)) return undefined;
    return {
      callSid: h.callSid,
      instanceId: h.instanceId,
      streamSid: h.streamSid,
      from: h.from,
      to: h.to,
      direction: h.direction as CallDirection,
      startedAt: Number(h.startedAt),
      lastSeenAt,
      state: h.state,
    };
  }
}

/** A MULTI's replies: the first failed step's error is thrown. */
function failedStep(replies: Array<[Error | null, unknown]> | null): void {
  for (const [err] of replies ?? []) if (err) throw err;
}
