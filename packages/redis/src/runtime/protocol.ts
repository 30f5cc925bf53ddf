/**
 * How app instances and runtime nodes talk over Redis. Everything here is read by the other side as
 * hostile input: every message is text of a bounded size, a JSON tuple whose first element names it,
 * checked field by field before anything acts on it.
 *
 * Distribution is a Redis Stream with one consumer group: each entry goes to exactly one node (NOACK:
 * never redelivered). A run of up to INLINE_JOB_CHARS travels in its entry; the node that reads it
 * deletes the entry and starts the run at once. The app decides whether that node has it: the first
 * acceptance carrying the run's token while the run is still queued wins; a later one (another node, or
 * after the queue timeout, when the app has answered RUNTIME_UNAVAILABLE and deleted the entry) is told
 * to cancel, and no tool of the run ever runs for it. A larger run waits under its own key with a time
 * to live (the queue timeout) and its entry names it: a node claims it by taking the key (GETDEL, after
 * checking its size against the node's cap) and the app, at its queue timeout, deletes the same key, so
 * exactly one of the two wins. After the start, each side sends on the other's pub/sub channel, or over
 * a direct connection from the node to the app when there is one (see direct.ts); presence keys with a
 * time to live tell each side that the other is still there.
 *
 * Keys (`P` is the prefix; `{rt}` keeps them in one Cluster slot):
 *   P{rt}:jobs          stream, group `nodes`: fields `r` = run id, `a` = the app instance's id, and
 *                       `j` = the RemoteJob JSON of a small run
 *   P{rt}:job:<run>     string: the RemoteJob JSON of a larger run, PX = queue timeout + a margin
 *   P{rt}:alive:<peer>  string: JSON of the peer's load (nodes) or `1` (apps), PX = 3 heartbeats
 *   P{rt}:epoch         string: a random id, no expiry, set by whoever finds none (see Presence)
 *   channel P rt:to:<peer>  messages to an app instance or a runtime node
 */
import type { NdValue } from '@enclave-kit/engine/isolation';
import type { RedisClient } from '../client.js';
import { LUA_OURS, Script, within } from '../client.js';

/** Ids of runs and peers: random, URL-safe, bounded. */
const ID = /^[A-Za-z0-9_-]{8,64}$/;

export function isId(value: unknown): value is string {
  return typeof value === 'string' && ID.test(value);
}

export function newId(kind: 'a' | 'n' | 'r' | 't'): string {
  return `${kind}${crypto.randomUUID().replaceAll('-', '')}`;
}

export const GROUP = 'nodes';
/**
 * Entries the stream keeps at most. Entries leave as they are read or withdrawn; the cap bounds what
 * apps that died with no node running leave behind.
 */
export const STREAM_MAXLEN = 10_000;
/**
 * The largest run that travels in its stream entry (UTF-16 units of its JSON; a typical agent run is a
 * few KiB). It is far below any node's payload cap that is useful; a node with a smaller cap refuses it.
 */
export const INLINE_JOB_CHARS = 64 * 1024;

export function runtimeKeys(prefix: string) {
  return {
    jobs: `${prefix}{rt}:jobs`,
    job: (run: string) => `${prefix}{rt}:job:${run}`,
    alive: (peer: string) => `${prefix}{rt}:alive:${peer}`,
    epoch: `${prefix}{rt}:epoch`,
    channel: (peer: string) => `${prefix}rt:to:${peer}`,
  };
}
export type RuntimeKeys = ReturnType<typeof runtimeKeys>;

/**
 * A side's heartbeat in one step: the epoch (set to ARGV[1] if there is none), whether its own presence
 * was there, its presence (KEYS[2] = ARGV[2] for ARGV[3] ms, unless ARGV[2] is empty), and whether each
 * peer's in KEYS[3..] is there: `{epoch, 0|1, 0|1...}`. Whatever the keys hold is input: presence is
 * only looked at (EXISTS, whatever its type or size), and an epoch that is not a string of at most
 * ARGV[4] bytes comes back nil. So a forged key answers for its own peer only, never fails the beat
 * for the others, and never sends this side more than an epoch's length.
 */
const BEAT = new Script(
  'presence',
  `local epoch = false
local kind = redis.call('TYPE', KEYS[1]).ok
if kind == 'none' then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
elseif kind == 'string' and redis.call('STRLEN', KEYS[1]) <= tonumber(ARGV[4]) then
  epoch = redis.call('GET', KEYS[1])
end
local out = {epoch, redis.call('EXISTS', KEYS[2])}
if ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3]) end
for i = 3, #KEYS do out[#out + 1] = redis.call('EXISTS', KEYS[i]) end
return out`,
);

/** The longest epoch a side takes: newId() makes 33 characters. */
const MAX_EPOCH_CHARS = 64;

/** After Redis lost its data, at least this long before a peer's missing presence means it is gone. */
const LOSS_GRACE_MS = 10_000;
/** A loss of Redis's data is believed at most once in this long: a Redis writer who keeps changing the epoch does not keep every peer alive. */
const LOSS_COOLDOWN_MS = 60_000;

/**
 * Presence of one side (an app instance or a node): it says it is alive every heartbeat, and finds
 * which of its peers stopped saying so. A presence key missing is a peer gone, unless Redis lost its
 * data (restarted without persistence, FLUSHALL), which takes every presence key with it: the epoch,
 * a key without expiry, goes only then, and a side that sees it change, with its own presence gone as
 * well, gives its peers the longer of 3 of its heartbeats and LOSS_GRACE_MS to say they are alive again
 * before it counts any as gone; at most once in LOSS_COOLDOWN_MS.
 *
 * Presence keys are not signed: a signature would not stop a Redis writer from deleting them (which
 * ends runs as RUNTIME_LOST anyway), and a signed value could be copied back after its peer died. What
 * a forged key can do is bounded instead: it keeps its own peer counted alive, whose runs then end at
 * their deadline, which the app keeps itself.
 */
export class Presence {
  readonly #client: RedisClient;
  readonly #keys: RuntimeKeys;
  readonly #self: string;
  readonly #heartbeatMs: number;
  readonly #timeoutMs: number;
  #epoch: string | undefined;
  #graceUntil = 0;
  /** Before this, a change of epoch is not taken for a loss of Redis's data. */
  #graceAgainAt = 0;

  constructor(client: RedisClient, keys: RuntimeKeys, self: string, heartbeatMs: number, timeoutMs: number) {
    this.#client = client;
    this.#keys = keys;
    this.#self = self;
    this.#heartbeatMs = heartbeatMs;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Says this side is alive with `value` (unless undefined) and answers which of `peers` are gone.
   * Rejects when Redis does not answer in time: no conclusion.
   */
  async beat(value: string | undefined, peers: readonly string[]): Promise<Set<string>> {
    const keys = [this.#keys.epoch, this.#keys.alive(this.#self), ...peers.map(this.#keys.alive)];
    // A new epoch each time: one set again after a loss must differ from the one lost.
    const reply = await within(BEAT.run(this.#client, keys, [newId('t'), value ?? '', this.#heartbeatMs * 3, MAX_EPOCH_CHARS]), this.#timeoutMs, 'a heartbeat');
    if (!Array.isArray(reply) || reply.length !== peers.length + 2) return new Set();
    const [epoch, mine] = reply as unknown[];
    const now = performance.now();
    // Lost data takes this side's own presence too; an epoch that is not one a side wrote says nothing.
    if (typeof epoch === 'string') {
      if (this.#epoch !== undefined && epoch !== this.#epoch && mine === 0 && now >= this.#graceAgainAt) {
        this.#graceUntil = now + Math.max(LOSS_GRACE_MS, this.#heartbeatMs * 3);
        this.#graceAgainAt = now + LOSS_COOLDOWN_MS;
      }
      this.#epoch = epoch;
    }
    if (now < this.#graceUntil) return new Set();
    return new Set(peers.filter((_, i) => reply[i + 2] === 0));
  }
}

/**
 * `queue(fields)`, in a script: XADD to the queue (KEYS[#KEYS]), which every app and node shares, read
 * as input first. A Redis writer's one write, never repeated, would otherwise stop every run of every
 * app for as long as it lived (forever: the queue has no expiry), each one RUNTIME_UNAVAILABLE:
 * - a key of another type (SET): every XADD fails with WRONGTYPE. It is deleted;
 * - a stream at the last possible id (an entry or XSETID there): every XADD '*' fails ('exhausted').
 *   It is started again;
 * - the nodes' group moved past the entry just added (XGROUP SETID to the far future): no node ever
 *   reads it. The group is moved back to just before it (what was queued meanwhile timed out anyway);
 * - more groups than MAX_GROUPS (only `nodes` is ours): checking them would cost every run. The queue
 *   is started again.
 * A queue started again has no group: the nodes, told NOGROUP, make theirs, as after a Redis restart.
 */
const MAX_GROUPS = 8;
const LUA_QUEUE = `${LUA_OURS}
local function queue(fields)
  local jobs = KEYS[#KEYS]
  ours(jobs, 'stream')
  local function add(call) return call('XADD', jobs, 'MAXLEN', '~', '${STREAM_MAXLEN}', '*', unpack(fields)) end
  local entry = add(redis.pcall)
  if type(entry) == 'table' and entry.err then
    if not string.find(entry.err, 'exhausted', 1, true) then error(entry) end
    redis.call('DEL', jobs)
    return add(redis.call)
  end
  local groups = redis.call('XINFO', 'GROUPS', jobs)
  if #groups > ${MAX_GROUPS} then
    redis.call('DEL', jobs)
    return add(redis.call)
  end
  local ms, seq = string.match(entry, '^(%d+)-(%d+)$')
  for _, group in ipairs(groups) do
    local info = {}
    for i = 1, #group - 1, 2 do info[group[i]] = group[i + 1] end
    if info['name'] == '${GROUP}' and type(info['last-delivered-id']) == 'string' then
      local lms, lseq = string.match(info['last-delivered-id'], '^(%d+)-(%d+)$')
      if lms and (tonumber(lms) > tonumber(ms) or (lms == ms and tonumber(lseq) >= tonumber(seq))) then
        local before = tonumber(seq) > 0 and (ms .. '-' .. (tonumber(seq) - 1)) or (string.format('%d', tonumber(ms) - 1) .. '-18446744073709551615')
        redis.call('XGROUP', 'SETID', jobs, '${GROUP}', before)
      end
    end
  end
  return entry
end`;

/**
 * The nodes' group on the queue, made if it is not there (a node's start, and its read after Redis lost
 * it: NOGROUP). KEYS: jobs. A queue of another type is a Redis writer's, deleted first as `queue` deletes
 * it: XGROUP CREATE failed on it with WRONGTYPE, so one write stopped every node from starting (and kept
 * running ones from reading) until some app queued a run. 1 if made, 0 if it was there.
 */
export const ENSURE_GROUP = new Script(
  'ensure group',
  `${LUA_OURS}
ours(KEYS[1], 'stream')
local made = redis.pcall('XGROUP', 'CREATE', KEYS[1], '${GROUP}', '0', 'MKSTREAM')
if type(made) == 'table' and made.err then
  if string.find(made.err, 'BUSYGROUP', 1, true) then return 0 end
  return made
end
return 1`,
);

/** Queues a small run in its entry. KEYS: jobs. ARGV: run id, app id, job JSON. The entry's id. */
export const ENQUEUE_INLINE = new Script(
  'enqueue inline',
  `${LUA_QUEUE}
return queue({'r', ARGV[1], 'a', ARGV[2], 'j', ARGV[3]})`,
);

/** Stores a larger run and queues its id, in one step. KEYS: job, jobs. ARGV: job JSON, ttl ms, run id, app id. */
export const ENQUEUE = new Script(
  'enqueue',
  `${LUA_QUEUE}
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
queue({'r', ARGV[3], 'a', ARGV[4]})
return 1`,
);

/**
 * Takes a run off its key: nil when it is gone (taken, withdrawn, expired), -1 when it is larger than
 * the node accepts (then it is dropped, unread). KEYS: job. ARGV: the node's size cap.
 */
export const CLAIM = new Script(
  'claim',
  `local n = redis.call('STRLEN', KEYS[1])
if n == 0 then return false end
if n > tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return -1
end
return redis.call('GETDEL', KEYS[1])`,
);

/** A run as it waits in Redis for a node. The node rebuilds it field by field (see node.ts). */
export interface RemoteJob {
  v: 1;
  run: string;
  /** The app instance that owns the run: replies go to its channel. */
  app: string;
  /**
   * A secret of this run, read only by the node that claims it: its acceptance must carry it, so no
   * one else can take the run's conversation over.
   */
  token: string;
  /** Where the app listens for direct connections from nodes (`host:port`), if it does. */
  reach?: string;
  /** The rewritten script (also its compile-cache key on the node). */
  source: string;
  limits: Record<string, number>;
  input: string | null;
  globals: string | null;
  names: string[];
  fnNames: string[];
  /** Milliseconds the run had left when it was queued. */
  remaining: number;
  realm: { intl: boolean; proxy: boolean };
  /**
   * A durable run, both or neither (see IsolatedJob): the values its non-deterministic sources gave
   * before, handed back in order, and how many it may take in all.
   */
  replayNd?: NdValue[];
  maxNd?: number;
  /**
   * What the node's realm needs to put the frames of a stack the script reads (`err.stack`) in the
   * user's own source (IsolatedJob.positions: the rewriter's anchors, the user's text, where that text
   * starts in the wrapped original), sent with the job as a worker's job carries it. Absent (an app from
   * before, or a text too large to send twice): frames keep the rewritten script's columns.
   */
  positions?: { anchors: string; text: string; prefix: number };
  /**
   * 1: the app reads a tool call's arguments framed in `entry` (their length in the call, the text
   * after the first newline, ahead of a report's value) instead of as a string inside the JSON. Apps
   * from before it leave it out, and nodes from before it ignore it.
   */
  framed?: 1;
}

/** App -> node. On a direct connection, the app's answer to a node's hello comes first: `['welcome', app]`. */
export type ToNode =
  /** The reply to tool call `callId`: `[ok, payload]` as in `ToolReply`. */
  | ['reply', run: string, callId: number, ok: 0 | 1, payload: string]
  /**
   * The same, with the payload (JSON already) after the first newline instead of escaped inside this
   * JSON: sent to nodes that said they read it (`framed` in `accept`).
   */
  | ['reply', run: string, callId: number, ok: 0 | 1]
  /** The app ended the run (deadline, abort, result, or it does not know the run): stop it. */
  | ['cancel', run: string]
  /** On a direct connection, the answer to the node's hello. */
  | ['welcome', app: string];

/** Why a node gave up a run, as a code: the app words the error itself. */
export type NodeFailure = 'MEMORY_LIMIT_EXCEEDED' | 'RUNTIME_ERROR' | 'INTERNAL_ERROR' | 'QUEUE_FULL' | 'SHUTDOWN' | 'TOO_LARGE';
export const NODE_FAILURES: ReadonlySet<unknown> = new Set<NodeFailure>(['MEMORY_LIMIT_EXCEEDED', 'RUNTIME_ERROR', 'INTERNAL_ERROR', 'QUEUE_FULL', 'SHUTDOWN', 'TOO_LARGE']);

/**
 * Node -> app. An `entry` with a report carries the value's codec text after the first newline (after
 * the calls' arguments, for an app that said `framed`: each call is then `[callId, name, length]`); in a
 * durable run, its last field is the values the run's non-deterministic sources gave in it (EntryOutput.nd).
 * In `accept`, `maxMessage` is the longest message (in characters) the node reads, so that the app can
 * turn a tool reply the node would drop into an error the script sees at once; `framed` is 1 when the
 * node reads replies whose payload follows the newline. Nodes from before each was added leave it out
 * (older nodes get the payload inside the reply's JSON).
 */
export type ToApp = ['accept', run: string, node: string, token: string, maxMessage?: number, framed?: 1] | ['entry', run: string, calls: unknown[], logs: unknown[], end: unknown, nd?: NdValue[]] | ['failed', run: string, code: NodeFailure];

/**
 * Node -> app, first on a direct connection: the node's id and the app's, which only Redis could have
 * told it, and the node's clock (ms since 1970), so that a signed hello is good for a short while only.
 */
export type Hello = ['hello', node: string, app: string, time: number];

/** A run as a stream entry names it: its entry id, and its JSON if it travels in the entry. */
export interface StreamJob {
  entry: string;
  run: string;
  app: string;
  job: string | undefined;
}

/** A stream entry's id as Redis makes them. */
export function isEntryId(value: unknown): value is string {
  return typeof value === 'string' && /^\d{1,20}-\d{1,20}$/.test(value);
}

/** A reply of XREADGROUP, checked: the runs it names (anything else in it is skipped). */
export function readStreamJobs(reply: unknown): StreamJob[] {
  const jobs: StreamJob[] = [];
  if (!Array.isArray(reply)) return jobs;
  for (const stream of reply) {
    const entries: unknown = Array.isArray(stream) ? stream[1] : undefined;
    if (!Array.isArray(entries)) continue;
    for (const entry of entries) {
      if (!Array.isArray(entry) || !isEntryId(entry[0])) continue;
      const fields: unknown = entry[1];
      if (!Array.isArray(fields) || fields[0] !== 'r' || !isId(fields[1]) || fields[2] !== 'a' || !isId(fields[3])) continue;
      if (fields.length === 4) jobs.push({ entry: entry[0], run: fields[1], app: fields[3], job: undefined });
      else if (fields.length === 6 && fields[4] === 'j' && typeof fields[5] === 'string') jobs.push({ entry: entry[0], run: fields[1], app: fields[3], job: fields[5] });
    }
  }
  return jobs;
}

/** Every message on a runtime channel starts so: its kind, then the run it is about (JSON.stringify adds no space). */
const HEAD = /^\["([a-z]{1,8})","([A-Za-z0-9_-]{8,64})"/;

/** The kind and run a message names, read off its first characters without parsing it; undefined if it names none. */
export function messageHead(text: string): { kind: string; run: string } | undefined {
  const m = HEAD.exec(text);
  return m === null ? undefined : { kind: m[1] as string, run: m[2] as string };
}

/**
 * Listens to `channel` on the pub/sub connection `sub`, measuring each message before it becomes text:
 * one of more than `maxBytes` (no peer sends one) goes to `onOversize` and is never decoded, parsed or
 * verified. ioredis hands every message over as bytes first; without a `message` listener it never
 * decodes one itself.
 */
export function listenTo(sub: RedisClient, channel: string, maxBytes: number, onMessage: (text: string) => void, onOversize: () => void): void {
  const name = Buffer.from(channel);
  sub.on('messageBuffer', (on: unknown, message: unknown) => {
    if (!Buffer.isBuffer(on) || !on.equals(name) || !Buffer.isBuffer(message)) return;
    if (message.length > maxBytes) onOversize();
    else onMessage(message.toString('utf8'));
  });
}
