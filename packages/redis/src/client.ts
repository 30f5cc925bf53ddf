/**
 * What the stores need of a Redis client, and how they call it: every command under the store's own
 * deadline (a Redis that is down or stuck is an error within `commandTimeoutMs`, never a hang), Lua
 * scripts by their SHA1 with one fallback to the full text, and options checked like every factory's.
 */
import { createHash } from 'node:crypto';
import { OptionChecker } from '@enclave-kit/engine/http';

/**
 * The part of a client the stores use. ioredis's `Redis` has it (and so does its `Cluster`: every
 * script touches keys of one hash slot only).
 */
export interface RedisClient {
  call(command: string, args: (string | number)[]): Promise<unknown>;
  /** A second connection with the same options, for pub/sub. */
  duplicate(): RedisClient;
  subscribe(...channels: string[]): Promise<unknown>;
  unsubscribe(...channels: string[]): Promise<unknown>;
  on(event: string, listener: (...args: any[]) => void): unknown;
  disconnect(): void;
}

/** The options every store takes. */
export interface RedisStoreOptions {
  /** Put before every key and channel name, so several apps (or tests) can share one Redis. Default `'enclave:'`. */
  prefix?: string;
  /**
   * How long a store waits for Redis before its call rejects (the HTTP core then answers 503 with
   * `Retry-After`). Default 1000 ms.
   */
  commandTimeoutMs?: number;
}

export const DEFAULT_PREFIX = 'enclave:';
export const DEFAULT_COMMAND_TIMEOUT_MS = 1000;

/**
 * Why a store's call failed: no answer in time, an answer of the wrong shape, an error Redis or the
 * client gave (`REDIS_ERROR`: its own words in the message, e.g. `OOM command not allowed...`), or a
 * client that had lost its connection and was making it again (`DISCONNECTED`: nothing was sent).
 */
export class RedisStoreError extends Error {
  override readonly name = 'RedisStoreError';
  constructor(
    readonly code: 'TIMEOUT' | 'BAD_REPLY' | 'REDIS_ERROR' | 'DISCONNECTED',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The client and the common options, checked, and a checker for the store's own options. */
export function checkArguments(where: string, client: unknown, options: unknown, own: readonly string[]): { check: OptionChecker; o: Record<string, unknown>; prefix: string; timeoutMs: number } {
  const check = new OptionChecker(where);
  check.withMethods('client', client ?? null, ['call', 'duplicate', 'subscribe', 'unsubscribe', 'on', 'disconnect'], 'the methods of an ioredis client (new Redis(url))');
  const o = check.object('options', options ?? {}) ?? {};
  check.knownKeys('', o, ['prefix', 'commandTimeoutMs', ...own]);
  const prefix = check.string('prefix', o.prefix) ?? DEFAULT_PREFIX;
  // A brace would start a hash tag of its own and move a session's keys to different cluster slots.
  if (/[{}]/.test(prefix)) check.fail('prefix must not contain { or }.');
  const timeoutMs = check.delay('commandTimeoutMs', o.commandTimeoutMs) ?? DEFAULT_COMMAND_TIMEOUT_MS;
  return { check, o, prefix, timeoutMs };
}

/**
 * A `secret` option: 32 bytes or more, as a string (its UTF-8) or a Uint8Array; undefined when not set.
 * `sharedBy` says who must hold the same one (in the error).
 */
export function readSecret(check: OptionChecker, value: unknown, sharedBy: string): Uint8Array | undefined {
  if (value === undefined) return undefined;
  const bytes = typeof value === 'string' ? new TextEncoder().encode(value) : value instanceof Uint8Array ? value : undefined;
  if (bytes === undefined || bytes.length < 32) check.fail(`secret must be a secret of at least 32 bytes (a string or a Uint8Array), the same for ${sharedBy}.`);
  return bytes;
}

/** Characters of a Redis error's message kept in the error a store rejects with. */
const MAX_ERROR_CHARS = 500;

/**
 * The error a store's call rejects with when Redis or the client failed it: Redis's own words, cut, on
 * one line, control and format characters escaped, and nothing else. ioredis hangs the command and
 * every argument on its errors (`command.args`: a script's result and logs, a user's id, the scripts'
 * text), and Redis quotes arguments in some messages (`unknown command ..., with args beginning
 * with`): whoever logs the error (the HTTP core does, for a session store that fails) would write
 * them to the host's log.
 */
export function storeFailure(error: unknown, what: string): RedisStoreError {
  if (error instanceof RedisStoreError) return error;
  const said = error instanceof Error ? error.message : typeof error === 'string' ? error : 'an unknown failure';
  const shown = said.slice(0, MAX_ERROR_CHARS).replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return new RedisStoreError('REDIS_ERROR', `${shown}${said.length > MAX_ERROR_CHARS ? '...' : ''} (${what})`);
}

/**
 * `promise`, or a `RedisStoreError('TIMEOUT')` once `ms` have passed without an answer. What the command
 * does later is ignored (its rejection too): every script is safe to run late or twice. A failure is
 * `storeFailure`'s: it carries no argument of the command.
 */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new RedisStoreError('TIMEOUT', `Redis did not answer ${what} within ${ms} ms.`)), ms);
    timer.unref();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(storeFailure(error, what));
      },
    );
  });
}

/** ioredis's states of a client that is not connected and would queue a command until it is. */
const AWAY = new Set(['reconnecting', 'close', 'end']);
/** Per client: whether it has been connected (`ready`) once, so that a later `connecting` is a reconnection. */
const everReady = new WeakMap<object, { ready: boolean }>();

/**
 * `client` for a store, with calls refused at once, unsent, while Redis cannot answer them: while the
 * client has lost its connection and is making it again (`DISCONNECTED`), and while a call this wrapper
 * sent has gone unanswered for `timeoutMs` or more (`TIMEOUT`: Redis is connected but paused, stuck or
 * cut off by a network that drops everything), until that call settles. A store gives up on a call
 * after `commandTimeoutMs`, but ioredis keeps the command, queued or sent, until Redis answers it: while
 * Redis was away every refused request and every retry of a session's writes (a batch of events, a
 * result) left a command there, the client grew with the traffic for as long as the outage lasted, and
 * once Redis was back each ran late (requests answered 503 were counted against their user's rate limit,
 * runs refused were queued for the nodes). Now what waits is what was sent in the first `timeoutMs`.
 * Before the client's first connection, calls are queued as before (the app's first requests wait for
 * it); a client without ioredis's `status` is only guarded against the stuck connection.
 */
export function connectedOnly(client: RedisClient, timeoutMs: number): RedisClient {
  const state = client as RedisClient & { status?: unknown };
  let away = () => false;
  if (typeof state.status === 'string') {
    let seen = everReady.get(client);
    if (seen === undefined) {
      const mark = { ready: state.status === 'ready' };
      seen = mark;
      everReady.set(client, mark);
      client.on('ready', () => {
        mark.ready = true;
      });
    }
    const once = seen;
    away = () => {
      const status = state.status as string;
      return status !== 'ready' && (AWAY.has(status) || (once.ready && status === 'connecting'));
    };
  }
  /** When each call in flight was sent, oldest first (a Set keeps insertion order). */
  const inFlight = new Set<{ at: number }>();
  const stuck = () => {
    for (const call of inFlight) return performance.now() - call.at >= timeoutMs;
    return false;
  };
  const call = (command: string, args: (string | number)[]): Promise<unknown> => {
    if (away()) return Promise.reject(new RedisStoreError('DISCONNECTED', 'Redis is not connected; the client is connecting again.'));
    if (stuck()) return Promise.reject(new RedisStoreError('TIMEOUT', `Redis has not answered a call sent ${timeoutMs} ms ago or more; nothing more is sent until it does.`));
    const entry = { at: performance.now() };
    inFlight.add(entry);
    const sent = client.call(command, args);
    const done = () => void inFlight.delete(entry);
    sent.then(done, done);
    return sent;
  };
  return {
    call,
    duplicate: () => client.duplicate(),
    subscribe: (...channels) => client.subscribe(...channels),
    unsubscribe: (...channels) => client.unsubscribe(...channels),
    on: (event, listener) => client.on(event, listener),
    disconnect: () => client.disconnect(),
  };
}

/** A Lua script, run with EVALSHA and, on a server that has not seen it yet (NOSCRIPT), once with EVAL. */
export class Script {
  readonly sha: string;

  constructor(
    readonly name: string,
    readonly lua: string,
  ) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  async run(client: RedisClient, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    const rest = [keys.length, ...keys, ...args];
    try {
      return await client.call('EVALSHA', [this.sha, ...rest]);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return client.call('EVAL', [this.lua, ...rest]);
    }
  }
}

/**
 * The server's clock in milliseconds, in a script: every instance measures leases and liveness by the
 * same clock, whatever the app machines' clocks say.
 */
export const LUA_NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * `ours(key, kind)`, in a script: a key of another type than the store writes there (a Redis writer's)
 * is deleted, so that the store starts it again instead of failing on it at every call.
 */
export const LUA_OURS = `local function ours(key, kind)
  local t = redis.call('TYPE', key).ok
  if t ~= kind and t ~= 'none' then redis.call('DEL', key) end
end`;

/**
 * KEYS[1] read as a sorted set of members by the time each ends, which its store keeps alive as long as
 * its latest member (every write sets the key's expiry to that member's end, or later): what the key
 * holds is input, and what breaks that rule is none the store wrote. Another type, or a set without an
 * expiry or with one longer than `longest` ms (a number, or a Lua expression), is deleted; a member that ends more than `slackMs` after
 * the set does is dropped (`now`, a Lua expression, is the clock its members' ends are on; `slackMs`
 * covers the difference between that clock and Redis's expiries). So a Redis writer's key refuses no
 * one for longer than its own expiry, never forever.
 */
export const luaTimedSet = (now: string, longest: number | string, slackMs: number) => `${LUA_OURS}
ours(KEYS[1], 'zset')
local life = redis.call('PTTL', KEYS[1])
if life == -1 or life > ${longest} then
  redis.call('DEL', KEYS[1])
elseif life > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '(' .. (${now} + life + ${slackMs}), '+inf')
end`;

/** Put before a caller's string that the stores write in another form (see `redisText`). */
const TEXT_MARKER = '\uffff';

/**
 * A caller's string (a user's key, an owner) as the stores write it into a key or a record. Redis keeps
 * UTF-8, in which every lone surrogate of a JavaScript string becomes U+FFFD: `'a\ud800'`, `'a\udfff'`
 * and `'a\ufffd'` would share one user's sessions, leases and limits, and each would read the others'
 * sessions. A string that is not well-formed UTF-16 (or that holds the marker, U+FFFF, a noncharacter)
 * goes as the marker and its JSON, where lone surrogates are escapes: distinct strings stay distinct,
 * and every other string is written as it is.
 */
export function redisText(text: string): string {
  return /\p{Cs}/u.test(text) || text.includes(TEXT_MARKER) ? TEXT_MARKER + JSON.stringify(text) : text;
}

/** The string `redisText` wrote as `stored`; undefined when no string is written so. */
export function fromRedisText(stored: string): string | undefined {
  if (!stored.startsWith(TEXT_MARKER)) return stored;
  let text: unknown;
  try {
    text = JSON.parse(stored.slice(TEXT_MARKER.length));
  } catch {
    return undefined;
  }
  return typeof text === 'string' && redisText(text) === stored ? text : undefined;
}

/** An integer reply, checked: Redis is a network peer, and what it says is input. */
export function integerReply(value: unknown, what: string): number {
  const n = typeof value === 'string' && /^-?\d{1,16}$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw new RedisStoreError('BAD_REPLY', `Redis answered ${what} with something other than an integer.`);
  return n;
}
