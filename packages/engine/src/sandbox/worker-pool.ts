/**
 * The host side of the `worker_threads` adapter: a pool of warm workers, each running one run at a time
 * in the same locked realms as `vm` mode. What a worker adds is enforced from outside it:
 * - a hard halt: at the deadline, a worker whose realm is running script code is terminated at once;
 *   one that is waiting (on a tool, say) is told to end the run and is terminated if it does not answer;
 * - a real heap cap: `resourceLimits` per worker; running out ends only that worker's run;
 * - JSON-only, size-capped, rate-limited messages, and output checked like any other untrusted input;
 * - a bounded queue that answers QUEUE_FULL at once.
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Worker, WorkerOptions } from 'node:worker_threads';
import type { RuntimeLimits } from '../levels.js';
import { MB } from '../levels.js';
import type { WorkerPoolConfig, WorkerPoolStats } from '../types.js';
import type { EntryCall, EntryEnd, EntryLog, EntryOutput, IsolatedJob, IsolatedRun, Isolation, IsolationEvents, IsolationFailureCode } from './isolation.js';
import { iterationCount } from './isolation.js';
import { shareCompileState } from './compile.js';
import { isNdValues } from './nondeterminism.js';
import type { NdValue } from './realm-abi.js';
import { MAX_TOOL_NAME } from './realm-abi.js';
import type { RealmPoolOptions } from './realm.js';
import { runtimeCodeForWorkers } from './realm.js';
import type { HostMessage, WireEnd, WireJob, WorkerInit } from './worker-protocol.js';
import { checkMessage, formatMessage } from './worker-protocol.js';
import { EntryCaps } from './entry-caps.js';
import { AsyncResource } from '../node-types.js';

/** Pool defaults per security level (explicit `workerPoolConfig` fields win). */
export const WORKER_POOL_PRESETS = {
  STRICT: { minWorkers: 2, maxWorkers: 4, memoryLimitPerWorker: 64 * MB, maxMessagesPerSecond: 100 },
  SECURE: { minWorkers: 2, maxWorkers: 8, memoryLimitPerWorker: 128 * MB, maxMessagesPerSecond: 500 },
  STANDARD: { minWorkers: 2, maxWorkers: 16, memoryLimitPerWorker: 256 * MB, maxMessagesPerSecond: 1000 },
  PERMISSIVE: { minWorkers: 4, maxWorkers: 32, memoryLimitPerWorker: 512 * MB, maxMessagesPerSecond: 5000 },
} as const;

/** The largest message either side of a worker accepts: every payload cap, with room for JSON escapes. */
export function maxMessageBytes(limits: Pick<RuntimeLimits, 'maxInputBytes' | 'maxToolResultBytes' | 'maxOutputBytes' | 'maxLogBytes' | 'maxToolArgsBytes'>): number {
  const payload = limits.maxInputBytes + limits.maxToolResultBytes + limits.maxOutputBytes + limits.maxLogBytes + limits.maxToolArgsBytes + 1024 * 1024;
  return 6 * payload + 65_536;
}

/**
 * The V8 heap limit a worker gets for a pool heap of `perWorker` bytes. The worker's own checks end a run
 * once the heap passes `perWorker` (see configureHeap); the space above is for the single allocation in
 * flight at that moment. V8 aborts the whole process, not only the worker, when one allocation does not
 * fit (a Map or an array of about a third of the heap doubles its backing store in one step: measured,
 * "FATAL ERROR: CALL_AND_RETRY_LAST" at 33 MB used of 64), and Node's near-heap-limit callback, which
 * ends only the worker, adds just 16 MB for such a step. Four times the pool heap leaves room for the
 * largest step a run that passed its last checkpoint can take.
 */
export function v8HeapLimitMb(perWorker: number): number {
  return Math.max(16, Math.ceil((4 * perWorker) / MB) + 16);
}

/** How long a worker may take to end a cancelled run by itself before it is terminated. */
const CANCEL_GRACE_MS = 100;
const LOG_LEVELS: ReadonlySet<unknown> = new Set(['log', 'info', 'warn', 'error', 'debug']);
const END_KINDS: ReadonlySet<unknown> = new Set(['report', 'timeout', 'syntax', 'crashed', 'stopped']);
/** The values a message from a worker with no run may hold: `['ready']`, with room. */
const READY_VALUES = 16;

let workerUrl: URL | undefined;
/**
 * The worker's entry module: next to this file when built, or the package's built copy under tests. The
 * path is built with `node:path`, not as a URL relative to the module from a variable: bundlers such as Turbopack
 * treat that pattern as a worker reference and try to bundle every file it could name.
 */
function workerEntry(): URL {
  if (workerUrl) return workerUrl;
  // Loaded here, not imported: an ESM import of node:fs builds its module facade, which loads Node's
  // streams (several milliseconds of every cold start, also for vm-mode servers that never get here).
  const { existsSync } = process.getBuiltinModule('node:fs') as typeof import('node:fs');
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const file of [path.join(here, 'worker-main.js'), path.join(here, '..', '..', 'dist', 'bundle', 'worker-main.js')]) {
    // The comment keeps Turbopack from tracing the whole project for this lookup.
    if (existsSync(/* turbopackIgnore: true */ file)) return (workerUrl = pathToFileURL(file));
  }
  throw new Error('The worker_threads adapter needs the built engine (worker-main.js was not found).');
}

type SlotState = 'starting' | 'idle' | 'busy' | 'draining' | 'dead';

interface Job {
  id: number;
  job: IsolatedJob;
  /** What the run's entries may hold in all: a worker that reports more is not running our realm. */
  caps: EntryCaps;
  events: IsolationEvents;
  /** Set once the run is over for the pool: ended by its worker, failed, or stopped by the host. */
  done: boolean;
  slot: Slot | undefined;
}

interface Slot {
  worker: Worker;
  flag: Int32Array;
  /** See WorkerInit.progress. */
  progress: BigInt64Array;
  state: SlotState;
  job: Job | undefined;
  runs: number;
  /** Runs after which this worker is recycled: `maxExecutionsPerWorker`, or a little less (see recycleAfter). */
  limit: number;
  /** The worker started to take this one's place before it is recycled (see #startSuccessor). */
  predecessor: Slot | undefined;
  /**
   * Messages the worker may still send in answer to the host: one for its `ready`, and one per message
   * the host posted to it (a run, a tool reply, a cancel each make the worker enter its realm once and
   * report once). Answers are the protocol, not a flood, however fast the tools are: only messages
   * beyond them count against `maxMessagesPerSecond`.
   */
  credit: number;
  windowStart: number;
  windowCount: number;
  backlog: string[];
  /** The characters `backlog` holds: at most one message's worth (see #receive). */
  backlogChars: number;
  backlogTimer: NodeJS.Timeout | undefined;
  idleTimer: NodeJS.Timeout | undefined;
  graceTimer: NodeJS.Timeout | undefined;
  /** The code a run still on this worker ends with when the worker dies. */
  deathCode: IsolationFailureCode;
  /** Set when the pool itself stops the worker, so its exit is not counted as a crash. */
  stopping: boolean;
}

export interface WorkerPoolOptions {
  realms: RealmPoolOptions;
  maxMessageBytes: number;
  /** The worker's entry module; tests only (a worker that misbehaves on purpose). */
  entry?: URL;
}

/**
 * A worker's successor starts this many runs before the worker is recycled (a quarter of its runs at
 * most), so that it is warm when the worker goes: a worker takes tens of milliseconds to start, and
 * runs that wait for it would all pay that.
 */
const SUCCESSOR_LEAD = 64;

/**
 * Runs after which a new worker is recycled: `max`, or up to a tenth fewer, at random. Workers that
 * started together and share the load evenly would otherwise reach `max` together, and be replaced at
 * the same moment; a worker never does more than `max` runs.
 */
function recycleAfter(max: number): number {
  return max - Math.floor(Math.random() * Math.floor(max / 10));
}

/** The `worker_threads` isolation. */
export class WorkerPool implements Isolation {
  readonly kind = 'worker_threads';
  readonly #config: WorkerPoolConfig;
  readonly #init: Omit<WorkerInit, 'flag' | 'progress' | 'compiles' | 'runtimeCode'>;
  readonly #entry: URL | undefined;
  readonly #slots = new Set<Slot>();
  readonly #queue: Job[] = [];
  #nextJob = 0;
  #disposed = false;
  #allExited: Promise<void> = Promise.resolve();
  /** Workers in a row that died before they were ready: a broken install must not respawn forever. */
  #startFailures = 0;
  readonly #counts = { workersStarted: 0, recycled: 0, terminated: 0, crashed: 0, tampered: 0 };
  readonly #readyWaiters: (() => void)[] = [];
  /**
   * The async context the pool was made in, where its workers are started: a worker's port keeps the
   * context it was made in for as long as it lives (and its messages arrive in it), so one started for
   * the first run of some request kept that request's AsyncLocalStorage store alive.
   */
  readonly #home = new AsyncResource('enclave.workers');

  constructor(config: WorkerPoolConfig, options: WorkerPoolOptions) {
    this.#config = config;
    this.#init = { realms: options.realms, maxMessageBytes: options.maxMessageBytes, heapCeiling: config.memoryLimitPerWorker };
    this.#entry = options.entry;
    for (let i = 0; i < config.minWorkers; i++) this.#spawn();
  }

  /** Resolves once `minWorkers` workers are started and warm (or the pool cannot start them, or is disposed). */
  ready(): Promise<void> {
    if (this.#isReady()) return Promise.resolve();
    return new Promise((resolve) => this.#readyWaiters.push(resolve));
  }

  #isReady(): boolean {
    if (this.#disposed) return true;
    let warm = 0;
    for (const s of this.#slots) if (s.state !== 'starting' && s.state !== 'dead') warm++;
    return warm >= this.#config.minWorkers;
  }

  #checkReady(force = false): void {
    if (this.#readyWaiters.length > 0 && (force || this.#isReady())) for (const resolve of this.#readyWaiters.splice(0)) resolve();
  }

  stats(): WorkerPoolStats {
    let busy = 0;
    let idle = 0;
    let starting = 0;
    for (const s of this.#slots) {
      if (s.state === 'idle') idle++;
      else if (s.state === 'starting') starting++;
      else if (s.state !== 'dead') busy++;
    }
    return { workers: this.#slots.size, busyWorkers: busy, idleWorkers: idle, startingWorkers: starting, queued: this.#queue.length, ...this.#counts };
  }

  run(job: IsolatedJob, events: IsolationEvents): IsolatedRun {
    const entry: Job = { id: ++this.#nextJob, job, caps: new EntryCaps(job), events, done: false, slot: undefined };
    const handle: IsolatedRun = {
      deliver: (callId, reply) => {
        const slot = entry.slot;
        if (entry.done || slot === undefined || slot.job !== entry) return;
        entry.caps.replied(reply);
        this.#post(slot, ['reply', entry.id, callId, reply[0]], reply[1]);
      },
      stop: () => this.#stopJob(entry),
      iterations: () => {
        const slot = entry.slot;
        if (slot === undefined || slot.job !== entry) return undefined;
        return iterationCount(Number(Atomics.load(slot.progress, 0)));
      },
    };
    if (this.#disposed) {
      this.#fail(entry, 'ABORTED', 'AbortError', 'This Enclave has been disposed.');
      return handle;
    }
    const idle = this.#idleSlot();
    if (idle) this.#assign(idle, entry);
    else if (this.#queue.length >= this.#config.maxQueueSize + this.#room()) {
      this.#fail(entry, 'QUEUE_FULL', 'QueueFullError', `All ${this.#config.maxWorkers} workers are busy and ${this.#config.maxQueueSize} runs are already waiting.`);
    } else {
      this.#queue.push(entry);
      this.#replenish();
    }
    return handle;
  }

  /** Terminates every worker; runs still on them end as ABORTED. Resolves once every worker has exited. */
  dispose(): Promise<void> {
    if (this.#disposed) return this.#allExited;
    this.#disposed = true;
    this.#checkReady(true);
    const message = 'The run was stopped because the Enclave was disposed.';
    for (const job of this.#queue.splice(0)) this.#fail(job, 'ABORTED', 'AbortError', message);
    const slots = Array.from(this.#slots);
    for (const slot of slots) {
      if (slot.job) this.#fail(slot.job, 'ABORTED', 'AbortError', message);
      this.#stop(slot);
    }
    // terminate() again only hands out the promise of the exit #stop started (or a settled one).
    this.#allExited = Promise.all(slots.map((slot) => slot.worker.terminate().catch(() => {}))).then(() => {});
    return this.#allExited;
  }

  // ---- workers ---------------------------------------------------------------------------------

  #live(): number {
    let n = 0;
    for (const s of this.#slots) if (s.state !== 'dead') n++;
    return n;
  }

  /**
   * Queued runs that a worker will take without waiting for another run to end: one per worker still
   * starting, and one per worker the pool may yet start (up to `maxWorkers`). Only runs beyond these
   * wait for a busy worker, and only those count against `maxQueueSize`: a run that comes while the
   * pool warms up, or while it may still grow, is no more refused at `maxQueueSize: 0` than at 1,000.
   */
  #room(): number {
    return this.#starting() + Math.max(0, this.#config.maxWorkers - this.#live());
  }

  /** Workers started and not ready yet. */
  #starting(): number {
    let n = 0;
    for (const s of this.#slots) if (s.state === 'starting') n++;
    return n;
  }

  #idleSlot(): Slot | undefined {
    for (const s of this.#slots) if (s.state === 'idle') return s;
    return undefined;
  }

  #spawn(): Slot | undefined {
    if (this.#disposed) return undefined;
    const flag = new SharedArrayBuffer(4);
    const progress = new SharedArrayBuffer(8);
    const init: WorkerInit = { ...this.#init, flag, progress, compiles: shareCompileState(), runtimeCode: runtimeCodeForWorkers() };
    // Through Reflect.construct: bundlers (Turbopack) read `new Worker(<dynamic>)` as a reference to every
    // file it could name, and then bundle the whole project around a Next.js route.
    const options: WorkerOptions = {
      workerData: init,
      // An empty environment: nothing of the host's process.env exists in the worker.
      env: {},
      argv: [],
      execArgv: [],
      name: 'enclave-kit worker',
      resourceLimits: {
        maxOldGenerationSizeMb: v8HeapLimitMb(this.#config.memoryLimitPerWorker),
        maxYoungGenerationSizeMb: Math.max(4, Math.min(32, Math.ceil(this.#config.memoryLimitPerWorker / MB / 8))),
        stackSizeMb: 4,
      },
      // A worker's own output (a warning, a deprecation) is read and dropped here: nothing a script
      // does may write to the host's stdout or stderr.
      stdout: true,
      stderr: true,
    };
    const { Worker: WorkerCtor } = process.getBuiltinModule('node:worker_threads') as typeof import('node:worker_threads');
    const worker = this.#home.runInAsyncScope(() => Reflect.construct(WorkerCtor, [this.#entry ?? workerEntry(), options]) as Worker);
    const slot: Slot = {
      worker,
      flag: new Int32Array(flag),
      progress: new BigInt64Array(progress),
      state: 'starting',
      job: undefined,
      runs: 0,
      limit: recycleAfter(this.#config.maxExecutionsPerWorker),
      predecessor: undefined,
      credit: 1,
      windowStart: performance.now(),
      windowCount: 0,
      backlog: [],
      backlogChars: 0,
      backlogTimer: undefined,
      idleTimer: undefined,
      graceTimer: undefined,
      deathCode: 'INTERNAL_ERROR',
      stopping: false,
    };
    this.#slots.add(slot);
    this.#counts.workersStarted++;
    worker.unref();
    worker.stdout.resume();
    worker.stderr.resume();
    worker.on('message', (text: unknown) => this.#receive(slot, text));
    worker.on('error', (err: unknown) => {
      const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
      if (code === 'ERR_WORKER_OUT_OF_MEMORY') slot.deathCode = 'MEMORY_LIMIT_EXCEEDED';
    });
    worker.on('exit', () => this.#exited(slot));
    return slot;
  }

  /**
   * Starts the worker that takes `slot`'s place, while `slot` does its last runs (SUCCESSOR_LEAD): once
   * it is ready, `slot` goes (at once if idle, else when its run ends), whether or not it did all its
   * runs. One at a time, so the pool is at most one worker over `maxWorkers`, and only while a successor
   * starts and its predecessor finishes a run; a worker whose successor could not start is replaced when
   * it goes, as any worker that dies is.
   */
  #startSuccessor(slot: Slot): void {
    if (slot.runs + 1 < slot.limit - Math.min(SUCCESSOR_LEAD, Math.floor(slot.limit / 4))) return;
    // A successor whose predecessor is alive (this one's, or another's): none now.
    for (const s of this.#slots) {
      if (s.predecessor === undefined) continue;
      if (s.predecessor.state !== 'dead') return;
      s.predecessor = undefined;
    }
    const successor = this.#spawn();
    if (successor !== undefined) successor.predecessor = slot;
  }

  /** `slot`'s successor, once it is ready to take runs. */
  #replacedBy(slot: Slot): Slot | undefined {
    for (const s of this.#slots) if (s.predecessor === slot && (s.state === 'idle' || s.state === 'busy' || s.state === 'draining')) return s;
    return undefined;
  }

  /** Stops a worker on the pool's own initiative (recycling, idle, deadline, disposal). */
  #stop(slot: Slot): void {
    if (slot.state === 'dead') return;
    slot.stopping = true;
    slot.state = 'dead';
    this.#clearTimers(slot);
    void slot.worker.terminate().catch(() => {});
  }

  /** Stops a worker for a reason the stats count, and starts what the pool then lacks. */
  #retire(slot: Slot, reason: 'recycled' | 'terminated' | 'tampered'): void {
    this.#counts[reason]++;
    this.#stop(slot);
    this.#replenish();
  }

  #clearTimers(slot: Slot): void {
    clearTimeout(slot.idleTimer);
    clearTimeout(slot.graceTimer);
    clearTimeout(slot.backlogTimer);
  }

  #exited(slot: Slot): void {
    const wasStopping = slot.stopping;
    if (slot.state === 'starting' && !wasStopping) this.#startFailures++;
    slot.state = 'dead';
    this.#clearTimers(slot);
    this.#slots.delete(slot);
    if (!wasStopping) this.#counts.crashed++;
    const job = slot.job;
    slot.job = undefined;
    if (job) {
      const oom = slot.deathCode === 'MEMORY_LIMIT_EXCEEDED';
      this.#fail(job, slot.deathCode, oom ? 'MemoryLimitError' : 'InternalError', oom ? 'The run exceeded the worker heap limit.' : 'The sandbox worker stopped unexpectedly.');
    }
    this.#replenish();
  }

  /** Keeps `minWorkers` alive and starts workers for waiting runs. */
  #replenish(): void {
    if (this.#disposed) return;
    if (this.#startFailures >= 3) {
      // Workers cannot start here: answer the waiting runs instead of retrying in a loop. A later run
      // tries again.
      this.#startFailures = 0;
      this.#checkReady(true);
      for (const job of this.#queue.splice(0)) this.#fail(job, 'INTERNAL_ERROR', 'InternalError', 'The sandbox workers could not be started.');
      return;
    }
    let starting = this.#starting();
    while (this.#live() < this.#config.minWorkers || (this.#live() < this.#config.maxWorkers && this.#queue.length > starting)) {
      this.#spawn();
      starting++;
    }
  }

  #becomeIdle(slot: Slot): void {
    slot.job = undefined;
    clearTimeout(slot.graceTimer);
    // Done with its runs, or its successor is ready to take its place.
    const successor = this.#replacedBy(slot);
    if (successor !== undefined) successor.predecessor = undefined;
    if (slot.runs >= slot.limit || successor !== undefined) {
      this.#retire(slot, 'recycled');
      return;
    }
    const wasStarting = slot.state === 'starting';
    slot.state = 'idle';
    slot.worker.unref();
    this.#checkReady();
    // A successor that is ready: the worker it replaces goes now if idle, else when its run ends.
    const predecessor = wasStarting ? slot.predecessor : undefined;
    if (predecessor !== undefined) {
      slot.predecessor = undefined;
      if (predecessor.state === 'idle') this.#retire(predecessor, 'recycled');
      else if (predecessor.state !== 'dead') slot.predecessor = predecessor;
    }
    const next = this.#queue.shift();
    if (next) {
      this.#assign(slot, next);
      return;
    }
    clearTimeout(slot.idleTimer);
    slot.idleTimer = setTimeout(() => {
      if (slot.state === 'idle' && this.#live() > this.#config.minWorkers) this.#retire(slot, 'recycled');
    }, this.#config.idleTimeoutMs);
    slot.idleTimer.unref();
  }

  #assign(slot: Slot, job: Job): void {
    clearTimeout(slot.idleTimer);
    this.#startSuccessor(slot);
    slot.state = 'busy';
    slot.job = job;
    slot.deathCode = 'INTERNAL_ERROR';
    Atomics.store(slot.progress, 0, -1n);
    job.slot = slot;
    // A busy worker keeps the process alive, like a run in vm mode does through its deadline timer.
    slot.worker.ref();
    const { deadline, source, inputText, globalsText, positions, ...rest } = job.job;
    const wire: WireJob = { ...rest, remaining: deadline - performance.now(), input: inputText === null ? -1 : inputText.length, globals: globalsText === null ? -1 : globalsText.length };
    let p = positions?.();
    // Only while the message stays well within what the worker reads (the anchors and the user's text
    // are about as long as the script): a run without them keeps V8's columns in its stack traces.
    if (p !== undefined && 2 * (source.length + p.text.length + p.anchors.length + (inputText?.length ?? 0) + (globalsText?.length ?? 0)) > this.#init.maxMessageBytes) p = undefined;
    if (p !== undefined) {
      wire.anchors = p.anchors;
      wire.prefix = p.prefix;
      wire.user = p.text.length;
    }
    this.#post(slot, ['run', job.id, wire], `${inputText ?? ''}${globalsText ?? ''}${p?.text ?? ''}${source}`);
  }

  /** Sends `message`, with `tail` (text that is JSON or code already) after a newline. */
  #post(slot: Slot, message: HostMessage, tail?: string): void {
    if (slot.state === 'dead') return;
    try {
      slot.worker.postMessage(formatMessage(message, tail));
      slot.credit++;
    } catch {
      // A worker that is going away: its exit settles the run.
    }
  }

  // ---- messages from a worker -------------------------------------------------------------------

  #receive(slot: Slot, text: unknown): void {
    if (slot.state === 'dead') return;
    if (slot.credit > 0 && slot.backlog.length === 0) {
      slot.credit--;
      this.#handle(slot, text);
      return;
    }
    const now = performance.now();
    if (now - slot.windowStart >= 1000) {
      slot.windowStart = now;
      slot.windowCount = 0;
    }
    if (slot.backlog.length > 0 || ++slot.windowCount > this.#config.maxMessagesPerSecond) {
      // Over the rate: hold messages until the next window; a worker that keeps flooding is stopped, and
      // so is one whose held messages would outgrow one message's cap (each may be that large).
      if (typeof text !== 'string' || slot.backlog.length >= this.#config.maxMessagesPerSecond || slot.backlogChars + text.length > this.#init.maxMessageBytes) {
        this.#flooded(slot);
        return;
      }
      slot.backlog.push(text);
      slot.backlogChars += text.length;
      slot.backlogTimer ??= setTimeout(() => this.#drainBacklog(slot), Math.max(1, 1000 - (now - slot.windowStart)));
      return;
    }
    this.#handle(slot, text);
  }

  #drainBacklog(slot: Slot): void {
    slot.backlogTimer = undefined;
    if (slot.state === 'dead') return;
    slot.windowStart = performance.now();
    slot.windowCount = 0;
    while (slot.backlog.length > 0 && slot.windowCount < this.#config.maxMessagesPerSecond) {
      slot.windowCount++;
      const text = slot.backlog.shift() as string;
      slot.backlogChars -= text.length;
      this.#handle(slot, text);
      if ((slot.state as SlotState) === 'dead') return;
    }
    if (slot.backlog.length > 0) slot.backlogTimer = setTimeout(() => this.#drainBacklog(slot), 1000);
  }

  #flooded(slot: Slot): void {
    const job = slot.job;
    if (job) this.#fail(job, 'RUNTIME_ERROR', 'MessageFloodError', `The sandbox sent more than ${this.#config.maxMessagesPerSecond} messages per second that answered nothing the host sent.`);
    this.#retire(slot, 'terminated');
  }

  /** A worker that speaks nonsense is not trusted with another run. */
  #invalid(slot: Slot): void {
    const job = slot.job;
    if (job) this.#fail(job, 'INTERNAL_ERROR', 'InternalError', 'The sandbox worker sent an invalid message.');
    this.#retire(slot, 'terminated');
  }

  #handle(slot: Slot, text: unknown): void {
    let message: unknown[];
    let tail: string;
    try {
      // Counted before it is parsed: no message builds more values than its run's entries could hold
      // (a worker between runs says only `ready`).
      ({ message, tail } = checkMessage(text, this.#init.maxMessageBytes, slot.job?.caps.maxValues ?? READY_VALUES));
    } catch {
      this.#invalid(slot);
      return;
    }
    if (message[0] === 'ready') {
      this.#startFailures = 0;
      if (slot.state === 'starting') this.#becomeIdle(slot);
      return;
    }
    const entry = message[0] === 'entry' ? readEntry(message, tail) : undefined;
    if (entry === undefined) {
      this.#invalid(slot);
      return;
    }
    const job = slot.job;
    // A late message of a run the pool has already given up on.
    if (!job || job.id !== entry.id) return;
    // Within what the run's realm can write, all entries together, before any of it is acted on.
    if (!job.caps.within(entry)) {
      this.#invalid(slot);
      return;
    }
    if (entry.end !== null) {
      slot.runs++;
      job.done = true;
      if (entry.tampered) this.#retire(slot, 'tampered');
      else if (entry.full) this.#retire(slot, 'recycled');
      else this.#becomeIdle(slot);
    }
    if (job.events !== undefined) {
      const output: EntryOutput = { calls: entry.calls, logs: entry.logs, end: entry.end };
      if (entry.nd !== undefined) output.nd = entry.nd;
      if (entry.iterations !== undefined) output.iterations = entry.iterations;
      job.events.entry(output);
    }
  }

  // ---- ending runs -------------------------------------------------------------------------------

  #fail(job: Job, code: IsolationFailureCode, name: string, message: string): void {
    if (job.done) return;
    job.done = true;
    job.events.failed(code, name, message);
  }

  /** The host ended the run (deadline, abort, its result): its worker is made to stop running it. */
  #stopJob(job: Job): void {
    if (job.done) return;
    job.done = true;
    const slot = job.slot;
    if (!slot) {
      const i = this.#queue.indexOf(job);
      if (i >= 0) this.#queue.splice(i, 1);
      return;
    }
    if (slot.job !== job || slot.state === 'dead') return;
    if (Atomics.load(slot.flag, 0) === 1) {
      // Script code is running right now: a hard halt.
      this.#retire(slot, 'terminated');
      return;
    }
    // The worker is waiting (on a tool, or between entries): ask it to end the run, and halt it if it
    // does not answer in time.
    slot.state = 'draining';
    this.#post(slot, ['cancel', job.id]);
    slot.graceTimer = setTimeout(() => {
      if (slot.state === 'draining' && slot.job === job) this.#retire(slot, 'terminated');
    }, CANCEL_GRACE_MS);
  }
}

/** An entry message as readEntry reads it. */
export interface ReadEntry {
  id: number;
  calls: EntryCall[];
  logs: EntryLog[];
  end: EntryEnd | null;
  tampered: boolean;
  full: boolean;
  nd?: NdValue[];
  iterations?: number;
}

/**
 * An `entry` message, checked field by field: anything off means the worker is not trusted. A call's
 * argument text is either in the call (`[callId, name, argsText]`, as runtime nodes send it) or after
 * the newline (`[callId, name, length]`, as workers send it), ahead of a report's value, which is the rest.
 */
export function readEntry(m: unknown[], tail: string): ReadEntry | undefined {
  const [, id, wireCalls, logs, end, tampered, full, nd, iterations] = m;
  if (typeof id !== 'number' || !Array.isArray(wireCalls) || !Array.isArray(logs) || typeof tampered !== 'boolean' || typeof full !== 'boolean') return undefined;
  // A null in place of the values is how a worker that has none says so before its count of iterations.
  if (nd !== undefined && !(nd === null && iterations !== undefined) && !isNdValues(nd)) return undefined;
  const counted = iterationCount(iterations);
  if (iterations !== undefined && counted === undefined) return undefined;
  const calls: EntryCall[] = [];
  let at = 0;
  for (const c of wireCalls) {
    // Ids as the realm numbers them, names as long as it lets a script call: anything else is a lie.
    if (!Array.isArray(c) || !Number.isSafeInteger(c[0]) || typeof c[1] !== 'string' || c[1].length > MAX_TOOL_NAME) return undefined;
    const args: unknown = c[2];
    if (typeof args === 'string') calls.push([c[0], c[1], args]);
    else if (typeof args === 'number' && Number.isSafeInteger(args) && args >= 0 && args <= tail.length - at) {
      calls.push([c[0], c[1], tail.slice(at, at + args)]);
      at += args;
    } else return undefined;
  }
  const value = tail.slice(at);
  for (const l of logs) if (!Array.isArray(l) || !LOG_LEVELS.has(l[0]) || typeof l[1] !== 'string') return undefined;
  let out: EntryEnd | null = null;
  if (end !== null) {
    const e = end as WireEnd;
    if (typeof e !== 'object' || !END_KINDS.has(e.kind)) return undefined;
    if (e.kind === 'report') {
      if (typeof e.report !== 'string') return undefined;
      out = { kind: 'report', report: e.report, value };
    } else if (e.kind === 'syntax') {
      out = { kind: 'syntax', message: typeof e.message === 'string' ? e.message.slice(0, 1000) : 'invalid syntax' };
      // V8's position, where the thread read one: anything else is dropped (the error is then at 1:1).
      const where: unknown = e.at;
      if (Array.isArray(where) && where.length === 2 && Number.isSafeInteger(where[0]) && Number.isSafeInteger(where[1]) && where[0] >= -1 && where[1] >= 0) out.at = [where[0], where[1]];
    }
    else out = { kind: e.kind };
  }
  const entry: ReadEntry = { id, calls, logs: logs as EntryLog[], end: out, tampered, full };
  if (nd !== undefined && nd !== null) entry.nd = nd;
  if (counted !== undefined) entry.iterations = counted;
  return entry;
}
