/**
 * The app's side of remote runtime nodes: an isolation for the engine's run driver that queues each run
 * in Redis and relays what its node reports. The app keeps everything that needs trust: the check,
 * rewrite and score before a run is queued, the tools (each `callTool` comes back here and runs in the
 * request's scope), the tool-call count and the deadline (the driver's). What a node sends, on pub/sub
 * or over a direct connection, is checked against the documented shapes and the run's own caps before
 * the driver sees it.
 */
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { EntryOutput, IsolatedJob, IsolatedRun, Isolation, IsolationEvents, IsolationFailureCode, RemoteAdapter, RemoteAdapterContext } from '@enclave-kit/engine/isolation';
import { OptionChecker } from '@enclave-kit/engine/http';
import { EntryCaps, formatMessage, readEntry, toolErrorReply } from '@enclave-kit/engine/isolation';
import type { RedisClient, RedisStoreOptions } from '../client.js';
import { checkArguments, connectedOnly, readSecret, within } from '../client.js';
import { MessageAuth, inOrder, receiveMessage, seal, unverifiedText } from './auth.js';
import type { MessageKind, Opened } from './auth.js';
import { HANDSHAKE_FRAME_BYTES, HELLO_FRESH_MS, MAX_LINKS, formatAddress, frameCap, readConnection, writeFrame } from './direct.js';
import type { NodeFailure, RemoteJob, RuntimeKeys, ToNode } from './protocol.js';
import { ENQUEUE, ENQUEUE_INLINE, INLINE_JOB_CHARS, NODE_FAILURES, Presence, isEntryId, isId, listenTo, messageHead, newId, runtimeKeys } from './protocol.js';

export interface RedisRuntimeOptions extends RedisStoreOptions {
  /** An ioredis client (`new Redis(url)`); a second connection is duplicated from it for pub/sub. */
  redis: RedisClient;
  /** How long a run waits for a runtime node to take it before it ends as RUNTIME_UNAVAILABLE. Default 5000 ms. */
  queueTimeoutMs?: number;
  /**
   * How often this instance says it is alive and checks the nodes running its runs. A node that stops
   * (crash, `kill -9`) is noticed within 3 heartbeats plus one; its runs end as RUNTIME_LOST. Default 1000 ms.
   */
  heartbeatMs?: number;
  /**
   * Where this instance listens for direct connections from runtime nodes, or `false` for none. Over a
   * direct connection a run's tool calls and replies skip the two pub/sub hops through Redis each way;
   * runs are still distributed through Redis, and a node that cannot connect uses pub/sub. Default
   * `{ host: '127.0.0.1', port: 0 }` (any free port; nodes on this machine only). For nodes on other
   * machines, listen on an address they reach and say which: `{ host: '0.0.0.0', port: 7400, advertise: '10.0.0.5' }`.
   */
  direct?: false | { host?: string; port?: number; advertise?: string };
  /**
   * A secret (32 bytes or more) this app and its runtime nodes share (`startRuntimeNode({ secret })`,
   * `ENCLAVE_RUNTIME_SECRET` for `enclave-runtime`): every run queued and every message between them is
   * signed (HMAC-SHA-256, bound to its kind, sender, run and order), and what does not verify is dropped
   * unread, so whoever else can write to the Redis cannot run a script with this app's tools or hand a
   * run a result. Default none: set it when anyone else can write to the Redis.
   */
  secret?: string | Uint8Array;
}

interface DirectSettings {
  host: string;
  port: number;
  /** The host nodes are told to connect to. */
  advertise: string;
}

interface Settings {
  client: RedisClient;
  keys: RuntimeKeys;
  timeoutMs: number;
  queueTimeoutMs: number;
  heartbeatMs: number;
  direct: DirectSettings | undefined;
  secret: Uint8Array | undefined;
}

/**
 * Runs scripts on remote runtime nodes (`enclave-runtime`, or `startRuntimeNode()`) through Redis: the
 * Enclave's `adapter`.
 *
 * @example
 * ```ts
 * const enclave = new Enclave({ adapter: redisRuntime({ redis: new Redis(process.env.REDIS_URL) }), tools });
 * await enclave.ready(); // listening for the nodes' messages
 * ```
 * Defaults: prefix `enclave:` (the nodes' must match), queue timeout 5000 ms, heartbeat 1000 ms, command
 * timeout 1000 ms, direct connections from nodes on 127.0.0.1 (a free port). The client stays yours to
 * close; each Enclave's `dispose()` closes the connection it duplicated and its listener.
 */
export function redisRuntime(options: RedisRuntimeOptions): RemoteAdapter {
  const where = 'redisRuntime(options)';
  const given = (options ?? {}) as unknown as Record<string, unknown>;
  const { redis, ...rest } = typeof given === 'object' ? given : {};
  // Checked under its own name first: the stores call the same client `client`.
  new OptionChecker(where).withMethods('redis', redis ?? null, ['call', 'duplicate', 'subscribe', 'unsubscribe', 'on', 'disconnect'], 'the methods of an ioredis client (new Redis(url))');
  const { check, o, prefix, timeoutMs } = checkArguments(where, redis, rest, ['queueTimeoutMs', 'heartbeatMs', 'direct', 'secret']);
  const settings: Settings = {
    client: redis as RedisClient,
    keys: runtimeKeys(prefix),
    timeoutMs,
    queueTimeoutMs: check.delay('queueTimeoutMs', o.queueTimeoutMs) ?? 5000,
    heartbeatMs: check.delay('heartbeatMs', o.heartbeatMs) ?? 1000,
    direct: readDirect(check, o.direct),
    secret: readSecret(check, o.secret, 'the app and its runtime nodes'),
  };
  return { kind: 'remote', createIsolation: (context) => new RedisRuntimeIsolation(settings, context) };
}

function readDirect(check: OptionChecker, value: unknown): DirectSettings | undefined {
  if (value === false) return undefined;
  const d = check.object('direct', value ?? {}) ?? {};
  check.knownKeys('direct', d, ['host', 'port', 'advertise']);
  const host = check.string('direct.host', d.host) ?? '127.0.0.1';
  const port = d.port === 0 ? 0 : (check.positiveInteger('direct.port', d.port) ?? 0);
  if (port > 65_535) check.fail(`direct.port must be a TCP port (0 for any free one), got ${port}.`);
  let advertise = check.string('direct.advertise', d.advertise);
  if (advertise === undefined) {
    // Listening on every address says nothing of which one the nodes reach.
    if (host === '0.0.0.0' || host === '::') check.fail(`direct.advertise must say which address of this machine the runtime nodes connect to when direct.host is "${host}".`);
    advertise = host;
  }
  if (!/^[A-Za-z0-9.:-]{1,253}$/.test(advertise)) check.fail(`direct.advertise must be a host name or an IP address, got "${advertise.slice(0, 100)}".`);
  return { host, port, advertise };
}

type RunState = 'queued' | 'running';

/** A direct connection from a runtime node (see direct.ts). */
interface AppLink {
  socket: Socket;
  /** The node that said hello; undefined until it has. */
  node: string | undefined;
  /** Runs whose conversation goes over this connection. */
  runs: Set<RemoteRun>;
  /** When it was welcomed, or last carried a run: the link idle longest is the first to give way. */
  used: number;
}

interface RemoteRun {
  id: string;
  token: string;
  /** The direct connection the run's node took it over, if any; else pub/sub. */
  link: AppLink | undefined;
  /** Queued in its stream entry (whose id this is, once Redis said it), not under its own key. */
  inline: boolean;
  entry: string | undefined;
  events: IsolationEvents;
  state: RunState;
  node: string | undefined;
  /** The longest message its node reads, as the node said when it accepted the run (see `#reply`). */
  maxMessage: number | undefined;
  /** Its node reads replies whose payload follows the newline (it said so when it accepted the run). */
  framed: boolean;
  timer: NodeJS.Timeout | undefined;
  /** What the run's entries may hold in all (the worker pool's own caps): a node that reports more is lying. */
  caps: EntryCaps;
  /** With a secret: the seq of the last message taken from its node (older ones are replays). */
  seq: number;
}

/** What a node's failure code becomes: the app words it; nothing a node writes reaches a result. */
const FAILURES: Record<NodeFailure, [IsolationFailureCode, string, string]> = {
  MEMORY_LIMIT_EXCEEDED: ['MEMORY_LIMIT_EXCEEDED', 'MemoryLimitError', 'The run exceeded the worker heap limit.'],
  RUNTIME_ERROR: ['RUNTIME_ERROR', 'MessageFloodError', 'The sandbox sent more messages per second than the runtime node allows.'],
  INTERNAL_ERROR: ['INTERNAL_ERROR', 'InternalError', 'The sandbox failed unexpectedly.'],
  QUEUE_FULL: ['RUNTIME_UNAVAILABLE', 'RuntimeUnavailableError', 'The runtime node that took the run had no free worker.'],
  SHUTDOWN: ['RUNTIME_LOST', 'RuntimeLostError', 'The runtime node shut down before the run ended; the run is not retried.'],
  TOO_LARGE: ['RUNTIME_UNAVAILABLE', 'RuntimeUnavailableError', 'The run is larger than the runtime node accepts (its maxPayloadBytes); nothing of the script ran.'],
};

/** An acceptance: its tuple, six fields. */
const ACCEPT_VALUES = 16;

const LOST_NODE = 'The runtime node running this run stopped before it ended; the run is not retried (its tools may have run).';
const LOST_REDIS = 'The connection to Redis was lost while the run was on a runtime node; the run is not retried (its tools may have run).';

/**
 * What `redisRuntime()` creates for each Enclave: the `Isolation` the engine's run driver drives. Apps
 * never build one themselves; `stats()` is there for operators who hold one.
 *
 * @example
 * ```ts
 * const enclave = new Enclave({ adapter: redisRuntime({ redis }) }); // creates one RedisRuntimeIsolation
 * ```
 */
export class RedisRuntimeIsolation implements Isolation {
  readonly kind = 'remote';
  readonly id = newId('a');
  readonly #s: Settings;
  readonly #maxMessageBytes: number;
  readonly #realm: RemoteJob['realm'];
  readonly #sub: RedisClient;
  /**
   * The client for queueing runs, which fails at once while it reconnects: a run the app has given up
   * on (RUNTIME_UNAVAILABLE) must not wait in ioredis's queue and reach Redis once it is back, for a
   * node to run it when its caller has long had its answer.
   */
  readonly #queueClient: RedisClient;
  readonly #channel: string;
  readonly #runs = new Map<string, RemoteRun>();
  readonly #heartbeat: NodeJS.Timeout;
  readonly #links = new Set<AppLink>();
  /** The welcomed connections, by node: one each, MAX_LINKS at most. */
  readonly #nodeLinks = new Map<string, AppLink>();
  /** With a secret: each node's last hello taken (its seq), so that one sent again is refused. */
  readonly #helloSeqs = new Map<string, number>();
  readonly #presence: Presence;
  #server: Server | undefined;
  /** `host:port` nodes connect to, once this instance listens. */
  #reach: string | undefined;
  #listened: Promise<void> = Promise.resolve();
  #subscribed: Promise<void>;
  #listening = false;
  #disposed = false;
  /** With a secret: signs what this instance sends, opens what it receives. */
  readonly #auth: MessageAuth | undefined;
  /** Messages dropped because they were not signed with the secret (or were replays). */
  #forged = 0;

  constructor(settings: Settings, context: RemoteAdapterContext) {
    this.#s = settings;
    this.#queueClient = connectedOnly(settings.client, settings.timeoutMs);
    this.#maxMessageBytes = context.maxMessageBytes;
    this.#realm = { intl: context.realm.intl, proxy: context.realm.proxy };
    this.#channel = settings.keys.channel(this.id);
    this.#auth = settings.secret === undefined ? undefined : new MessageAuth(settings.secret, this.id);
    this.#presence = new Presence(settings.client, settings.keys, this.id, settings.heartbeatMs, settings.timeoutMs);
    this.#sub = settings.client.duplicate();
    this.#sub.on('error', () => {});
    listenTo(this.#sub, this.#channel, frameCap(this.#maxMessageBytes), (text) => this.#receive(text), () => void this.#forged++);
    // Messages sent on pub/sub while the connection was down are gone: runs that talk there cannot be
    // trusted to finish (runs over a direct connection go on). Redis cuts a subscriber sent more than its
    // pub/sub output limit (32 MB by default), which anyone who can PUBLISH there can do.
    this.#sub.on('close', () => this.#connectionLost());
    this.#subscribed = this.#subscribe();
    this.#sub.on('ready', () => {
      if (!this.#listening && !this.#disposed) this.#subscribed = this.#subscribe();
    });
    this.#heartbeat = setInterval(() => void this.#beat(), settings.heartbeatMs);
    this.#heartbeat.unref();
    void this.#beat();
    if (settings.direct !== undefined) this.#listened = this.#listen(settings.direct);
  }

  /**
   * Resolves once this instance listens on its channel, or after `queueTimeoutMs` if Redis is not there
   * yet (runs then wait that long for it and answer RUNTIME_UNAVAILABLE): start-up never hangs on Redis.
   */
  async ready(): Promise<void> {
    await Promise.all([within(this.#subscribed, this.#s.queueTimeoutMs, 'the subscription of the runtime channel').catch(() => {}), this.#listened]);
  }

  /**
   * Runs queued or on a node (`direct`: of those, the ones whose node talks over a direct connection),
   * where this instance listens for nodes (undefined: it does not, or could not), and (with a `secret`)
   * how many messages it dropped because they were not signed with it, or were replays.
   */
  stats(): { queued: number; running: number; direct: number; reach: string | undefined; forged: number } {
    let queued = 0;
    let direct = 0;
    for (const r of this.#runs.values()) {
      if (r.state === 'queued') queued++;
      if (r.link !== undefined) direct++;
    }
    return { queued, running: this.#runs.size - queued, direct, reach: this.#reach, forged: this.#forged };
  }

  run(job: IsolatedJob, events: IsolationEvents): IsolatedRun {
    const run: RemoteRun = { id: newId('r'), token: newId('t'), link: undefined, inline: false, entry: undefined, events, state: 'queued', node: undefined, maxMessage: undefined, framed: false, timer: undefined, caps: new EntryCaps(job), seq: 0 };
    const handle: IsolatedRun = {
      deliver: (callId, reply) => {
        if (this.#runs.get(run.id) === run) this.#reply(run, callId, reply);
      },
      stop: () => this.#stop(run),
    };
    if (this.#disposed) {
      events.failed('ABORTED', 'AbortError', 'This Enclave has been disposed.');
      return handle;
    }
    this.#runs.set(run.id, run);
    void this.#enqueue(run, job);
    return handle;
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    clearInterval(this.#heartbeat);
    for (const run of Array.from(this.#runs.values())) this.#fail(run, 'ABORTED', 'AbortError', 'The run was stopped because the Enclave was disposed.');
    this.#s.client.call('DEL', [this.#s.keys.alive(this.id)]).catch(() => {});
    this.#sub.disconnect();
    this.#server?.close();
    for (const link of this.#links) link.socket.destroy();
  }

  async #subscribe(): Promise<void> {
    await this.#sub.subscribe(this.#channel);
    this.#listening = true;
  }

  async #enqueue(run: RemoteRun, job: IsolatedJob): Promise<void> {
    const { keys, queueTimeoutMs, timeoutMs } = this.#s;
    const client = this.#queueClient;
    const remote: RemoteJob = {
      v: 1,
      run: run.id,
      app: this.id,
      token: run.token,
      source: job.source,
      limits: { ...job.limits },
      input: job.inputText,
      globals: job.globalsText,
      names: [...job.globalNames],
      fnNames: [...job.functionNames],
      remaining: Math.max(1, Math.floor(job.deadline - performance.now())),
      realm: this.#realm,
      framed: 1,
    };
    if (this.#reach !== undefined) remote.reach = this.#reach;
    const positions = job.positions?.();
    // Within twice the script (they are about as long as it is), so that they never make a job much larger.
    if (positions !== undefined && positions.anchors.length + positions.text.length <= 2 * job.source.length) remote.positions = { anchors: positions.anchors, text: positions.text, prefix: positions.prefix };
    if (job.replayNd !== undefined) {
      remote.replayNd = [...job.replayNd];
      // JSON would write an unbounded cap as null, which a node refuses; the node caps it anyway.
      remote.maxNd = Math.min(job.maxNd ?? Infinity, Number.MAX_SAFE_INTEGER);
    }
    const text = seal(this.#auth, 'job', JSON.stringify(remote));
    run.inline = text.length <= INLINE_JOB_CHARS;
    try {
      // Replies come to the channel: it must be listened to before any node can answer.
      await within(this.#subscribed, queueTimeoutMs, 'the subscription of the runtime channel');
      if (this.#runs.get(run.id) !== run) return;
      if (run.inline) {
        const entry = await within(ENQUEUE_INLINE.run(client, [keys.jobs], [run.id, this.id, text]), timeoutMs, 'the queueing of a run');
        if (isEntryId(entry)) run.entry = entry;
      } else await within(ENQUEUE.run(client, [keys.job(run.id), keys.jobs], [text, queueTimeoutMs + 1000, run.id, this.id]), timeoutMs, 'the queueing of a run');
    } catch {
      this.#fail(run, 'RUNTIME_UNAVAILABLE', 'RuntimeUnavailableError', 'The runtime queue in Redis could not be reached; nothing of the script ran.');
      return;
    }
    // Stopped while it was being queued: withdraw it.
    if (this.#runs.get(run.id) !== run) this.#withdraw(run);
    else if (run.state === 'queued') run.timer = setTimeout(() => void this.#queueTimedOut(run), queueTimeoutMs);
  }

  /** Takes a queued run back; a node that read it already is told to cancel when it accepts. */
  #withdraw(run: RemoteRun): void {
    const { client, keys } = this.#s;
    if (!run.inline) client.call('DEL', [keys.job(run.id)]).catch(() => {});
    else if (run.entry !== undefined) client.call('XDEL', [keys.jobs, run.entry]).catch(() => {});
  }

  /** No node said it took the run in time: withdraw it, unless a node took it in the meantime. */
  async #queueTimedOut(run: RemoteRun): Promise<void> {
    if (this.#runs.get(run.id) !== run || run.state !== 'queued') return;
    if (run.inline) {
      // This instance decides: an acceptance that comes later is told to cancel.
      this.#fail(run, 'RUNTIME_UNAVAILABLE', 'RuntimeUnavailableError', `No runtime node took the run within ${this.#s.queueTimeoutMs} ms; nothing of the script ran.`);
      return;
    }
    let withdrawn: unknown;
    try {
      withdrawn = await within(this.#s.client.call('DEL', [this.#s.keys.job(run.id)]), this.#s.timeoutMs, 'the withdrawal of a queued run');
    } catch {
      withdrawn = 1;
    }
    if (this.#runs.get(run.id) !== run || run.state !== 'queued') return;
    if (withdrawn === 1) {
      this.#fail(run, 'RUNTIME_UNAVAILABLE', 'RuntimeUnavailableError', `No runtime node took the run within ${this.#s.queueTimeoutMs} ms; nothing of the script ran.`);
      return;
    }
    // A node took it just now: its acceptance is on its way. If it never comes, the node died at once.
    run.timer = setTimeout(() => {
      if (this.#runs.get(run.id) === run && run.state === 'queued') this.#fail(run, 'RUNTIME_LOST', 'RuntimeLostError', LOST_NODE);
    }, this.#s.queueTimeoutMs);
  }

  #stop(run: RemoteRun): void {
    if (this.#runs.get(run.id) !== run) return;
    this.#forget(run);
    if (run.node !== undefined) this.#sendRun(run, ['cancel', run.id]);
    else this.#withdraw(run);
  }

  #forget(run: RemoteRun): void {
    this.#runs.delete(run.id);
    clearTimeout(run.timer);
    run.link?.runs.delete(run);
  }

  #fail(run: RemoteRun, code: IsolationFailureCode, name: string, message: string): void {
    if (this.#runs.get(run.id) !== run) return;
    this.#stop(run);
    run.events.failed(code, name, message);
  }

  #send(node: string, message: ToNode): void {
    this.#publish(node, JSON.stringify(message));
  }

  #publish(node: string, text: string): void {
    this.#s.client.call('PUBLISH', [this.#s.keys.channel(node), seal(this.#auth, 'to-node', text)]).catch(() => {});
  }

  /**
   * A tool's reply to the run's node. One longer than the node reads would be dropped there, unread, and
   * the script would wait for it until its deadline: it becomes, at once, the error a script sees for a
   * tool result over the app's own cap.
   */
  #reply(run: RemoteRun, callId: number, reply: Parameters<IsolatedRun['deliver']>[1]): void {
    run.caps.replied(reply);
    // The payload is JSON already: to a node that reads it so, it follows the newline, not escaped again.
    const text = run.framed ? formatMessage(['reply', run.id, callId, reply[0]] satisfies ToNode, reply[1]) : formatMessage(['reply', run.id, callId, reply[0], reply[1]] satisfies ToNode);
    if (run.maxMessage === undefined || text.length <= run.maxMessage) {
      this.#sendRunText(run, text);
      return;
    }
    const [ok, payload] = toolErrorReply('ToolError', `The tool's result is larger than the runtime node running this script accepts (${run.maxMessage} characters as a message).`, 'RESULT_TOO_LARGE');
    this.#sendRun(run, ['reply', run.id, callId, ok, payload]);
  }

  /** A message about `run` to its node, over the run's direct connection if it has one. */
  #sendRun(run: RemoteRun, message: ToNode): void {
    this.#sendRunText(run, JSON.stringify(message));
  }

  #sendRunText(run: RemoteRun, text: string): void {
    if (run.link !== undefined) this.#writeText(run.link, text);
    else if (run.node !== undefined) this.#publish(run.node, text);
  }

  #write(link: AppLink, message: ToNode): void {
    this.#writeText(link, JSON.stringify(message), message[0] === 'welcome' ? 'welcome' : 'to-node');
  }

  #writeText(link: AppLink, text: string, kind: MessageKind = 'to-node'): void {
    writeFrame(link.socket, seal(this.#auth, kind, text), 2 * frameCap(this.#maxMessageBytes));
  }

  // ---- direct connections from nodes ---------------------------------------------------------------

  /** Listens for nodes; on failure (the port is taken, the address is not this machine's) runs use pub/sub only. */
  #listen(direct: DirectSettings): Promise<void> {
    const server = createServer({ noDelay: true }, (socket) => this.#accept(socket));
    // Room for connections still in their handshake beside the welcomed ones (bounded in #welcomes).
    server.maxConnections = 2 * MAX_LINKS;
    // Like the heartbeat: an Enclave that is not disposed does not keep the process alive by listening.
    server.unref();
    this.#server = server;
    return new Promise<void>((resolve) => {
      server.once('error', () => {
        this.#server = undefined;
        resolve();
      });
      server.listen(direct.port, direct.host, () => {
        const address = server.address();
        if (this.#disposed) server.close();
        else if (address !== null && typeof address === 'object') this.#reach = formatAddress(direct.advertise, address.port);
        server.on('error', () => {});
        resolve();
      });
    });
  }

  #accept(socket: Socket): void {
    if (this.#disposed) {
      socket.destroy();
      return;
    }
    const link: AppLink = { socket, node: undefined, runs: new Set(), used: 0 };
    this.#links.add(link);
    // The first frame must be the hello, naming this instance: a connection that does not say it in time is not a node.
    let signed: Opened | undefined;
    const hello = (message: unknown[]) => {
      const node = message[1];
      if (message[0] !== 'hello' || !isId(node) || message[2] !== this.id || !this.#welcomes(node, message[3], signed)) return false;
      link.node = node;
      link.used = performance.now();
      this.#nodeLinks.set(node, link);
      this.#write(link, ['welcome', this.id]);
      return true;
    };
    const auth = this.#auth;
    const unwrap = auth === undefined ? undefined : (text: string) => (signed = auth.open('hello', text, HANDSHAKE_FRAME_BYTES))?.text;
    readConnection(socket, hello, frameCap(this.#maxMessageBytes), (text) => this.#receive(text, link), unwrap);
    socket.on('close', () => {
      this.#links.delete(link);
      if (link.node !== undefined && this.#nodeLinks.get(link.node) === link) this.#nodeLinks.delete(link.node);
      // The node is gone, or the connection broke: what it was saying is lost, as when a node dies.
      for (const run of Array.from(link.runs)) this.#fail(run, 'RUNTIME_LOST', 'RuntimeLostError', LOST_NODE);
    });
  }

  /**
   * Whether a hello from `node` gets a connection. One connection per node: a newer one takes its place
   * (with a secret only a hello signed by that node after the one it holds; without, only while the old
   * one carries no run). With a secret the hello must be the node's own, and its time within
   * HELLO_FRESH_MS of this clock. When MAX_LINKS connections are up, the one idle longest gives way; if
   * every one carries a run, the node uses pub/sub. So hellos sent again, forged without the secret or
   * under made-up ids, hold at most the idle places, which any real node takes back.
   */
  #welcomes(node: string, time: unknown, signed: Opened | undefined): boolean {
    if (this.#auth !== undefined) {
      if (signed === undefined || signed.sender !== node || typeof time !== 'number' || !(Math.abs(Date.now() - time) <= HELLO_FRESH_MS)) return false;
      if (signed.seq <= (this.#helloSeqs.get(node) ?? 0)) return false;
      // Bounded: what is forgotten is older than a hello's freshness could cover, or held by a connection.
      if (this.#helloSeqs.size >= 4 * MAX_LINKS) this.#helloSeqs.clear();
      this.#helloSeqs.set(node, signed.seq);
    }
    const held = this.#nodeLinks.get(node);
    if (held !== undefined) {
      if (this.#auth === undefined && held.runs.size > 0) return false;
      this.#nodeLinks.delete(node);
      held.socket.destroy();
    }
    if (this.#nodeLinks.size < MAX_LINKS) return true;
    let idlest: AppLink | undefined;
    for (const l of this.#nodeLinks.values()) if (l.runs.size === 0 && (idlest === undefined || l.used < idlest.used)) idlest = l;
    if (idlest === undefined) return false;
    this.#nodeLinks.delete(idlest.node as string);
    idlest.socket.destroy();
    return true;
  }

  #connectionLost(): void {
    this.#listening = false;
    for (const run of Array.from(this.#runs.values())) {
      if (run.link !== undefined) continue;
      if (run.state === 'running') this.#fail(run, 'RUNTIME_LOST', 'RuntimeLostError', LOST_REDIS);
      else this.#fail(run, 'RUNTIME_UNAVAILABLE', 'RuntimeUnavailableError', 'The connection to Redis was lost before a runtime node took the run; nothing of the script ran.');
    }
  }

  /** Says this instance is alive, and ends the runs of nodes that no longer say so. */
  async #beat(): Promise<void> {
    if (this.#disposed) return;
    const nodes = [...new Set([...this.#runs.values()].flatMap((r) => (r.node === undefined ? [] : [r.node])))];
    let gone: Set<string>;
    try {
      gone = await this.#presence.beat('1', nodes);
    } catch {
      // Redis does not answer: no conclusion (the deadline still ends every run).
      return;
    }
    for (const run of Array.from(this.#runs.values())) if (run.node !== undefined && gone.has(run.node)) this.#fail(run, 'RUNTIME_LOST', 'RuntimeLostError', LOST_NODE);
  }

  // ---- messages from nodes ---------------------------------------------------------------------

  /** A message from a node, on pub/sub (`link` undefined) or on a direct connection. */
  #receive(text: string | undefined, link?: AppLink): void {
    // Dropped before it is verified or parsed, whatever its size: a message about no run of this instance
    // (but an acceptance, which is answered with a cancel, and is short).
    const head = text === undefined ? undefined : messageHead(this.#auth === undefined ? text : (unverifiedText(text) ?? ''));
    if (head === undefined || (head.kind === 'accept' ? (text as string).length > HANDSHAKE_FRAME_BYTES : !this.#runs.has(head.run))) return;
    // Measured before it is parsed: no message about a run builds more than its entries could.
    const received = receiveMessage(this.#auth, 'to-app', text as string, this.#maxMessageBytes, this.#runs.get(head.run)?.caps.maxValues ?? ACCEPT_VALUES);
    if (received === 'forged') this.#forged++;
    if (received === 'forged' || received === undefined) return;
    const { message, tail, from } = received;
    const id = message[1];
    if (!isId(id)) return;
    const run = this.#runs.get(id);
    switch (message[0]) {
      case 'accept': {
        const node = message[2];
        // Only the node that claimed the run has read its token; on a connection, only that connection's node.
        if (!isId(node) || (link !== undefined && link.node !== node)) return;
        // Signed by the node it names: no other node's acceptance, however genuine, takes the run.
        if (from !== undefined && from.sender !== node) {
          this.#forged++;
          return;
        }
        // A run this instance no longer wants (stopped, timed out in the queue): the node drops it.
        if (run === undefined || run.state !== 'queued') {
          if (run?.node === node) return;
          if (link !== undefined) this.#write(link, ['cancel', id]);
          else this.#send(node, ['cancel', id]);
          return;
        }
        if (message[3] !== run.token) return;
        clearTimeout(run.timer);
        run.seq = from?.seq ?? 0;
        run.timer = undefined;
        run.state = 'running';
        run.node = node;
        const max = message[4];
        if (typeof max === 'number' && Number.isSafeInteger(max) && max > 0) run.maxMessage = max;
        run.framed = message[5] === 1;
        if (link !== undefined && !link.socket.destroyed) {
          run.link = link;
          link.runs.add(run);
          link.used = performance.now();
        }
        return;
      }
      case 'entry':
        // Only where the run was accepted: a run taken over a connection hears nothing from pub/sub.
        if (run !== undefined && run.state === 'running' && run.link === link && this.#fromNode(run, from)) this.#entry(run, message, tail);
        return;
      case 'failed':
        // Also while queued (always on pub/sub): a node that refused the run says so before it would accept it.
        if (run !== undefined && run.link === link && NODE_FAILURES.has(message[2]) && this.#fromNode(run, from)) {
          const [code, name, wording] = FAILURES[message[2] as NodeFailure];
          this.#fail(run, code, name, wording);
        }
        return;
    }
  }

  /**
   * With a secret: whether a signed message about `run` comes from its node, newer than the last one
   * taken (a replay of an earlier one is dropped). Any node may say it refused a run still queued.
   */
  #fromNode(run: RemoteRun, from: { sender: string; seq: number } | undefined): boolean {
    if (from === undefined || run.node === undefined || inOrder(run, from, run.node)) return true;
    this.#forged++;
    return false;
  }

  #entry(run: RemoteRun, message: unknown[], tail: string): void {
    // The worker pool's own checks of a worker's entry: its shape, values of non-deterministic sources
    // included (the driver holds their number to the run's cap, as it does tool calls), and what the
    // run's realm could have written in all (EntryCaps: beyond it a node handed a tool arguments of any
    // size, and the caller a result of any size).
    const entry = readEntry(['entry', 0, message[2], message[3], message[4], false, false, message[5]], tail);
    if (entry === undefined || !run.caps.within(entry)) {
      this.#fail(run, 'INTERNAL_ERROR', 'InternalError', 'The runtime node sent an invalid message.');
      return;
    }
    const output: EntryOutput = { calls: entry.calls, logs: entry.logs, end: entry.end };
    if (entry.nd !== undefined) output.nd = entry.nd;
    if (entry.end !== null) this.#forget(run);
    run.events.entry(output);
  }

}
