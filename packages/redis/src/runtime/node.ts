/**
 * A runtime node: takes runs from the Redis queue and executes them in its own `worker_threads` pool,
 * with the engine's locked realms, limits and budgets. It holds no tools, no secrets and no user
 * identity: every `callTool` goes back to the app instance that owns the run. What an app asks for is
 * bounded by the node's own caps (time, heap, payload sizes), whatever the message says; a run whose
 * app instance stops saying it is alive is stopped and its worker freed.
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { availableParallelism } from 'node:os';
import type { EntryOutput, IsolatedJob, IsolatedRun, IsolationFailureCode, RealmLimits, ScriptPositions, WorkerPoolConfig } from '@enclave-kit/engine/isolation';
import { WORKER_POOL_PRESETS, WorkerPool, formatMessage, installRejectionGuard, isNdValues, jsonWithin, maxMessageBytes, wireEntry } from '@enclave-kit/engine/isolation';
import { LEVEL_CONFIGS } from '@enclave-kit/engine';
import { OptionChecker } from '@enclave-kit/engine/http';
import type { RedisClient } from '../client.js';
import { DEFAULT_COMMAND_TIMEOUT_MS, DEFAULT_PREFIX, readSecret, within } from '../client.js';
import { MessageAuth, inOrder, receiveMessage, seal, unverifiedText } from './auth.js';
import { HANDSHAKE_FRAME_BYTES, MAX_LINKS, frameCap, parseAddress, readConnection, writeFrame } from './direct.js';
import type { Hello, NodeFailure, RuntimeKeys, StreamJob, ToApp } from './protocol.js';
import { CLAIM, ENSURE_GROUP, GROUP, INLINE_JOB_CHARS, Presence, isId, listenTo, messageHead, newId, readStreamJobs, runtimeKeys } from './protocol.js';

const MB = 1024 * 1024;

export interface RuntimeNodeOptions {
  /** A Redis URL (`redis://127.0.0.1:6379`) or an ioredis client (the node duplicates two more connections from it). */
  redis: string | RedisClient;
  /** Runs at once, each in its own worker. Default: the machine's CPU count. */
  concurrency?: number;
  /** Must match the apps' `redisRuntime({ prefix })`. Default `'enclave:'`. */
  prefix?: string;
  /** The longest a run may take here, whatever the app asks. Default 60,000 ms. */
  maxTimeoutMs?: number;
  /** V8 heap per worker (`resourceLimits`), in bytes; a run's `memoryLimit` is capped to it. Default 256 MiB. */
  memoryLimitPerWorker?: number;
  /** The largest run, tool reply or other message the node reads, in bytes; payload limits are capped to it. Default 32 MiB. */
  maxPayloadBytes?: number;
  /** Messages a worker may send per second (flooding ends its run). Default 1000. */
  maxMessagesPerSecond?: number;
  /** A worker is replaced after this many runs. Default 1000. */
  maxExecutionsPerWorker?: number;
  /** How often the node says it is alive and checks the apps of its runs. Default 1000 ms. */
  heartbeatMs?: number;
  /** Deadline of every Redis command but the blocking read. Default 1000 ms. */
  commandTimeoutMs?: number;
  /**
   * The secret the apps' `redisRuntime({ secret })` has (32 bytes or more): runs and messages not
   * signed with it are dropped unread (counted in `stats().forged`), and what the node sends is signed.
   * Default none.
   */
  secret?: string | Uint8Array;
}

export interface RuntimeNodeStats {
  /** Runs executing now. */
  active: number;
  concurrency: number;
  /** Runs taken from the queue since start. */
  taken: number;
  /** Runs stopped because their app instance stopped saying it is alive. */
  orphaned: number;
  /** Runs stopped at the node's own deadline. */
  timedOut: number;
  /** Runs refused because they were malformed or over the node's caps. */
  refused: number;
  /** With a `secret`: runs and messages dropped because they were not signed with it, or were replays. */
  forged: number;
}

/** A started node. */
export interface RuntimeNode {
  readonly id: string;
  stats(): RuntimeNodeStats;
  /**
   * Stops taking runs, lets the runs in flight end (at most `graceMs`, default the node's
   * `maxTimeoutMs`), ends what is left (their apps get RUNTIME_LOST) and closes its connections.
   */
  close(graceMs?: number): Promise<void>;
}

const NODE_KEYS = ['redis', 'concurrency', 'prefix', 'maxTimeoutMs', 'memoryLimitPerWorker', 'maxPayloadBytes', 'maxMessagesPerSecond', 'maxExecutionsPerWorker', 'heartbeatMs', 'commandTimeoutMs', 'secret'];
const LIMIT_KEYS = ['maxIterations', 'maxCallDepth', 'maxToolCalls', 'memoryLimit', 'maxOutputBytes', 'maxToolArgsBytes', 'maxLogBytes', 'maxLogEntries'] as const satisfies readonly (keyof RealmLimits)[];
const PAYLOAD_KEYS: ReadonlySet<string> = new Set(['maxOutputBytes', 'maxToolArgsBytes', 'maxLogBytes']);
const MAX_NAMES = 256;
const NAME = /^[A-Za-z_$][A-Za-z0-9_$]{0,127}$/;
/** The values of an app's reply or cancel at most (`['reply', run, callId, ok, payload]`), with room. */
const REPLY_VALUES = 16;
/** A job nests three levels (`replayNd`'s values); more is no app's. */
const JOB_DEPTH = 8;
/** How long the blocking read waits before it reads again (and notices a closed node). */
const BLOCK_MS = 2000;

interface NodeSettings {
  keys: RuntimeKeys;
  concurrency: number;
  maxTimeoutMs: number;
  memoryLimitPerWorker: number;
  maxPayloadBytes: number;
  heartbeatMs: number;
  timeoutMs: number;
  /** The highest each realm limit may be here. */
  ceilings: RealmLimits;
  /** The most values of non-deterministic sources a durable run may take here (`maxNd`), whatever it asks. */
  maxNd: number;
  pool: Omit<WorkerPoolConfig, 'minWorkers'>;
  secret: Uint8Array | undefined;
}

/** One run on this node. */
interface NodeRun {
  id: string;
  app: string;
  handle: IsolatedRun | undefined;
  timer: NodeJS.Timeout | undefined;
  /** The direct connection to its app the run talks over; undefined: pub/sub. */
  link: NodeLink | undefined;
  /** Its app reads tool-call arguments framed (RemoteJob.framed). */
  framed: boolean;
  /** With a secret: the seq of the last message taken from its app (older ones are replays). */
  seq: number;
}

/** A direct connection to an app instance (see direct.ts). */
interface NodeLink {
  app: string;
  /** `host:port` as the app's jobs name it. */
  address: string;
  socket: Socket;
  /** Welcomed by the app: runs may use it. */
  ready: boolean;
  runs: Set<NodeRun>;
}

/** After a direct connection to an app failed, how long its runs use pub/sub before the node tries again. */
const LINK_RETRY_MS = 10_000;

function readNodeOptions(options: RuntimeNodeOptions): { settings: NodeSettings; redis: string | RedisClient } {
  const check = new OptionChecker('startRuntimeNode(options)');
  const o = check.object('options', options ?? null) ?? {};
  check.knownKeys('', o, NODE_KEYS);
  const redis = o.redis;
  if (typeof redis !== 'string') check.withMethods('redis', redis ?? null, ['call', 'duplicate', 'subscribe', 'on', 'disconnect'], 'a Redis URL or the methods of an ioredis client');
  else if (!/^rediss?:\/\//.test(redis)) check.fail(`redis must be a redis:// or rediss:// URL, got "${redis.slice(0, 100)}".`);
  const prefix = check.string('prefix', o.prefix) ?? DEFAULT_PREFIX;
  if (/[{}]/.test(prefix)) check.fail('prefix must not contain { or }.');
  const concurrency = check.positiveInteger('concurrency', o.concurrency) ?? Math.max(1, availableParallelism());
  const memoryLimitPerWorker = check.positiveInteger('memoryLimitPerWorker', o.memoryLimitPerWorker) ?? WORKER_POOL_PRESETS.STANDARD.memoryLimitPerWorker;
  if (memoryLimitPerWorker < 16 * MB) check.fail('memoryLimitPerWorker is in bytes and must be at least 16 MiB.');
  const maxPayloadBytes = check.positiveInteger('maxPayloadBytes', o.maxPayloadBytes) ?? 32 * MB;
  const loosest = LEVEL_CONFIGS.PERMISSIVE.limits;
  const ceilings = {} as RealmLimits;
  for (const key of LIMIT_KEYS) ceilings[key] = PAYLOAD_KEYS.has(key) ? Math.min(loosest[key], maxPayloadBytes) : loosest[key];
  ceilings.memoryLimit = Math.min(ceilings.memoryLimit, memoryLimitPerWorker);
  const settings: NodeSettings = {
    keys: runtimeKeys(prefix),
    concurrency,
    maxTimeoutMs: check.delay('maxTimeoutMs', o.maxTimeoutMs) ?? 60_000,
    memoryLimitPerWorker,
    maxPayloadBytes,
    heartbeatMs: check.delay('heartbeatMs', o.heartbeatMs) ?? 1000,
    timeoutMs: check.delay('commandTimeoutMs', o.commandTimeoutMs) ?? DEFAULT_COMMAND_TIMEOUT_MS,
    ceilings,
    // As many as a journal of the largest payload holds, at the 24 bytes a journal charges for each.
    maxNd: Math.floor(maxPayloadBytes / 24),
    pool: {
      maxWorkers: concurrency,
      memoryLimitPerWorker,
      maxMessagesPerSecond: check.positiveInteger('maxMessagesPerSecond', o.maxMessagesPerSecond) ?? 1000,
      maxExecutionsPerWorker: check.positiveInteger('maxExecutionsPerWorker', o.maxExecutionsPerWorker) ?? 1000,
      maxQueueSize: concurrency,
      idleTimeoutMs: 30_000,
    },
    secret: readSecret(check, o.secret, 'the app and its runtime nodes'),
  };
  return { settings, redis: redis as string | RedisClient };
}

/**
 * Starts a runtime node: resolves once its workers are warm and it reads the queue.
 *
 * @example
 * ```ts
 * const node = await startRuntimeNode({ redis: 'redis://127.0.0.1:6379', concurrency: 4 });
 * process.on('SIGTERM', () => void node.close().then(() => process.exit(0)));
 * ```
 * The same as the `enclave-runtime` command. Defaults: one worker per CPU, prefix `enclave:`, runs capped
 * at 60 s and 256 MiB of heap, 32 MiB payloads, heartbeat 1000 ms.
 */
export async function startRuntimeNode(options: RuntimeNodeOptions): Promise<RuntimeNode> {
  const { settings, redis } = readNodeOptions(options);
  let client: RedisClient;
  let own = false;
  if (typeof redis === 'string') {
    // ioredis is a peer dependency; only a node started from a URL needs to load it here.
    const { Redis } = await import('ioredis');
    client = new Redis(redis) as unknown as RedisClient;
    own = true;
  } else client = redis;
  const node = new Node(settings, client, own);
  await node.start();
  return node;
}

class Node implements RuntimeNode {
  readonly id = newId('n');
  readonly #s: NodeSettings;
  readonly #client: RedisClient;
  readonly #ownsClient: boolean;
  readonly #reader: RedisClient;
  readonly #sub: RedisClient;
  readonly #channel: string;
  readonly #pools = new Map<string, WorkerPool>();
  readonly #runs = new Map<string, NodeRun>();
  readonly #links = new Map<string, NodeLink>();
  /** Apps whose direct connection failed, and until when their runs use pub/sub only. */
  readonly #unreachable = new Map<string, number>();
  readonly #counts = { taken: 0, orphaned: 0, timedOut: 0, refused: 0, forged: 0 };
  /** With a secret: signs what the node sends, opens what it receives. */
  readonly #auth: MessageAuth | undefined;
  readonly #presence: Presence;
  #heartbeat: NodeJS.Timeout | undefined;
  #closing = false;
  #loop: Promise<void> = Promise.resolve();
  #slotFreed: (() => void) | undefined;

  constructor(settings: NodeSettings, client: RedisClient, own: boolean) {
    this.#s = settings;
    this.#client = client;
    this.#ownsClient = own;
    this.#auth = settings.secret === undefined ? undefined : new MessageAuth(settings.secret, this.id);
    this.#presence = new Presence(client, settings.keys, this.id, settings.heartbeatMs, settings.timeoutMs);
    client.on('error', () => {});
    this.#reader = client.duplicate();
    this.#reader.on('error', () => {});
    this.#sub = client.duplicate();
    this.#sub.on('error', () => {});
    this.#channel = settings.keys.channel(this.id);
    listenTo(this.#sub, this.#channel, frameCap(settings.maxPayloadBytes), (text) => this.#receive(text), () => void this.#counts.forged++);
    // Replies sent on pub/sub while the connection was down are lost: those runs cannot go on (their apps
    // end them too). Runs over a direct connection never needed it. Redis also cuts a subscriber sent more
    // than its pub/sub output limit (32 MB by default): one PUBLISH from anyone who can write there.
    this.#sub.on('close', () => {
      for (const run of Array.from(this.#runs.values())) if (run.link === undefined) this.#stopRun(run);
    });
  }

  async start(): Promise<void> {
    installRejectionGuard();
    const pool = this.#pool({ intl: false, proxy: false });
    // Subscribed before the first run is taken, so no reply can arrive unheard.
    await this.#sub.subscribe(this.#channel);
    await this.#ensureGroup();
    await pool.ready();
    await this.#beat();
    this.#heartbeat = setInterval(() => void this.#beat(), this.#s.heartbeatMs);
    this.#loop = this.#read();
  }

  stats(): RuntimeNodeStats {
    return { active: this.#runs.size, concurrency: this.#s.concurrency, ...this.#counts };
  }

  async close(graceMs = this.#s.maxTimeoutMs): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#slotFreed?.();
    // Ends the blocking read at once; the loop sees `closing` and returns.
    this.#reader.disconnect();
    await this.#loop;
    const until = Date.now() + graceMs;
    while (this.#runs.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    for (const run of Array.from(this.#runs.values())) {
      this.#sendRun(run, ['failed', run.id, 'SHUTDOWN']);
      this.#stopRun(run);
    }
    clearInterval(this.#heartbeat);
    // Ended, not destroyed: what was just written (a SHUTDOWN) still reaches the app.
    for (const link of this.#links.values()) link.socket.end();
    for (const pool of this.#pools.values()) pool.dispose();
    await within(this.#client.call('DEL', [this.#s.keys.alive(this.id)]), this.#s.timeoutMs, 'the removal of the node’s presence').catch(() => {});
    this.#sub.disconnect();
    if (this.#ownsClient) this.#client.disconnect();
  }

  /** One pool per realm variant of the levels' dialects (at most four; only PERMISSIVE differs today). */
  #pool(realm: { intl: boolean; proxy: boolean }): WorkerPool {
    const key = `${realm.intl ? 1 : 0}${realm.proxy ? 1 : 0}`;
    let pool = this.#pools.get(key);
    if (pool === undefined) {
      // The default variant keeps every worker warm; another starts its workers on demand.
      const config: WorkerPoolConfig = { ...this.#s.pool, minWorkers: key === '00' ? this.#s.concurrency : 0 };
      const realms = { maxIdle: 16, prewarm: 2, maxRunsPerRealm: 1000, intl: realm.intl, proxy: realm.proxy };
      pool = new WorkerPool(config, { realms, maxMessageBytes: maxMessageBytes({ ...this.#s.ceilings, maxInputBytes: this.#s.maxPayloadBytes, maxToolResultBytes: this.#s.maxPayloadBytes }) });
      this.#pools.set(key, pool);
    }
    return pool;
  }

  async #ensureGroup(): Promise<void> {
    await within(ENSURE_GROUP.run(this.#client, [this.#s.keys.jobs], []), this.#s.timeoutMs, 'the creation of the consumer group');
  }

  // ---- taking runs -------------------------------------------------------------------------------

  async #read(): Promise<void> {
    while (!this.#closing) {
      const free = this.#s.concurrency - this.#runs.size;
      if (free <= 0) {
        await new Promise<void>((resolve) => (this.#slotFreed = resolve));
        this.#slotFreed = undefined;
        continue;
      }
      let jobs: StreamJob[];
      try {
        const reply = await this.#reader.call('XREADGROUP', ['GROUP', GROUP, this.id, 'COUNT', free, 'BLOCK', BLOCK_MS, 'NOACK', 'STREAMS', this.#s.keys.jobs, '>']);
        jobs = readStreamJobs(reply);
      } catch (err) {
        if (this.#closing) return;
        // Redis restarted empty (no group), or a Redis writer retyped the queue: make it and the group
        // again. Or Redis is away: wait and read again.
        if (err instanceof Error && /^(NOGROUP|WRONGTYPE)/.test(err.message)) await this.#ensureGroup().catch(() => {});
        else await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      const claims: Promise<void>[] = [];
      for (const job of jobs) {
        if (job.job === undefined) claims.push(this.#claim(job));
        else this.#takeInline(job, job.job);
      }
      await Promise.all(claims);
    }
  }

  /** A run that travels in its entry: this node is the only one to read it; its app decides whether the node has it. */
  #takeInline({ entry, run, app }: StreamJob, text: string): void {
    // Not signed by its app (with a secret): dropped, and nothing is sent (a failure under the run's id would end the app's real run).
    const opened = this.#openJob(app, text, INLINE_JOB_CHARS);
    if (opened !== undefined && opened.length > this.#s.maxPayloadBytes) {
      this.#counts.refused++;
      this.#send(app, ['failed', run, 'TOO_LARGE']);
    } else if (opened !== undefined) this.#take(run, app, opened);
    // Of no use to anyone else now: the stream keeps only runs no node has read. (After the start: it is
    // not on the run's way.)
    this.#client.call('XDEL', [this.#s.keys.jobs, entry]).catch(() => {});
  }

  /** A larger run, under its own key: the node that takes the key has it. */
  async #claim({ run, app }: StreamJob): Promise<void> {
    let text: unknown;
    try {
      text = await within(CLAIM.run(this.#client, [this.#s.keys.job(run)], [this.#s.maxPayloadBytes]), this.#s.timeoutMs, 'the claim of a run');
    } catch {
      return;
    }
    if (text === -1) {
      // Dropped unread for its size: its app hears so at once instead of at its queue timeout.
      this.#counts.refused++;
      this.#send(app, ['failed', run, 'TOO_LARGE']);
      return;
    }
    // Gone: withdrawn by its app, or expired.
    if (typeof text !== 'string') return;
    const opened = this.#openJob(app, text, this.#s.maxPayloadBytes);
    if (opened !== undefined) this.#take(run, app, opened);
  }

  /** A run's text as its app queued it: with a secret, only if `app` signed it (else counted and dropped). */
  #openJob(app: string, text: string, maxChars: number): string | undefined {
    if (this.#auth === undefined) return text;
    const opened = this.#auth.open('job', text, maxChars);
    if (opened !== undefined && opened.sender === app) return opened.text;
    this.#counts.forged++;
    return undefined;
  }

  #take(run: string, app: string, text: string): void {
    // The same run again (an entry queued twice): the copy running already is the run. Nothing is sent:
    // a failure under its id would end it.
    if (this.#runs.has(run)) {
      this.#counts.refused++;
      return;
    }
    if (this.#closing) {
      // Taken in the moment the node began to close: nothing ran, the app may queue it again.
      this.#send(app, ['failed', run, 'QUEUE_FULL']);
      return;
    }
    this.#counts.taken++;
    const job = this.#readJob(text);
    if (job === undefined || job.run !== run || job.app !== app) {
      this.#counts.refused++;
      // With a secret, a job its app signed under another run's id was copied into this entry by someone
      // else: it says nothing of the run the entry names, and no failure signed by this node goes out to
      // end that run as INTERNAL_ERROR. (Without one, anyone could send that failure on pub/sub anyway.)
      if (job === undefined || this.#auth === undefined) this.#send(app, ['failed', run, 'INTERNAL_ERROR']);
      return;
    }
    this.#start(job);
  }

  /** The run as the app sent it, rebuilt field by field within the node's caps; undefined if malformed. */
  #readJob(text: string): (IsolatedJob & NodeJobFields) | undefined {
    let o: Record<string, unknown>;
    // Measured before it is parsed: its fields, names and recorded values, whatever its size.
    if (!jsonWithin(text, JOB_DEPTH, 64 + 2 * MAX_NAMES + 3 * (this.#s.maxNd + 1))) return undefined;
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
      o = parsed as Record<string, unknown>;
    } catch {
      return undefined;
    }
    const { run, app, token, reach, source, input, globals, names, fnNames, remaining, limits, realm, replayNd, maxNd, framed, positions } = o;
    if (o.v !== 1 || !isId(run) || !isId(app) || !isId(token) || typeof source !== 'string' || source.length === 0) return undefined;
    if (reach !== undefined && parseAddress(reach) === undefined) return undefined;
    if ((input !== null && typeof input !== 'string') || (globals !== null && typeof globals !== 'string')) return undefined;
    if (typeof remaining !== 'number' || !Number.isFinite(remaining) || remaining <= 0) return undefined;
    const globalNames = nameList(names);
    const functionNames = nameList(fnNames);
    if (globalNames === undefined || functionNames === undefined || !functionNames.every((n) => globalNames.includes(n))) return undefined;
    if (limits === null || typeof limits !== 'object' || realm === null || typeof realm !== 'object') return undefined;
    const given = limits as Record<string, unknown>;
    const capped = {} as RealmLimits;
    for (const key of LIMIT_KEYS) {
      const v = given[key];
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) return undefined;
      capped[key] = Math.min(v, this.#s.ceilings[key]);
    }
    const { intl, proxy } = realm as Record<string, unknown>;
    if (typeof intl !== 'boolean' || typeof proxy !== 'boolean') return undefined;
    const timeout = Math.min(remaining, this.#s.maxTimeoutMs);
    // The compile cache is keyed by the source itself: a key the app chose could name another script.
    const job: IsolatedJob & NodeJobFields = { run, app, token, reach: reach as string | undefined, source, limits: capped, inputText: input, globalsText: globals, globalNames, functionNames, deadline: performance.now() + timeout, realm: { intl, proxy }, framed: framed === 1 };
    // Stack positions, where the app sent them: read by the realm's own checks (anchors that are not whole
    // triples of numbers map nothing), and sent on to the worker only within its message cap (WorkerPool).
    const mapped = jobPositions(positions, source.length);
    if (mapped === false) return undefined;
    if (mapped !== undefined) job.positions = () => mapped;
    if (replayNd === undefined && maxNd === undefined) return job;
    // A durable run: both fields, the cap within the node's, and recorded values the realm could have given.
    if (typeof maxNd !== 'number' || !Number.isSafeInteger(maxNd) || maxNd < 0) return undefined;
    const max = Math.min(maxNd, this.#s.maxNd);
    if (!isNdValues(replayNd, max)) return undefined;
    return { ...job, replayNd: replayNd.map(([kind, value]) => [kind, value]), maxNd: max };
  }

  #start(job: IsolatedJob & NodeJobFields): void {
    const link = this.#linkTo(job.app, job.reach);
    const run: NodeRun = { id: job.run, app: job.app, handle: undefined, timer: undefined, link, framed: job.framed, seq: 0 };
    this.#runs.set(run.id, run);
    link?.runs.add(run);
    this.#sendRun(run, ['accept', run.id, this.id, job.token, this.#s.maxPayloadBytes, 1]);
    // The node's own deadline, whatever the app does: a run past it is halted and reported as TIMEOUT.
    run.timer = setTimeout(
      () => {
        if (this.#runs.get(run.id) !== run) return;
        this.#counts.timedOut++;
        this.#sendEntry(run, { calls: [], logs: [], end: { kind: 'timeout' } });
        this.#stopRun(run);
      },
      Math.max(0, job.deadline - performance.now()),
    );
    const { run: _run, app: _app, token: _token, reach: _reach, realm, framed: _framed, ...isolated } = job;
    run.handle = this.#pool(realm).run(isolated, {
      entry: (output) => {
        if (this.#runs.get(run.id) !== run) return;
        this.#sendEntry(run, output);
        if (output.end !== null) this.#finish(run);
      },
      failed: (code) => {
        if (this.#runs.get(run.id) !== run) return;
        this.#sendRun(run, ['failed', run.id, nodeFailure(code)]);
        this.#finish(run);
      },
    });
  }

  /** The run is over here: its slot is free. */
  #finish(run: NodeRun): void {
    this.#runs.delete(run.id);
    clearTimeout(run.timer);
    run.link?.runs.delete(run);
    this.#slotFreed?.();
  }

  /** Ends a run that is still executing: its worker stops running it (or is halted). */
  #stopRun(run: NodeRun): void {
    if (this.#runs.get(run.id) !== run) return;
    this.#finish(run);
    run.handle?.stop();
  }

  #sendEntry(run: NodeRun, output: EntryOutput): void {
    const { logs, nd } = output;
    // Argument texts after the newline for an app that reads them so, inside the calls for older apps.
    const wire = wireEntry(output.calls, output.end, !run.framed);
    const message: ToApp = nd === undefined ? ['entry', run.id, wire.calls, logs, wire.end] : ['entry', run.id, wire.calls, logs, wire.end, nd];
    this.#sendText(run, formatMessage(message, wire.tail));
  }

  #send(app: string, message: ToApp): void {
    this.#publish(app, JSON.stringify(message));
  }

  /** A message of `run` to its app, over the run's direct connection if it has one. */
  #sendRun(run: NodeRun, message: ToApp): void {
    this.#sendText(run, JSON.stringify(message));
  }

  #sendText(run: NodeRun, text: string): void {
    if (run.link !== undefined) writeFrame(run.link.socket, seal(this.#auth, 'to-app', text), 2 * frameCap(this.#s.maxPayloadBytes));
    else this.#publish(run.app, text);
  }

  #publish(peer: string, text: string): void {
    this.#client.call('PUBLISH', [this.#s.keys.channel(peer), seal(this.#auth, 'to-app', text)]).catch(() => {});
  }

  // ---- messages from apps ------------------------------------------------------------------------

  /** A message from an app, on pub/sub (`link` undefined) or on a direct connection. */
  #receive(text: string | undefined, link?: NodeLink): void {
    // A message about no run of this node is dropped before it is verified or parsed, whatever its size.
    const head = text === undefined ? undefined : messageHead(this.#auth === undefined ? text : (unverifiedText(text) ?? ''));
    if (head === undefined || !this.#runs.has(head.run)) return;
    // A reply or a cancel holds a handful of values: measured before it is parsed, as an app's is.
    const received = receiveMessage(this.#auth, 'to-node', text as string, this.#s.maxPayloadBytes, REPLY_VALUES);
    if (received === 'forged') this.#counts.forged++;
    if (received === 'forged' || received === undefined) return;
    const { message, tail, from } = received;
    const run = isId(message[1]) ? this.#runs.get(message[1]) : undefined;
    // Only where the run was accepted: a run on a connection hears nothing from pub/sub, and the reverse.
    if (run === undefined || run.link !== link) return;
    // With a secret: from the run's own app, newer than the last message taken from it (not a replay).
    if (from !== undefined && !inOrder(run, from, run.app)) {
      this.#counts.forged++;
      return;
    }
    if (message[0] === 'cancel') this.#stopRun(run);
    else if (message[0] === 'reply') {
      // The payload after the newline (apps that heard `framed` in the acceptance), or inside (older apps).
      const [, , callId, ok, inside] = message;
      const payload = message.length === 4 ? tail : inside;
      if (typeof callId === 'number' && Number.isSafeInteger(callId) && (ok === 0 || ok === 1) && typeof payload === 'string') run.handle?.deliver(callId, [ok, payload]);
    }
  }

  // ---- direct connections to apps -----------------------------------------------------------------

  /**
   * The welcomed connection to `app` at `address` for a run to use, if there is one. If there is none,
   * one is opened for the app's later runs (this run uses pub/sub and waits for nothing).
   */
  #linkTo(app: string, address: string | undefined): NodeLink | undefined {
    if (address === undefined) return undefined;
    const link = this.#links.get(app);
    if (link !== undefined) return link.ready && link.address === address && !link.socket.destroyed ? link : undefined;
    const until = this.#unreachable.get(app);
    if (until !== undefined && performance.now() < until) return undefined;
    this.#unreachable.delete(app);
    if (this.#links.size < MAX_LINKS && !this.#closing) this.#open(app, address);
    return undefined;
  }

  #open(app: string, address: string): void {
    const target = parseAddress(address);
    if (target === undefined) return;
    const socket = connect({ host: target.host, port: target.port, noDelay: true });
    const link: NodeLink = { app, address, socket, ready: false, runs: new Set() };
    this.#links.set(app, link);
    socket.once('connect', () => {
      const hello: Hello = ['hello', this.id, app, Date.now()];
      writeFrame(socket, seal(this.#auth, 'hello', JSON.stringify(hello)), HANDSHAKE_FRAME_BYTES);
    });
    // Whatever listens there must welcome the node in time, naming the app: else it is not that app.
    const welcomed = (message: unknown[]) => (link.ready = message[0] === 'welcome' && message[1] === app);
    const auth = this.#auth;
    const unwrap = auth === undefined ? undefined : (text: string) => auth.open('welcome', text, HANDSHAKE_FRAME_BYTES)?.text;
    readConnection(socket, welcomed, frameCap(this.#s.maxPayloadBytes), (text) => this.#receive(text, link), unwrap);
    socket.on('close', () => {
      if (this.#links.get(app) === link) this.#links.delete(app);
      if (!link.ready) {
        // Not reachable from here (or not that app): pub/sub for a while. The map is bounded like the links.
        if (this.#unreachable.size >= MAX_LINKS) this.#unreachable.clear();
        this.#unreachable.set(app, performance.now() + LINK_RETRY_MS);
      }
      // The app is gone, or the connection broke: replies it sent are lost, so its runs cannot go on.
      for (const run of Array.from(link.runs)) {
        this.#counts.orphaned++;
        this.#stopRun(run);
      }
    });
  }

  // ---- presence ------------------------------------------------------------------------------------

  /** Says the node is alive (with its load), and stops the runs of apps that no longer say so. */
  async #beat(): Promise<void> {
    const apps = [...new Set([...this.#runs.values()].map((r) => r.app))];
    let gone: Set<string>;
    try {
      gone = await this.#presence.beat(this.#closing ? undefined : JSON.stringify(this.stats()), apps);
    } catch {
      return;
    }
    for (const run of Array.from(this.#runs.values())) {
      if (!gone.has(run.app)) continue;
      this.#counts.orphaned++;
      this.#stopRun(run);
    }
  }
}

/** What a node's job has beyond the isolated job: whose run it is, and how to talk to its app. */
interface NodeJobFields {
  run: string;
  app: string;
  token: string;
  reach: string | undefined;
  realm: { intl: boolean; proxy: boolean };
  framed: boolean;
}

function nameList(value: unknown): string[] | undefined {
  if (!Array.isArray(value) || value.length > MAX_NAMES) return undefined;
  const names: string[] = [];
  for (const n of value) {
    if (typeof n !== 'string' || !NAME.test(n)) return undefined;
    names.push(n);
  }
  return names;
}

function nodeFailure(code: IsolationFailureCode): NodeFailure {
  switch (code) {
    case 'MEMORY_LIMIT_EXCEEDED':
    case 'RUNTIME_ERROR':
    case 'QUEUE_FULL':
      return code;
    case 'ABORTED':
      return 'SHUTDOWN';
    default:
      return 'INTERNAL_ERROR';
  }
}

/**
 * A job's `positions` (see RemoteJob.positions): undefined when it has none, false when they are not
 * what an app sends (the job is then refused, as for any other malformed field), never longer in all
 * than twice the script, as the app sends them.
 */
function jobPositions(value: unknown, sourceLength: number): ScriptPositions | undefined | false {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object') return false;
  const { anchors, text, prefix } = value as Record<string, unknown>;
  if (typeof anchors !== 'string' || typeof text !== 'string' || typeof prefix !== 'number' || !Number.isSafeInteger(prefix) || prefix < 0) return false;
  if (anchors.length + text.length > 2 * sourceLength) return false;
  return { anchors, text, prefix };
}
