import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { EVENT_TYPES } from '@enclave-kit/engine';
import type { EnclaveEvent, EnclaveLogger, ExecutionResult, FinalSessionState, PausedSession, SessionRecord, SessionState, SessionStore } from '@enclave-kit/engine';
import { failure, isSessionId } from '@enclave-kit/engine/http';
import { Channels } from './channels.js';
import type { RedisClient, RedisStoreOptions } from './client.js';
import { LUA_NOW, LUA_OURS, RedisStoreError, Script, checkArguments, connectedOnly, fromRedisText, integerReply, luaTimedSet, readSecret, redisText, within } from './client.js';

export interface RedisSessionStoreOptions extends RedisStoreOptions {
  /**
   * Events kept per session (the stream's MAXLEN). Older ones are trimmed; a reader that resumes before
   * the oldest kept event gets one `events_dropped` event for the gap first. `final` is always kept.
   * Default 10,000.
   */
  maxEvents?: number;
  /** How long a session may stay `running` before Redis forgets it (a run that never ended). Default 1 hour. */
  maxRunningMs?: number;
  /**
   * The longest wait for an approval (ms) of the apps that share the store: their `sessions.maxPauseDuration`.
   * An owner's waiting places (see `maxWaitingPerUser`) that Redis says last longer are none an app
   * wrote, and are dropped as corrupt: one hostile write could otherwise refuse an owner every approval
   * for as long as it chose (years). A longer wait an app asks for itself is kept too. Default 24 hours
   * (the default `maxPauseDuration`).
   */
  maxPauseDuration?: number;
  /**
   * Finished sessions kept per owner in each of the store's 16 buckets (a session's bucket comes from
   * its id): when one more of an owner's sessions finishes in a bucket, the owner's oldest finished
   * session there is forgotten with its keys, as if it had expired (readers get 404, followers are
   * told). An owner so keeps at least its newest `maxFinishedPerOwner` finished sessions, and at most
   * 16 times as many. Running and paused sessions do not count. Default 100.
   */
  maxFinishedPerOwner?: number;
  /**
   * Bytes of finished sessions kept in all, a sixteenth in each bucket: for each session the JSON of
   * every event written to it (`final` included, and events `maxEvents` has trimmed since), its result
   * once more (the record holds it too), and 1 KiB. While a finish takes its bucket beyond its share,
   * the oldest finished session of the owner holding the most bytes in that bucket is forgotten, never
   * the session that just finished (its readers get its `final`): a bucket stays within its share plus
   * that one session. Default 256 MiB.
   */
  maxFinishedBytes?: number;
  /**
   * The longest value the store reads back from Redis (bytes, as Redis counts them): one event, a
   * session's result, owner or pending approval, a paused run's state; and what one `read` hands over
   * in all (at least one event). Whatever Redis holds is input: a longer value is measured and refused
   * in Redis, before it reaches this process, and read as one this app did not write (see `get` and
   * `read`). Set it above the largest result your runs may return (`maxOutputBytes` plus logs, in
   * UTF-8). Default 64 MiB.
   */
  maxValueBytes?: number;
  /**
   * Where the store says, once per session and in a fixed text with the session id, that Redis lost
   * the record of a session this instance still runs: written back, or (its bucket kept its other
   * data: evicted, expired) not. Default `console`.
   */
  logger?: Pick<EnclaveLogger, 'error'>;
  /**
   * A secret of 32 bytes or more (string or `Uint8Array`) that every app instance's store shares. Each
   * session's owner is then kept with an HMAC-SHA-256 over the session id and the owner, and a record
   * whose owner does not verify (a Redis writer changed it, copied it from another session, or it was
   * written without the secret) reads as missing: 404 for everyone, so nobody else reads, cancels or
   * decides it. Set it on every instance at once: sessions written before read as missing. Default none.
   */
  secret?: string | Uint8Array;
}

/**
 * Sessions are spread over this many index keys, each with its own hash tag. All keys of a session
 * share its index's tag, so every script touches one cluster slot. Fixed: every instance must agree.
 */
const BUCKETS = 16;
/** How long a new session waits for its instance's first `keepAlive` before it counts as lost. */
const FIRST_KEEPALIVE_MS = 30_000;
/** Stale sessions returned per index key and sweep; the next sweep takes the rest. */
const STALE_BATCH = 100;
const STATES: readonly SessionState[] = ['running', 'waiting_for_approval', 'completed', 'failed', 'cancelled'];
/** Paused sessions returned per index key and sweep for expiry; the next sweep takes the rest. */
const EXPIRED_BATCH = 100;
/** What a finished session takes besides its events and result (its hash, stream and index entries), roughly. */
const SESSION_OVERHEAD_BYTES = 1024;
/** How long a session the store ended itself (its pending approval did not read as one it wrote) stays readable: the HTTP core's default `ttlMs`. */
const REJECTED_TTL_MS = 10 * 60_000;

// Keys of a session: KEYS[1] its hash (owner, state, createdAt, lastSeq, result, cancel; while paused
// pending, pendingCall and paused), KEYS[2] its stream of events (ids `0-<seq>`, one field `e`: the
// event's JSON), the index of running sessions of its bucket (a sorted set of session ids by liveness
// deadline, on the server's clock) and the index of paused ones (by the end of their wait, on the
// app's clock, which also decides when a wait began). A session's hash also counts `bytes`, the JSON of
// the events written to it before the end.
//
// What finished sessions keep is counted per bucket, in keys under its tag: `finished` (a sorted set of
// the bucket's finished session ids by the time they expire, on the server's clock), `held` (a hash:
// session id -> "<bytes> <owner>"), `heaviest` (a sorted set of owners by the bytes they hold in the
// bucket), `finishedBytes` (their sum), `finishedSeq` (a counter that orders finishes), and one sorted
// set per owner, `o:<owner>`, of the owner's finished sessions in the bucket by that order. A session
// that expires leaves the counts at the bucket's next finish; one forgotten to make room leaves them
// with its keys.
//
// `epoch` (a string, no expiry) names the bucket's data: set by the first session created there, it
// goes only with everything else, when Redis loses its data (restarted without persistence, FLUSHALL).
// An instance keeps the epoch of each session it runs; a record missing under another epoch (or none)
// was lost, one missing under the same epoch was deleted by the store (expired, forgotten) or evicted.

// Keys of a bucket (its indexes, its counts) are shared by all its sessions, so one that does not hold
// what this store writes there (a Redis writer's, of another type) would fail every script of the
// bucket: `ours(key, type)` (client.ts) deletes it first, and the bucket starts that key again.

/** The bucket's epoch in `epoch`, set to ARGV[n] first if it has none (or one this store did not write). */
const LUA_EPOCH = (key: string, candidate: string) => `local epoch = redis.call('TYPE', ${key}).ok == 'string' and redis.call('STRLEN', ${key}) <= 64 and redis.call('GET', ${key})
if not epoch then
  epoch = ${candidate}
  redis.call('SET', ${key}, epoch)
end`;

/**
 * `ours` (see above) and the session's record, KEYS[1], read as input first: a key of another type there
 * is none this store wrote, so the session has no record. Every script that reads the record starts so:
 * HGET failed on such a key with WRONGTYPE, and every request on the session answered 503 for as long as
 * the key lived (a writer's SET has no expiry).
 */
const LUA_RECORD = `${LUA_OURS}
ours(KEYS[1], 'hash')`;

/**
 * How the scripts that write a session's events (APPEND, PAUSE, FINISH) write them, reading what they
 * build on as input.
 *
 * `addEvent(maxlen, seq, text)`: the event under its seq (`0-<seq>`) in the session's stream,
 * KEYS[2]. The store's ids come in order and below every other id, so a stream whose last id is already
 * past the seq holds ids no instance wrote (a Redis writer's `1-0`): every event and the session's end
 * failed on it, the session stayed running after its run had ended, and its readers waited for a `final`
 * until Redis forgot the record (maxRunningMs, an hour by default). The stream starts again with this
 * event, and readers are told of the gap as of events trimmed.
 *
 * `lastSeq()`: the record's lastSeq, the seq of the last event written. One that is not a number of at
 * most 13 digits is none an instance wrote (Lua writes a number of 15 digits or more with an exponent,
 * no id): the seq of the stream's last event stands for it, or 0. 1e17 there made every id invalid, the
 * same end as above.
 *
 * `countBytes(n)`: n more bytes of events in the record's `bytes`, which starts again from n when it
 * holds what HINCRBY cannot add to (not an integer, or at its largest): every append and pause failed.
 */
const LUA_EVENT_WRITES = `local function addEvent(maxlen, seq, text)
  local added = redis.pcall('XADD', KEYS[2], 'MAXLEN', maxlen, '0-' .. seq, 'e', text)
  if type(added) == 'table' and added.err then
    if not string.find(added.err, 'equal or smaller', 1, true) then error(added) end
    redis.call('DEL', KEYS[2])
    redis.call('XADD', KEYS[2], 'MAXLEN', maxlen, '0-' .. seq, 'e', text)
  end
end
local function lastSeq()
  local v = redis.call('HGET', KEYS[1], 'lastSeq')
  if type(v) == 'string' and #v <= 13 and string.match(v, '^%d+$') then return tonumber(v) end
  if not v then return 0 end
  local top = redis.call('TYPE', KEYS[2]).ok == 'stream' and redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)[1]
  local kept = top and string.match(top[1], '^0%-(%d+)$')
  return kept and #kept <= 13 and tonumber(kept) or 0
end
local function countBytes(n)
  local counted = redis.pcall('HINCRBY', KEYS[1], 'bytes', n)
  if type(counted) == 'table' then redis.call('HSET', KEYS[1], 'bytes', n) end
end`;

/** A new running session, listed in its index until its first keepAlive is due: the bucket's epoch, or 0 if the id is taken. */
const CREATE = new Script(
  'session create',
  `if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
${LUA_NOW}
${LUA_OURS}
ours(KEYS[2], 'zset')
${LUA_EPOCH('KEYS[3]', 'ARGV[6]')}
redis.call('HSET', KEYS[1], 'owner', ARGV[2], 'ownerMac', ARGV[7], 'state', 'running', 'createdAt', ARGV[3], 'lastSeq', 0)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[5]), ARGV[1])
return epoch`,
);

/**
 * A running session's record written again by the instance that runs it, after Redis lost it: only if
 * it is missing and the bucket's epoch is not ARGV[7] (the one the session was created under). Its
 * events go on after ARGV[4] (or after the last one its stream still holds), it is listed as running
 * and its readers are told to read again. The new epoch if written, 1 if the record is there, 0 if it
 * is missing under the same epoch (the store's own deletion, or an eviction: left alone).
 */
const RESTORE = new Script(
  'session restore',
  `if redis.call('EXISTS', KEYS[1]) == 1 then return 1 end
if redis.call('TYPE', KEYS[4]).ok == 'string' and redis.call('GET', KEYS[4]) == ARGV[7] then return 0 end
${LUA_NOW}
${LUA_OURS}
ours(KEYS[2], 'stream')
ours(KEYS[3], 'zset')
${LUA_EPOCH('KEYS[4]', 'ARGV[8]')}
local last = tonumber(ARGV[4])
local top = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)[1]
local kept = top and tonumber(string.match(top[1], '^0%-(%d+)$'))
if kept and kept > last then last = kept end
redis.call('HSET', KEYS[1], 'owner', ARGV[2], 'ownerMac', ARGV[10], 'state', 'running', 'createdAt', ARGV[3], 'lastSeq', last)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[6]), ARGV[1])
redis.call('PUBLISH', ARGV[9], 'e')
return epoch`,
);

/**
 * Events of a running session, in order. Seqs at or below the last one appended are skipped: a batch
 * whose reply was lost (a timeout) and is sent again adds nothing twice. -2 if there is no record, -1
 * if it is not running.
 */
const APPEND = new Script(
  'session append',
  `${LUA_RECORD}
${LUA_EVENT_WRITES}
ours(KEYS[2], 'stream')
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return -2 end
if state ~= 'running' then return -1 end
local last = lastSeq()
for i = 3, #ARGV, 2 do
  local seq = tonumber(ARGV[i])
  if seq > last then
    addEvent(ARGV[1], seq, ARGV[i + 1])
    countBytes(#ARGV[i + 1])
    last = seq
  end
end
redis.call('HSET', KEYS[1], 'lastSeq', last)
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
redis.call('PUBLISH', ARGV[2], 'e')
return last`,
);

/**
 * The end of a session, once: only while it is running or paused, the final event with the next seq,
 * the state and result, the expiry of everything, out of the indexes, and a notice to its readers. With
 * ARGV[8] (a time on the app's clock, or 'any'), only a paused session whose wait ends by then (its
 * score in the paused index) ends, and with ARGV[13] (a call id, or ''), only one paused on that call.
 * 1 if this call ended it.
 *
 * Then the bucket's finished sessions are bounded (KEYS[5..9]: finished, held, heaviest,
 * finishedBytes, finishedSeq; ARGV[9] the bucket's tag, ARGV[10] the prefix of readers' channels):
 * expired ones leave the counts, this one joins them, and older ones are forgotten while the owner has
 * more than ARGV[11] here, then while the bucket holds more than ARGV[12] bytes (the oldest of the
 * owner holding the most, never this one). Every key it touches is under the bucket's tag. -2 if
 * there is no record.
 */
const FINISH = new Script(
  'session finish',
  `${LUA_OURS}
${LUA_EVENT_WRITES}
-- A record or stream of another type is none this store wrote: the session has no record, and the
-- sweep that found it listed takes it off the indexes.
ours(KEYS[1], 'hash')
ours(KEYS[2], 'stream')
ours(KEYS[3], 'zset')
ours(KEYS[4], 'zset')
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'running' and state ~= 'waiting_for_approval' then
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('ZREM', KEYS[4], ARGV[1])
  if not state then return -2 end
  return 0
end
if ARGV[8] ~= '' then
  if state ~= 'waiting_for_approval' then return 0 end
  local ends = tonumber(redis.call('ZSCORE', KEYS[4], ARGV[1]))
  if ARGV[8] ~= 'any' and (not ends or ends > tonumber(ARGV[8])) then return 0 end
  if ARGV[13] ~= '' and redis.call('HGET', KEYS[1], 'pendingCall') ~= ARGV[13] then return 0 end
end
local seq = lastSeq() + 1
local event = '{"sessionId":"' .. ARGV[1] .. '","seq":' .. seq .. ',"type":"final","time":' .. ARGV[7] .. ',"payload":' .. ARGV[3] .. '}'
addEvent(ARGV[5], seq, event)
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'result', ARGV[3], 'lastSeq', seq)
redis.call('HDEL', KEYS[1], 'cancel', 'pending', 'pendingCall', 'paused')
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('PUBLISH', ARGV[6], 'f')
${LUA_NOW}
-- The counts are the bucket's, not the session's: counts that do not read as this store's start again
-- (the sessions they counted still expire), and the session has ended whatever they hold.
local counted = pcall(function()
local tag = ARGV[9]
local function release(id)
  local v = redis.call('HGET', KEYS[6], id)
  redis.call('ZREM', KEYS[5], id)
  if not v then return end
  redis.call('HDEL', KEYS[6], id)
  local sep = string.find(v, ' ', 1, true)
  local bytes, who = tonumber(string.sub(v, 1, sep - 1)), string.sub(v, sep + 1)
  redis.call('ZREM', tag .. ':o:' .. who, id)
  if tonumber(redis.call('ZINCRBY', KEYS[7], -bytes, who)) <= 0 then redis.call('ZREM', KEYS[7], who) end
  redis.call('DECRBY', KEYS[8], bytes)
end
local function forget(id, from)
  release(id)
  redis.call('ZREM', from, id)
  redis.call('DEL', tag .. ':s:' .. id, tag .. ':e:' .. id)
  redis.call('PUBLISH', ARGV[10] .. id .. ':events', 'x')
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now, 'LIMIT', 0, 100)) do release(id) end
local owner = redis.call('HGET', KEYS[1], 'owner') or ''
local mine = tag .. ':o:' .. owner
-- An owner's list of another type (a Redis writer's) would fail this count at every finish of theirs here.
ours(mine, 'zset')
local bytes = (tonumber(redis.call('HGET', KEYS[1], 'bytes')) or 0) + #event + #ARGV[3] + ${SESSION_OVERHEAD_BYTES}
redis.call('HSET', KEYS[6], ARGV[1], bytes .. ' ' .. owner)
redis.call('ZADD', KEYS[5], now + tonumber(ARGV[4]), ARGV[1])
redis.call('ZADD', mine, redis.call('INCR', KEYS[9]), ARGV[1])
redis.call('ZINCRBY', KEYS[7], bytes, owner)
redis.call('INCRBY', KEYS[8], bytes)
-- At most 1000 a finish, as below: an owner's list a Redis writer filled (a million members) was
-- emptied in one script, which blocked Redis for every instance as long as it took (300,000: a second).
for _ = 1, 1000 do
  if redis.call('ZCARD', mine) <= tonumber(ARGV[11]) then break end
  forget(redis.call('ZRANGE', mine, 0, 0)[1], mine)
end
for _ = 1, 1000 do
  if tonumber(redis.call('GET', KEYS[8]) or 0) <= tonumber(ARGV[12]) then break end
  local top = redis.call('ZREVRANGE', KEYS[7], 0, 0)[1]
  if not top then break end
  local theirs = tag .. ':o:' .. top
  ours(theirs, 'zset')
  local oldest = redis.call('ZRANGE', theirs, 0, 0)[1]
  -- Only the session that just finished is left to forget: it stays, its readers get its final.
  if oldest == ARGV[1] then break end
  if oldest then forget(oldest, theirs) else redis.call('ZREM', KEYS[7], top) end
end
end)
if not counted then redis.call('DEL', KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]) end
return 1`,
);

/**
 * A running session pauses for an approval, once: its approval_required event with the next seq, the
 * pending call and the paused run's state, out of the running index and into the paused one, kept
 * until the wait ends plus the finished sessions' time to live. 1 if this call paused it, -2 if there
 * is no record.
 */
const PAUSE = new Script(
  'session pause',
  `${LUA_RECORD}
${LUA_EVENT_WRITES}
ours(KEYS[2], 'stream')
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return -2 end
if state ~= 'running' then return 0 end
ours(KEYS[3], 'zset')
ours(KEYS[4], 'zset')
local seq = lastSeq() + 1
local event = '{"sessionId":"' .. ARGV[1] .. '","seq":' .. seq .. ',"type":"approval_required","time":' .. ARGV[2] .. ',"payload":' .. ARGV[3] .. '}'
addEvent(ARGV[5], seq, event)
countBytes(#event)
redis.call('HSET', KEYS[1], 'state', 'waiting_for_approval', 'pending', ARGV[3], 'pendingCall', ARGV[9], 'paused', ARGV[4], 'lastSeq', seq)
redis.call('HDEL', KEYS[1], 'cancel')
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[6])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[7], ARGV[1])
redis.call('PUBLISH', ARGV[8], 'p')
return 1`,
);

/**
 * The decision on a paused session's call, taken once: if it waits on that call and its wait has not
 * ended by ARGV[6] (the app's clock, against its score in the paused index) it runs again (listed as
 * running, alive for ARGV[3] ms as a new session is) and the paused state comes back with the last
 * seq, its owner, createdAt and the bucket's epoch; nil otherwise. A state or owner longer than ARGV[8]
 * bytes comes back empty (the HTTP core refuses an empty state and ends the session as STATE_REJECTED),
 * and so does the state of a record whose stream went on past its lastSeq (put back after a decision).
 */
const RESUME = new Script(
  'session resume',
  `${LUA_RECORD}
if redis.call('HGET', KEYS[1], 'state') ~= 'waiting_for_approval' or redis.call('HGET', KEYS[1], 'pendingCall') ~= ARGV[2] then return false end
local paused = redis.call('HGET', KEYS[1], 'paused')
local last = redis.call('HGET', KEYS[1], 'lastSeq')
local owner = redis.call('HGET', KEYS[1], 'owner')
local ownerMac = redis.call('HGET', KEYS[1], 'ownerMac') or ''
local created = redis.call('HGET', KEYS[1], 'createdAt')
if not paused or not last or not owner or not created then return false end
-- Measured before anything else reads them again (HSTRLEN reads no value).
local long = redis.call('HSTRLEN', KEYS[1], 'paused') > tonumber(ARGV[8]) or redis.call('HSTRLEN', KEYS[1], 'owner') > tonumber(ARGV[8]) or redis.call('HSTRLEN', KEYS[1], 'ownerMac') > 64
ours(KEYS[3], 'zset')
ours(KEYS[4], 'zset')
local ends = tonumber(redis.call('ZSCORE', KEYS[4], ARGV[1]))
if not ends or ends <= tonumber(ARGV[6]) then return false end
-- The pause wrote the stream's last entry, and lastSeq is its seq: a stream that went on after it
-- (entries, or an id handed out and deleted since) holds a decision taken already, and this record
-- was put back as it was before it (a replay): its state does not leave Redis either.
local lastId
if redis.call('TYPE', KEYS[2]).ok == 'stream' then
  local info = redis.call('XINFO', 'STREAM', KEYS[2])
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then lastId = info[i + 1] end
  end
end
if lastId ~= '0-' .. last then
  long = true
  -- Its end then goes after what the stream holds (an XADD at or below its last id fails).
  local went = lastId and tonumber(string.match(lastId, '^0%-(%d+)$'))
  if went and went > tonumber(last) then
    last = tostring(went)
    redis.call('HSET', KEYS[1], 'lastSeq', last)
  end
end
-- Longer than this app reads: it does not leave Redis, and the run it held does not resume.
if long then
  paused = ''
  owner = ''
  ownerMac = ''
end
${LUA_NOW}
${LUA_EPOCH('KEYS[5]', 'ARGV[7]')}
redis.call('HSET', KEYS[1], 'state', 'running')
redis.call('HDEL', KEYS[1], 'pending', 'pendingCall', 'paused')
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PUBLISH', ARGV[5], 'r')
return {paused, last, owner, created, epoch, ownerMac}`,
);

/**
 * A paused session's state as RESUME would hand it back, read without taking the decision (the HTTP
 * core reads the stats of a wait that ends from it): nil unless the session waits; empty when longer
 * than ARGV[1] bytes.
 */
const PAUSED_STATE = new Script(
  'session paused state',
  `${LUA_RECORD}
if redis.call('HGET', KEYS[1], 'state') ~= 'waiting_for_approval' then return false end
if redis.call('HSTRLEN', KEYS[1], 'paused') > tonumber(ARGV[1]) then return '' end
return redis.call('HGET', KEYS[1], 'paused') or false`,
);

/** How far apart app instances' clocks may be: a place ends on the clock of the instance that took it. */
const WAIT_CLOCK_SLACK_MS = 60_000;

/**
 * One of an owner's places for sessions waiting for approval (a sorted set of session ids by the end of
 * their wait, on the app's clock): the ended ones dropped, then taken for ARGV[1] until ARGV[4] unless
 * ARGV[2] others hold them all. The set lives as long as its latest place, so a key of another type, a
 * set without an expiry, one that expires later than ARGV[5] ms (the longest wait an app writes, and
 * the clocks' slack) or places that end after it are a Redis writer's (luaTimedSet), which would
 * otherwise refuse the owner every wait for as long as it lived. 1 if the session holds one.
 */
const HOLD_WAIT = new Script(
  'session holdWait',
  `${luaTimedSet('tonumber(ARGV[3])', 'tonumber(ARGV[5])', WAIT_CLOCK_SLACK_MS)}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
local latest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil(tonumber(latest[2]) - tonumber(ARGV[3]))))
return 1`,
);

/**
 * A session's record, each value longer than ARGV[1] bytes replaced by -1 there (measured, not read),
 * so that no value over the cap leaves Redis: owner, state, createdAt, result, pending, the owner's MAC.
 */
const LOOKUP = new Script(
  'session lookup',
  `${LUA_RECORD}
local out = {}
for i, field in ipairs({'owner', 'state', 'createdAt', 'result', 'pending', 'ownerMac'}) do
  if redis.call('HSTRLEN', KEYS[1], field) > tonumber(ARGV[1]) then out[i] = -1 else out[i] = redis.call('HGET', KEYS[1], field) end
end
return out`,
);

/**
 * Events from ARGV[1] (a stream id) on, at most ARGV[2] of them and ARGV[3] bytes in all (one at least):
 * an entry longer than ARGV[3] goes as its id alone with the field `x`, never its text. Then the
 * session's state and lastSeq, so that a reader learns whether an entry it cannot read was the `final`.
 * Events or a record under a key of another type are none this store wrote: deleted, as FINISH deletes
 * them (XRANGE and HGET failed on them, and so did every read of the session).
 */
const READ = new Script(
  'session read',
  `${LUA_OURS}
ours(KEYS[1], 'stream')
ours(KEYS[2], 'hash')
local max = tonumber(ARGV[3])
local left = max
local out = {}
for _, entry in ipairs(redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', ARGV[2])) do
  local size = 0
  for _, v in ipairs(entry[2]) do size = size + #v end
  if size > max then
    out[#out + 1] = {entry[1], {'x'}}
  else
    if #out > 0 and size > left then break end
    left = left - size
    out[#out + 1] = entry
  end
end
return {out, redis.call('HGET', KEYS[2], 'state') or false, redis.call('HGET', KEYS[2], 'lastSeq') or false}`,
);

/**
 * The ids of an index (KEYS[1]) scored before `until`, at most `count` of them. A member that is no
 * session id is no session's: it leaves the index (up to 10 batches of them a call), so that such
 * members never fill a sweep's batch.
 */
const LUA_DUE = (until: string, count: string) => `${LUA_OURS}
ours(KEYS[1], 'zset')
local out = {}
local count = tonumber(${count})
for _ = 1, 10 do
  local junk = 0
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ${until}, 'LIMIT', #out, count - #out)) do
    if #id <= 128 and not string.find(id, '[^%w_%-]') then
      out[#out + 1] = id
    else
      redis.call('ZREM', KEYS[1], id)
      junk = junk + 1
    end
  end
  if junk == 0 or #out >= count then break end
end
return out`;

/** Paused sessions of one index whose wait ended before ARGV[1] (the app's clock). */
const EXPIRED = new Script('session expired', LUA_DUE('ARGV[1]', 'ARGV[2]'));

/** Its instance is alive for ARGV[2] ms more. 1 if a cancel was asked for (a pub/sub message may be lost), -1 if it is not running, -2 if there is no record. */
const KEEP_ALIVE = new Script(
  'session keepAlive',
  `${LUA_RECORD}
ours(KEYS[2], 'zset')
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'running' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  if not state then return -2 end
  return -1
end
${LUA_NOW}
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
if redis.call('HGET', KEYS[1], 'cancel') then return 1 end
return 0`,
);

/** Running sessions of one index whose deadline has passed. */
const STALE = new Script(
  'session stale',
  `${LUA_NOW}
${LUA_DUE('now', 'ARGV[1]')}`,
);

/** A cancel request: a flag the owner's keepAlive sees, and a message it hears at once. */
const CANCEL = new Script(
  'session cancel',
  `${LUA_RECORD}
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'cancel', '1')
redis.call('PUBLISH', ARGV[1], 'c')
return 1`,
);

/**
 * Whether a cancel was asked of a running session (its flag): 1 or 0. Read when a run starts listening,
 * so one asked just before (while a decision was setting the run going again) is heard at once.
 */
const CANCEL_ASKED = new Script(
  'session cancel asked',
  `${LUA_RECORD}
if redis.call('HGET', KEYS[1], 'state') == 'running' and redis.call('HGET', KEYS[1], 'cancel') then return 1 end
return 0`,
);

/** FNV-1a of a string, the same on every instance. */
function fnv(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Which index (and hash tag) a session belongs to. */
function bucketOf(sessionId: string): number {
  return fnv(sessionId) % BUCKETS;
}

function badReply(what: string): RedisStoreError {
  return new RedisStoreError('BAD_REPLY', `Redis answered ${what} with something that is not what this store wrote.`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** `__proto__` keys are dropped: a record read back never carries one to the host's code or its clients. */
function withoutProto(key: string, value: unknown): unknown {
  return key === '__proto__' ? undefined : value;
}

/**
 * The deepest nesting of objects and arrays in what the store reads back: the realm writes a result 256
 * deep at most, tool arguments 64, and an event or a record adds a few levels. Deeper is none this app
 * wrote; parsed, it would reach its readers, and overflow the stack of whatever walks it
 * (JSON.stringify of a session's view threw, and the session answered 503 at every read).
 */
const MAX_DEPTH = 1000;

/** Whether JSON `text` nests objects and arrays deeper than `max` (brackets inside strings do not count). */
function nestedDeeper(text: string, max: number): boolean {
  // Each level opens with a character of its own.
  if (text.length <= max) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/**
 * JSON this store wrote, or undefined. Only a text that could hold a `__proto__` key (spelled out, or
 * behind a `\u` escape, which JSON.stringify writes only for control characters and lone surrogates)
 * pays for the reviver; a text nested deeper than MAX_DEPTH is not parsed.
 */
function parseJson(text: unknown): unknown {
  if (typeof text !== 'string' || nestedDeeper(text, MAX_DEPTH)) return undefined;
  try {
    return text.includes('__proto__') || text.includes('\\u') ? JSON.parse(text, withoutProto) : JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** What a reader gets for a session whose result, `final` or pending approval Redis holds but this store did not write (or longer than it reads). */
function rejected(what: string): ExecutionResult {
  return failure('STATE_REJECTED', 'StateRejectedError', `The session store holds ${what} that this app did not write (malformed, or longer than maxValueBytes); it was not read.`);
}

/**
 * A result as far as a reader relies on it: an object that says whether the run succeeded, and if not,
 * an error with a code, a name and a message (the HTTP core reads `error.code`: a failure without one
 * threw in the approvals route, and a decision on the session was answered 503 every time).
 */
function isResult(value: unknown): value is ExecutionResult {
  if (!isObject(value) || typeof value.success !== 'boolean') return false;
  const { error } = value;
  return value.success || (isObject(error) && typeof error.code === 'string' && typeof error.name === 'string' && typeof error.message === 'string');
}

/** A pending approval as this store wrote it: the call waiting, and when the wait ends. */
function isPending(value: unknown): value is NonNullable<SessionRecord['pendingApproval']> {
  return isObject(value) && Number.isSafeInteger(value.callId) && (value.callId as number) >= 1 && typeof value.tool === 'string' && typeof value.expiresAt === 'number' && Number.isFinite(value.expiresAt);
}

/** The seq in a stream entry's id (`0-<seq>`), whatever the entry holds. */
function seqOf(entry: unknown): number | undefined {
  const id: unknown = Array.isArray(entry) ? entry[0] : undefined;
  const m = typeof id === 'string' ? /^0-(\d{1,15})$/.exec(id) : null;
  return m === null ? undefined : Number(m[1]);
}

/**
 * The types of the events a run appends. `events_dropped` is not one: the store makes that marker as it
 * reads (a trimmed or unreadable stretch), from seqs it counted itself. One found in the stream is a
 * Redis writer's, whose numbers the HTTP core would believe: a `toSeq` of 1e308 hid every later gap
 * from the session's readers, and any payload went to its clients as the server's own marker.
 */
const STORED_TYPES: ReadonlySet<string> = new Set(EVENT_TYPES.filter((type) => type !== 'events_dropped'));

/** One stream entry `[id, [field, value, ...]]` as the event it holds, or undefined when it is not one this store wrote. */
function eventOf(sessionId: string, entry: unknown): EnclaveEvent | undefined {
  if (!Array.isArray(entry) || entry.length !== 2) return undefined;
  const fields: unknown = entry[1];
  const at = seqOf(entry);
  if (at === undefined || !Array.isArray(fields) || fields[0] !== 'e') return undefined;
  const event = parseJson(fields[1]);
  if (!isObject(event)) return undefined;
  const { seq, type, time, payload } = event;
  if (seq !== at || event.sessionId !== sessionId || typeof time !== 'number' || !isObject(payload)) return undefined;
  if (typeof type !== 'string' || !STORED_TYPES.has(type)) return undefined;
  if (type === 'final' && !isResult(payload)) return undefined;
  return event as unknown as EnclaveEvent;
}

/**
 * What the instance running a session knows of it, enough to write its record again if Redis loses it:
 * kept from `create` or `resume` until the session ends or pauses, is found ended, or outlives
 * `maxRunningMs`.
 */
interface Running {
  owner: string;
  createdAt: number;
  /** The bucket's epoch it was created or resumed under. */
  epoch: string;
  /** Until when (`performance.now()`) Redis keeps its record anyway: past it, a record missing expired. */
  until: number;
  /** The liveness its instance asked for last. */
  livenessMs: number;
  /** The highest seq handed to `append`, and the highest Redis took. */
  sent: number;
  written: number;
}

/** An epoch as this store writes it. */
function isEpoch(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 64;
}

function eventJson(event: EnclaveEvent): string {
  try {
    return JSON.stringify(event);
  } catch {
    // A payload JSON cannot carry: the event still arrives, saying so (as the core's streams do).
    return JSON.stringify({ ...event, payload: { unserializable: true } });
  }
}

/**
 * Sessions in Redis, so that any app instance serves any session: its events in a Redis Stream (replay
 * from any seq, bounded length), its owner, state and result in a hash, a notice over pub/sub for
 * readers and cancels, liveness in a sorted set that every instance sweeps for sessions whose instance
 * died (`stale()`), and the end written once by a script (`finish`).
 *
 * Pub/sub uses one extra connection per store (`client.duplicate()`, opened on first use and closed by
 * `dispose()`); everything else goes over `client`, which stays the caller's to close.
 *
 * @example
 * ```ts
 * const redis = new Redis(process.env.REDIS_URL);
 * app.use(enclave({ tools, sessions: { store: new RedisSessionStore(redis) } }));
 * ```
 * Defaults: keys under `enclave:`, 10,000 events per session, a running session kept at most 1 hour,
 * 100 finished sessions per owner in each of 16 buckets, 256 MiB of finished sessions in all (16 MiB a
 * bucket), 1000 ms command timeout.
 */
export class RedisSessionStore implements SessionStore {
  readonly #client: RedisClient;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #maxEvents: number;
  readonly #maxRunningMs: number;
  readonly #maxPauseMs: number;
  readonly #maxFinishedPerOwner: number;
  /** A bucket's share of `maxFinishedBytes`. */
  readonly #maxBucketBytes: number;
  readonly #maxValueBytes: number;
  /** Cancel listeners of the sessions this instance runs, for a cancel flag that keepAlive finds. */
  readonly #cancelListeners = new Map<string, Set<() => void>>();
  /** The sessions this instance runs. */
  readonly #running = new Map<string, Running>();
  /** Epochs this instance gives a bucket that has none: a new one each time (`<id>.<n>`), so one set after a loss never equals the one lost. */
  readonly #epochId = randomUUID();
  #epochs = 0;
  readonly #logger: Pick<EnclaveLogger, 'error'>;
  /** With a `secret`: the HMAC key of owners. */
  readonly #ownerKey: Uint8Array | undefined;
  #channels: Channels | undefined;
  #disposed = false;

  constructor(client: RedisClient, options: RedisSessionStoreOptions = {}) {
    const where = 'new RedisSessionStore(client, options)';
    const { check, o, prefix, timeoutMs } = checkArguments(where, client, options, ['maxEvents', 'maxRunningMs', 'maxPauseDuration', 'maxFinishedPerOwner', 'maxFinishedBytes', 'maxValueBytes', 'logger', 'secret']);
    this.#ownerKey = readSecret(check, o.secret, 'every instance');
    this.#logger = check.withMethods<Pick<EnclaveLogger, 'error'>>('logger', o.logger, ['error'], 'an error() method') ?? console;
    this.#maxEvents = check.positiveInteger('maxEvents', o.maxEvents) ?? 10_000;
    this.#maxRunningMs = check.positiveInteger('maxRunningMs', o.maxRunningMs, 'ms') ?? 60 * 60_000;
    this.#maxPauseMs = check.positiveInteger('maxPauseDuration', o.maxPauseDuration, 'ms') ?? 24 * 60 * 60_000;
    this.#maxFinishedPerOwner = check.positiveInteger('maxFinishedPerOwner', o.maxFinishedPerOwner) ?? 100;
    this.#maxBucketBytes = Math.ceil((check.positiveInteger('maxFinishedBytes', o.maxFinishedBytes, 'bytes') ?? 256 * 1024 * 1024) / BUCKETS);
    this.#maxValueBytes = check.positiveInteger('maxValueBytes', o.maxValueBytes, 'bytes') ?? 64 * 1024 * 1024;
    this.#client = connectedOnly(client, timeoutMs);
    this.#prefix = prefix;
    this.#timeoutMs = timeoutMs;
  }

  async create(session: { sessionId: string; owner: string; createdAt: number }): Promise<boolean> {
    const { sessionId } = session;
    if (!isSessionId(sessionId)) throw new TypeError('RedisSessionStore: not a session id.');
    const k = this.#keys(sessionId);
    const createdAt = Math.round(session.createdAt);
    // Before the call: Redis starts the record's time to live after this.
    const until = performance.now() + this.#maxRunningMs;
    // The owner as Redis keeps it: another user's key never reads as this one's (see redisText).
    const owner = redisText(session.owner);
    const reply = await this.#run(CREATE, [k.meta, k.index, k.epoch], [sessionId, owner, createdAt, this.#maxRunningMs, FIRST_KEEPALIVE_MS, this.#newEpoch(), this.#ownerMac(sessionId, owner)], 'a new session');
    if (reply === 0) return false;
    if (!isEpoch(reply)) throw badReply('a new session');
    this.#running.set(sessionId, { owner: session.owner, createdAt, epoch: reply, until, livenessMs: FIRST_KEEPALIVE_MS, sent: 0, written: 0 });
    return true;
  }

  async append(sessionId: string, events: readonly EnclaveEvent[]): Promise<void> {
    if (events.length === 0 || !isSessionId(sessionId)) return;
    const k = this.#keys(sessionId);
    const args: (string | number)[] = [this.#maxEvents, this.#channel(sessionId, 'events')];
    let first = Infinity;
    let highest = 0;
    for (const event of events) {
      if (!Number.isSafeInteger(event.seq) || event.seq < 1) throw new TypeError('RedisSessionStore: an event seq must be a positive integer.');
      args.push(event.seq, eventJson(event));
      first = Math.min(first, event.seq);
      highest = Math.max(highest, event.seq);
    }
    const mine = this.#running.get(sessionId);
    if (mine !== undefined) mine.sent = Math.max(mine.sent, highest);
    // Written again, the record goes on before this batch.
    const reply = await this.#owned(sessionId, first - 1, () => this.#run(APPEND, [k.meta, k.events], args, 'an append'), 'an append');
    if (reply === -1) this.#running.delete(sessionId);
    else if (reply >= 0 && mine !== undefined) mine.written = Math.max(mine.written, highest);
  }

  async read(sessionId: string, afterSeq: number, limit: number): Promise<EnclaveEvent[]> {
    if (!isSessionId(sessionId) || limit < 1) return [];
    const after = Math.max(0, Math.floor(afterSeq));
    const k = this.#keys(sessionId);
    const reply = await this.#run(READ, [k.events, k.meta], [`0-${after + 1}`, limit, this.#maxValueBytes], 'a read');
    if (!Array.isArray(reply) || reply.length !== 3 || !Array.isArray(reply[0])) throw badReply('a read');
    const [entries, state, lastSeq] = reply as [unknown[], unknown, unknown];
    const ended = typeof state === 'string' && state !== 'running' && state !== 'waiting_for_approval';
    const events: EnclaveEvent[] = [];
    let skipped: EnclaveEvent<'events_dropped'> | undefined;
    for (const entry of entries) {
      const event = eventOf(sessionId, entry);
      if (event !== undefined) {
        events.push(event);
        skipped = undefined;
        continue;
      }
      const seq = seqOf(entry);
      if (seq === undefined || seq <= after) continue;
      // The `final` of an ended session, unreadable: its readers still get an end.
      if (ended && String(seq) === lastSeq) {
        events.push({ sessionId, seq, type: 'final', time: Date.now(), payload: rejected('a final event') });
        skipped = undefined;
        continue;
      }
      // An entry this store did not write (or too long to read) is a gap the reader is told of, and
      // reads past: a batch of them never looks like the end of what there is.
      if (skipped !== undefined && skipped.seq === seq - 1) {
        skipped.seq = seq;
        skipped.payload.toSeq = seq;
        skipped.payload.count++;
      } else {
        skipped = { sessionId, seq, type: 'events_dropped', time: Date.now(), payload: { fromSeq: seq, toSeq: seq, count: 1 } };
        events.push(skipped);
      }
    }
    const first = events[0];
    // Trimmed by MAXLEN: the reader learns what it missed, and its next id resumes after the gap.
    if (first !== undefined && first.seq > after + 1) {
      const toSeq = first.seq - 1;
      const marker: EnclaveEvent<'events_dropped'> = { sessionId, seq: toSeq, type: 'events_dropped', time: first.time, payload: { fromSeq: after + 1, toSeq, count: toSeq - after } };
      events.unshift(marker);
      if (events.length > limit) events.pop();
    }
    return events;
  }

  subscribe(sessionId: string, listener: () => void): () => void {
    if (this.#disposed || !isSessionId(sessionId)) return () => {};
    // Any message (events appended, the end) and any resubscription mean: read again.
    return this.#pubsub().add(this.#channel(sessionId, 'events'), () => listener());
  }

  get(sessionId: string): Promise<SessionRecord | undefined> {
    return this.#lookup(sessionId, true);
  }

  /** The record; one waiting on an approval that does not read as one this store wrote is ended first (`mayEnd`). */
  async #lookup(sessionId: string, mayEnd: boolean): Promise<SessionRecord | undefined> {
    if (!isSessionId(sessionId)) return undefined;
    const reply = await this.#run(LOOKUP, [this.#keys(sessionId).meta], [this.#maxValueBytes], 'a session lookup');
    if (!Array.isArray(reply) || reply.length !== 6) throw badReply('a session lookup');
    const [owner, state, createdAt, resultText, pendingText, ownerMac] = reply as unknown[];
    if (owner === null && state === null) return undefined;
    // An owner this app did not write (missing, longer than it reads, not one redisText makes) names
    // nobody: the session is nobody's (404 for everyone), as one whose owner does not verify.
    if (typeof owner !== 'string' || !this.#ownerVerifies(sessionId, owner, ownerMac)) return undefined;
    const ownerKey = fromRedisText(owner);
    if (ownerKey === undefined) return undefined;
    const created = typeof createdAt === 'string' && /^\d{1,15}$/.test(createdAt) ? Number(createdAt) : undefined;
    // A state or creation time this app did not write: the session has ended for its owner, as one whose
    // result does not read has. Refusing the read instead answered every request on it with 503 for as
    // long as Redis kept the record (a writer's one HSET; its state also keeps every finish off it).
    if (typeof state !== 'string' || !(STATES as readonly string[]).includes(state) || created === undefined) {
      return { sessionId, owner: ownerKey, state: 'failed', createdAt: created ?? 0, result: rejected('a record') };
    }
    const record: SessionRecord = { sessionId, owner: ownerKey, state: state as SessionState, createdAt: created };
    if (state === 'running') return record;
    if (state === 'waiting_for_approval') {
      const pending = parseJson(pendingText);
      if (isPending(pending)) {
        record.pendingApproval = pending;
        return record;
      }
      if (!mayEnd) throw badReply('a session lookup');
      // Nobody could decide on what it shows: it ends, as a paused run's state that does not verify does.
      await this.finish(sessionId, 'failed', rejected('a pending approval'), REJECTED_TTL_MS, { waitEndsBy: Infinity });
      return this.#lookup(sessionId, false);
    }
    const result = parseJson(resultText);
    record.result = isResult(result) ? result : rejected('a result');
    return record;
  }

  async finish(sessionId: string, state: FinalSessionState, result: ExecutionResult, ttlMs: number, only?: { waitEndsBy: number; callId?: number }): Promise<boolean> {
    if (!isSessionId(sessionId)) return false;
    const k = this.#keys(sessionId);
    const waitEndsBy = only === undefined ? '' : only.waitEndsBy === Infinity ? 'any' : Math.floor(only.waitEndsBy);
    if (Number.isNaN(waitEndsBy)) throw new TypeError('RedisSessionStore: finish(..., { waitEndsBy }) needs a time.');
    const callId = only?.callId;
    if (callId !== undefined && !Number.isSafeInteger(callId)) throw new TypeError('RedisSessionStore: finish(..., { callId }) needs a call id.');
    const args = [sessionId, state, JSON.stringify(result), ttlMs, this.#maxEvents, this.#channel(sessionId, 'events'), Date.now(), waitEndsBy, k.tag, `${this.#prefix}session:`, this.#maxFinishedPerOwner, this.#maxBucketBytes, callId === undefined ? '' : String(callId)];
    const keys = [k.meta, k.events, k.index, k.waiting, `${k.tag}:finished`, `${k.tag}:held`, `${k.tag}:heaviest`, `${k.tag}:finishedBytes`, `${k.tag}:finishedSeq`];
    const finish = () => this.#run(FINISH, keys, args, 'a finish');
    // Only the end of a run goes back to a record Redis lost; one that ends a paused session (`only`) does not.
    if (only !== undefined) {
      const reply = integerReply(await finish(), 'a finish');
      if (reply === 1) this.#running.delete(sessionId);
      return reply === 1;
    }
    // `final` comes after every event the run handed over, those Redis lost or never took included.
    const reply = await this.#owned(sessionId, this.#running.get(sessionId)?.sent ?? 0, finish, 'a finish');
    this.#running.delete(sessionId);
    return reply === 1;
  }

  async pause(sessionId: string, paused: PausedSession, ttlMs: number): Promise<boolean> {
    if (!isSessionId(sessionId)) return false;
    const { approval } = paused;
    if (!isPending(approval)) throw new TypeError('RedisSessionStore: pause() needs an approval with callId, tool and expiresAt.');
    const k = this.#keys(sessionId);
    const now = Date.now();
    const keepMs = Math.max(1, Math.round(approval.expiresAt - now)) + ttlMs;
    const args = [sessionId, now, JSON.stringify(approval), paused.state, this.#maxEvents, keepMs, Math.round(approval.expiresAt), this.#channel(sessionId, 'events'), String(approval.callId)];
    const reply = await this.#owned(sessionId, this.#running.get(sessionId)?.sent ?? 0, () => this.#run(PAUSE, [k.meta, k.events, k.index, k.waiting], args, 'a pause'), 'a pause');
    // Paused (nobody runs it until a decision) or ended elsewhere: this instance no longer runs it.
    this.#running.delete(sessionId);
    return reply === 1;
  }

  async resume(sessionId: string, callId: number, livenessMs: number): Promise<{ state: string; lastSeq: number } | undefined> {
    if (!isSessionId(sessionId) || !Number.isSafeInteger(callId)) return undefined;
    const k = this.#keys(sessionId);
    const until = performance.now() + this.#maxRunningMs;
    const args = [sessionId, String(callId), livenessMs, this.#maxRunningMs, this.#channel(sessionId, 'events'), Date.now(), this.#newEpoch(), this.#maxValueBytes];
    const reply = await this.#run(RESUME, [k.meta, k.events, k.index, k.waiting, k.epoch], args, 'a resume');
    if (reply === null) return undefined;
    if (!Array.isArray(reply) || reply.length !== 6) throw badReply('a resume');
    const [state, last, owner, createdAt, epoch, ownerMac] = reply as unknown[];
    const digits = (v: unknown): v is string => typeof v === 'string' && /^\d{1,15}$/.test(v);
    if (typeof state !== 'string' || !digits(last) || typeof owner !== 'string' || !digits(createdAt) || !isEpoch(epoch)) throw badReply('a resume');
    // Its owner changed since the decision read it: the run is not resumed for anyone (any sweep ends it as RUN_LOST).
    if (!this.#ownerVerifies(sessionId, owner, ownerMac)) throw badReply('a resume');
    const ownerKey = fromRedisText(owner);
    if (ownerKey === undefined) throw badReply('a resume');
    const lastSeq = Number(last);
    this.#running.set(sessionId, { owner: ownerKey, createdAt: Number(createdAt), epoch, until, livenessMs, sent: lastSeq, written: lastSeq });
    return { state, lastSeq };
  }

  async pausedState(sessionId: string): Promise<string | undefined> {
    if (!isSessionId(sessionId)) return undefined;
    const reply = await this.#run(PAUSED_STATE, [this.#keys(sessionId).meta], [this.#maxValueBytes], 'a paused state read');
    return typeof reply === 'string' && reply !== '' ? reply : undefined;
  }

  async expired(): Promise<string[]> {
    const now = Date.now();
    const buckets = Array.from({ length: BUCKETS }, (_, b) => this.#run(EXPIRED, [this.#waitingKey(b)], [now, EXPIRED_BATCH], 'a sweep'));
    const out: string[] = [];
    for (const reply of await Promise.all(buckets)) {
      if (!Array.isArray(reply)) throw badReply('a sweep');
      for (const id of reply) if (isSessionId(id)) out.push(id);
    }
    return out;
  }

  async holdWait(owner: string, sessionId: string, max: number, until: number): Promise<boolean> {
    if (!isSessionId(sessionId)) return false;
    const now = Date.now();
    // What an app of this store writes: its own wait, or the longest it was told another may write.
    const longest = Math.max(this.#maxPauseMs, Math.round(until) - now) + WAIT_CLOCK_SLACK_MS;
    const reply = await this.#run(HOLD_WAIT, [this.#waitsKey(owner)], [sessionId, max, now, Math.round(until), longest], 'a hold on a waiting place');
    return integerReply(reply, 'a hold on a waiting place') === 1;
  }

  async releaseWait(owner: string, sessionId: string): Promise<void> {
    if (!isSessionId(sessionId)) return;
    await within(this.#client.call('ZREM', [this.#waitsKey(owner), sessionId]), this.#timeoutMs, 'a release of a waiting place');
  }

  async requestCancel(sessionId: string): Promise<boolean> {
    if (!isSessionId(sessionId)) return false;
    const reply = await this.#run(CANCEL, [this.#keys(sessionId).meta], [this.#channel(sessionId, 'cancel')], 'a cancel');
    return integerReply(reply, 'a cancel') === 1;
  }

  onCancel(sessionId: string, listener: () => void): () => void {
    if (this.#disposed || !isSessionId(sessionId)) return () => {};
    let local = this.#cancelListeners.get(sessionId);
    if (local === undefined) this.#cancelListeners.set(sessionId, (local = new Set()));
    local.add(listener);
    const own = local;
    const stop = this.#pubsub().add(this.#channel(sessionId, 'cancel'), (message) => {
      if (message === 'c') listener();
    });
    // Asked before this listener came (a run a decision has just resumed starts listening a moment after
    // the store set it running), or while its subscription was on its way: the flag says so.
    this.cancelAsked(sessionId).then(
      (asked) => {
        if (asked && own.has(listener)) listener();
      },
      () => {},
    );
    return () => {
      stop();
      own.delete(listener);
      if (own.size === 0 && this.#cancelListeners.get(sessionId) === own) this.#cancelListeners.delete(sessionId);
    };
  }

  async cancelAsked(sessionId: string): Promise<boolean> {
    if (!isSessionId(sessionId)) return false;
    return (await this.#run(CANCEL_ASKED, [this.#keys(sessionId).meta], [], 'a cancel check')) === 1;
  }

  async keepAlive(sessionId: string, ttlMs: number): Promise<false | undefined> {
    if (!isSessionId(sessionId)) return undefined;
    const k = this.#keys(sessionId);
    const mine = this.#running.get(sessionId);
    if (mine !== undefined) mine.livenessMs = ttlMs;
    // Written again, the record goes on after what Redis took: a batch on its way is not skipped.
    const reply = await this.#owned(sessionId, mine?.written ?? 0, () => this.#run(KEEP_ALIVE, [k.meta, k.index], [sessionId, ttlMs], 'a keepAlive'), 'a keepAlive');
    if (reply === -1) this.#running.delete(sessionId);
    // A cancel whose message this instance missed (its pub/sub connection was down at the time).
    if (reply === 1) for (const listener of Array.from(this.#cancelListeners.get(sessionId) ?? [])) listener();
    // Ended (by another instance's sweep, say: -1), or gone and not written again (-2, deleted after it
    // ended or evicted; its readers get SESSION_LOST): the run stops.
    return reply < 0 ? false : undefined;
  }

  async stale(): Promise<string[]> {
    // Runs whose end was never recorded (the store was down then) are forgotten once Redis would have.
    const now = performance.now();
    for (const [id, mine] of this.#running) if (mine.until <= now) this.#running.delete(id);
    const buckets = Array.from({ length: BUCKETS }, (_, b) => this.#run(STALE, [this.#indexKey(b)], [STALE_BATCH], 'a sweep'));
    const out: string[] = [];
    for (const reply of await Promise.all(buckets)) {
      if (!Array.isArray(reply)) throw badReply('a sweep');
      for (const id of reply) if (isSessionId(id)) out.push(id);
    }
    return out;
  }

  /** Closes the pub/sub connection and forgets the listeners; the client passed in stays open. */
  dispose(): void {
    this.#disposed = true;
    this.#cancelListeners.clear();
    this.#running.clear();
    this.#channels?.close();
    this.#channels = undefined;
  }

  #run(script: Script, keys: string[], args: (string | number)[], what: string): Promise<unknown> {
    return within(script.run(this.#client, keys, args), this.#timeoutMs, what);
  }

  /**
   * A call of the instance running a session (its integer reply). When it finds no record (-2) and
   * Redis lost it, the record is written again, its events going on after `lastSeq`, and the call made
   * once more.
   */
  async #owned(sessionId: string, lastSeq: number, call: () => Promise<unknown>, what: string): Promise<number> {
    const reply = integerReply(await call(), what);
    if (reply !== -2 || !(await this.#restore(sessionId, lastSeq))) return reply;
    return integerReply(await call(), what);
  }

  /** Writes the record of a session this instance runs again, if Redis lost it; true if it is there now. */
  async #restore(sessionId: string, lastSeq: number): Promise<boolean> {
    const mine = this.#running.get(sessionId);
    if (mine === undefined) return false;
    const left = Math.floor(mine.until - performance.now());
    // Past maxRunningMs its record expired, as it was meant to.
    if (left <= 0) {
      this.#running.delete(sessionId);
      return false;
    }
    const k = this.#keys(sessionId);
    const owner = redisText(mine.owner);
    const args = [sessionId, owner, mine.createdAt, Math.max(0, lastSeq), left, mine.livenessMs, mine.epoch, this.#newEpoch(), this.#channel(sessionId, 'events'), this.#ownerMac(sessionId, owner)];
    const reply = await this.#run(RESTORE, [k.meta, k.events, k.index, k.epoch], args, 'a restore');
    if (reply === 1) return true;
    if (reply === 0) {
      // Same epoch: deleted by the store (it expired, or was forgotten after another instance ended
      // it) or evicted. Which, nobody can tell; it is not written again, and its readers are told.
      this.#running.delete(sessionId);
      this.#logger.error(`enclave: the record of session ${sessionId} is gone from Redis while this instance still runs it, though Redis kept its other data (evicted under a maxmemory-policy other than noeviction, expired, or ended elsewhere): its end is not written, and its readers get SESSION_LOST.`);
      return false;
    }
    if (!isEpoch(reply)) throw badReply('a restore');
    mine.epoch = reply;
    this.#logger.error(`enclave: Redis lost the record of session ${sessionId} (restarted without its data, or flushed); this instance still runs it and wrote it again.`);
    return true;
  }

  /** The MAC kept beside a session's owner as Redis keeps it (`redisText`), base64url, or '' without a secret. */
  #ownerMac(sessionId: string, owner: string): string {
    if (this.#ownerKey === undefined) return '';
    return createHmac('sha256', this.#ownerKey).update(`enclave-session-owner/1\n${sessionId}\n${owner.length}\n${owner}`).digest('base64url');
  }

  /** Whether a record's owner is the one this app wrote for the session (always, without a secret); logs it when not. */
  #ownerVerifies(sessionId: string, owner: string, mac: unknown): boolean {
    if (this.#ownerKey === undefined) return true;
    const expected = Buffer.from(this.#ownerMac(sessionId, owner));
    const given = typeof mac === 'string' ? Buffer.from(mac) : Buffer.alloc(0);
    if (given.length === expected.length && timingSafeEqual(given, expected)) return true;
    this.#logger.error(`enclave: the owner of session ${sessionId} in Redis is not one this app wrote (RedisSessionStore secret): the session reads as missing.`);
    return false;
  }

  #newEpoch(): string {
    return `${this.#epochId}.${++this.#epochs}`;
  }

  #pubsub(): Channels {
    this.#channels ??= new Channels(this.#client.duplicate());
    return this.#channels;
  }

  #indexKey(bucket: number): string {
    return `${this.#prefix}{sessions:${bucket}}:running`;
  }

  #waitingKey(bucket: number): string {
    return `${this.#prefix}{sessions:${bucket}}:waiting`;
  }

  /**
   * The owner's waiting places: under a hash tag of its own (an owner's sessions are spread over every
   * bucket, so no session's slot could hold it), the owner's key in full after it.
   */
  #waitsKey(owner: string): string {
    const key = redisText(owner);
    return `${this.#prefix}{waits:${fnv(key)}}:${key}`;
  }

  #keys(sessionId: string): { tag: string; meta: string; events: string; index: string; waiting: string; epoch: string } {
    const bucket = bucketOf(sessionId);
    const tag = `${this.#prefix}{sessions:${bucket}}`;
    // `s:`, `e:` and `o:` keep a session or an owner named like the index (`running`) from meeting it.
    return { tag, meta: `${tag}:s:${sessionId}`, events: `${tag}:e:${sessionId}`, index: this.#indexKey(bucket), waiting: this.#waitingKey(bucket), epoch: `${tag}:epoch` };
  }

  /** FINISH builds the events channel of a session it forgets the same way. */
  #channel(sessionId: string, kind: 'events' | 'cancel'): string {
    return `${this.#prefix}session:${sessionId}:${kind}`;
  }
}
