/**
 * How app instances and runtime nodes talk over Redis. Everything here is read by the other side as
 * hostile input: every message is text of a bounded size, a JSON tuple whose first element names it,
 * checked field by field before anything acts on it.
 *
 * Distribution is a Redis Stream with one consumer group: an app adds the run's id to the stream and
 * keeps the run itself under its own key with a time to live (the queue timeout); a node with a free
 * worker reads ids from the group (each id goes to exactly one node, NOACK: never redelivered) and
 * claims the run by taking its key (GETDEL). The app, at its queue timeout, deletes the same key: exactly
 * one of the two wins, so a run is either taken by one node or answered RUNTIME_UNAVAILABLE, never both.
 * After the claim, each side sends on the other's pub/sub channel; presence keys with a time to live
 * tell each side that the other is still there.
 *
 * Keys (`P` is the prefix; `{rt}` keeps them in one Cluster slot):
 *   P{rt}:jobs          stream, group `nodes`: fields `r` = run id, `a` = the app instance's id
 *   P{rt}:job:<run>     string: the RemoteJob JSON, PX = queue timeout + a margin
 *   P{rt}:alive:<peer>  string: JSON of the peer's load (nodes) or `1` (apps), PX = 3 heartbeats
 *   channel P rt:to:<peer>  messages to an app instance or a runtime node
 */
import type { NdValue } from '@enclave-kit/engine/isolation';
import { Script } from '../client.js';

/** Ids of runs and peers: random, URL-safe, bounded. */
const ID = /^[A-Za-z0-9_-]{8,64}$/;

export function isId(value: unknown): value is string {
  return typeof value === 'string' && ID.test(value);
}

export function newId(kind: 'a' | 'n' | 'r'): string {
  return `${kind}${crypto.randomUUID().replaceAll('-', '')}`;
}

export const GROUP = 'nodes';
/** Entries the stream keeps at most (its ids only; jobs live under their own keys). */
const STREAM_MAXLEN = 10_000;

export function runtimeKeys(prefix: string) {
  return {
    jobs: `${prefix}{rt}:jobs`,
    job: (run: string) => `${prefix}{rt}:job:${run}`,
    alive: (peer: string) => `${prefix}{rt}:alive:${peer}`,
    channel: (peer: string) => `${prefix}rt:to:${peer}`,
  };
}
export type RuntimeKeys = ReturnType<typeof runtimeKeys>;

/** Stores the run and queues its id, in one step. KEYS: job, jobs. ARGV: job JSON, ttl ms, run id, app id. */
export const ENQUEUE = new Script(
  'enqueue',
  `redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', '${STREAM_MAXLEN}', '*', 'r', ARGV[3], 'a', ARGV[4])
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
}

/** App -> node. */
export type ToNode =
  /** The reply to tool call `callId`: `[ok, payload]` as in `ToolReply`. */
  | ['reply', run: string, callId: number, ok: 0 | 1, payload: string]
  /** The app ended the run (deadline, abort, result, or it does not know the run): stop it. */
  | ['cancel', run: string];

/** Why a node gave up a run, as a code: the app words the error itself. */
export type NodeFailure = 'MEMORY_LIMIT_EXCEEDED' | 'RUNTIME_ERROR' | 'INTERNAL_ERROR' | 'QUEUE_FULL' | 'SHUTDOWN' | 'TOO_LARGE';
export const NODE_FAILURES: ReadonlySet<unknown> = new Set<NodeFailure>(['MEMORY_LIMIT_EXCEEDED', 'RUNTIME_ERROR', 'INTERNAL_ERROR', 'QUEUE_FULL', 'SHUTDOWN', 'TOO_LARGE']);

/**
 * Node -> app. An `entry` with a report carries the value's codec text after the first newline; in a
 * durable run, its last field is the values the run's non-deterministic sources gave in it (EntryOutput.nd).
 */
export type ToApp = ['accept', run: string, node: string] | ['entry', run: string, calls: unknown[], logs: unknown[], end: unknown, nd?: NdValue[]] | ['failed', run: string, code: NodeFailure];

/** A reply of XREADGROUP, checked: the runs it names (anything else in it is skipped). */
export function readStreamIds(reply: unknown): { run: string; app: string }[] {
  const ids: { run: string; app: string }[] = [];
  if (!Array.isArray(reply)) return ids;
  for (const stream of reply) {
    const entries: unknown = Array.isArray(stream) ? stream[1] : undefined;
    if (!Array.isArray(entries)) continue;
    for (const entry of entries) {
      const fields: unknown = Array.isArray(entry) ? entry[1] : undefined;
      if (Array.isArray(fields) && fields[0] === 'r' && isId(fields[1]) && fields[2] === 'a' && isId(fields[3])) ids.push({ run: fields[1], app: fields[3] });
    }
  }
  return ids;
}

/** The text of a pub/sub message as ioredis hands it over (a Buffer only if the client asked for one). */
export function messageText(message: unknown): string | undefined {
  if (typeof message === 'string') return message;
  if (Buffer.isBuffer(message)) return message.toString('utf8');
  return undefined;
}
