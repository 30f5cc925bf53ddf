/**
 * The host side of the `worker_threads` adapter: a pool of warm workers, each running one run at a time
 * in the same locked realms as `vm` mode. What a worker adds is enforced from outside it:
 * - a hard halt: at the deadline, a worker whose realm is running script code is terminated at once;
 *   one that is waiting (on a tool, say) is told to end the run and is terminated if it does not answer;
 * - a real heap cap: `resourceLimits` per worker; running out ends only that worker's run;
 * - JSON-only, size-capped, rate-limited messages, and output checked like any other untrusted input;
 * - a bounded queue that answers QUEUE_FULL at once.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { WorkerOptions } from 'node:worker_threads';
import type { ErrorCode } from '../errors.js';
import { ErrorCode as CODES } from '../errors.js';
import { MB } from '../levels.js';
import { hostCodec } from '../sanitize/codec.js';
import type { ToolCallRequest, ToolReply } from '../tools/invoke.js';
import { failure } from '../result.js';
import type { ExecutionError, ExecutionResult, LogEntry, WorkerPoolConfig, WorkerPoolStats } from '../types.js';
import type { HostMessage, WireRunPlan, WorkerInit, WorkerMessage } from './worker-protocol.js';
import { checkMessage } from './worker-protocol.js';
import { elapsedMs } from '../source.js';
import { Abort, runEndReason } from '../abort.js';

/** Pool defaults per security level (explicit `workerPoolConfig` fields win). */
export const WORKER_POOL_PRESETS = {
  STRICT: { minWorkers: 2, maxWorkers: 4, memoryLimitPerWorker: 64 * MB, maxMessagesPerSecond: 100 },
  SECURE: { minWorkers: 2, maxWorkers: 8, memoryLimitPerWorker: 128 * MB, maxMessagesPerSecond: 500 },
  STANDARD: { minWorkers: 2, maxWorkers: 16, memoryLimitPerWorker: 256 * MB, maxMessagesPerSecond: 1000 },
  PERMISSIVE: { minWorkers: 4, maxWorkers: 32, memoryLimitPerWorker: 512 * MB, maxMessagesPerSecond: 5000 },
} as const;

/** One run as the pool gets it from the Enclave. */
export interface WorkerJob {
  key: string;
  source: string;
  wire: WireRunPlan;
  /** `performance.now()` value when the run began and when its deadline passes. */
  startedAt: number;
  deadline: number;
  timeout: number;
  invokeTool: (call: ToolCallRequest) => Promise<ToolReply>;
  signal?: AbortSignal;
  mapPosition?: (line: number, column: number) => { line: number; column: number } | undefined;
}

/** How long a worker may take to end a cancelled run by itself before it is terminated. */
const CANCEL_GRACE_MS = 100;
const KNOWN_CODES = new Set<string>(Object.values(CODES));
const LOG_LEVELS = new Set(['log', 'info', 'warn', 'error', 'debug']);

let workerUrl: URL | undefined;
/**
 * The worker's entry module: next to this file when built, or the package's built copy under tests. The
 * path is built with `node:path`, not as a URL relative to the module from a variable: bundlers such as Turbopack
 * treat that pattern as a worker reference and try to bundle every file it could name.
 */
function workerEntry(): URL {
  if (workerUrl) return workerUrl;
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const file of [path.join(here, 'worker-main.js'), path.join(here, '..', '..', 'dist', 'bundle', 'worker-main.js')]) {
    // The comment keeps Turbopack from tracing the whole project for this lookup.
    if (existsSync(/* turbopackIgnore: true */ file)) return (workerUrl = pathToFileURL(file));
  }
  throw new Error('The worker_threads adapter needs the built engine (worker-main.js was not found).');
}

type SlotState = 'starting' | 'idle' | 'busy' | 'draining' | 'dead';

interface Job extends WorkerJob {
  id: number;
  settled: boolean;
  resolve: (r: ExecutionResult) => void;
  timer: NodeJS.Timeout | undefined;
  onAbort: (() => void) | undefined;
  /** Set when the run ends: every tool call's `ctx.signal` follows it. */
  toolsEnd: Abort;
  toolCalls: number;
  slot: Slot | undefined;
}

interface Slot {
  worker: Worker;
  flag: Int32Array;
  state: SlotState;
  job: Job | undefined;
  runs: number;
  windowStart: number;
  windowCount: number;
  backlog: string[];
  backlogTimer: NodeJS.Timeout | undefined;
  idleTimer: NodeJS.Timeout | undefined;
  graceTimer: NodeJS.Timeout | undefined;
  /** The code a run still on this worker ends with when the worker dies. */
  deathCode: ErrorCode;
  /** Set when the pool itself stops the worker, so its exit is not counted as a crash. */
  stopping: boolean;
}

export class WorkerPool {
  readonly #config: WorkerPoolConfig;
  readonly #init: Omit<WorkerInit, 'flag'>;
  readonly #slots = new Set<Slot>();
  readonly #queue: Job[] = [];
  #nextJob = 0;
  #disposed = false;
  /** Workers in a row that died before they were ready: a broken install must not respawn forever. */
  #startFailures = 0;
  readonly #counts = { workersStarted: 0, recycled: 0, terminated: 0, crashed: 0, tampered: 0 };

  constructor(config: WorkerPoolConfig, realm: { intl: boolean; proxy: boolean; maxMessageBytes: number }) {
    this.#config = config;
    this.#init = { intl: realm.intl, proxy: realm.proxy, maxMessageBytes: realm.maxMessageBytes };
    for (let i = 0; i < config.minWorkers; i++) this.#spawn();
  }

  /** Resolves once `minWorkers` workers are started and warm (or the pool cannot start them, or is disposed). */
  ready(): Promise<void> {
    if (this.#isReady()) return Promise.resolve();
    return new Promise((resolve) => this.#readyWaiters.push(resolve));
  }

  readonly #readyWaiters: (() => void)[] = [];

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

  run(spec: WorkerJob): Promise<ExecutionResult> {
    return new Promise<ExecutionResult>((resolve) => {
      const job: Job = { ...spec, id: ++this.#nextJob, settled: false, resolve, timer: undefined, onAbort: undefined, toolsEnd: new Abort(), toolCalls: 0, slot: undefined };
      if (this.#disposed) return this.#settle(job, jobFailure(job, 'ABORTED', 'AbortError', 'This Enclave has been disposed.'));
      const idle = this.#idleSlot();
      if (!idle && this.#queue.length >= this.#config.maxQueueSize) {
        return this.#settle(job, jobFailure(job, 'QUEUE_FULL', 'QueueFullError', `All ${this.#config.maxWorkers} workers are busy and ${this.#config.maxQueueSize} runs are already waiting.`));
      }
      job.timer = setTimeout(() => this.#stopJob(job, jobFailure(job, 'TIMEOUT', 'TimeoutError', `The run exceeded its deadline of ${job.timeout} ms.`)), Math.max(0, job.deadline - performance.now()));
      if (job.signal) {
        job.onAbort = () => this.#stopJob(job, jobFailure(job, 'ABORTED', 'AbortError', 'The run was aborted by the caller.'));
        job.signal.addEventListener('abort', job.onAbort, { once: true });
      }
      if (idle) this.#assign(idle, job);
      else {
        this.#queue.push(job);
        this.#replenish();
      }
    });
  }

  /** Terminates every worker and settles every pending run as ABORTED. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#checkReady(true);
    for (const job of this.#queue.splice(0)) this.#settle(job, jobFailure(job, 'ABORTED', 'AbortError', 'The run was stopped because the Enclave was disposed.'));
    for (const slot of Array.from(this.#slots)) {
      if (slot.job) this.#settle(slot.job, jobFailure(slot.job, 'ABORTED', 'AbortError', 'The run was stopped because the Enclave was disposed.'));
      this.#stop(slot);
    }
  }

  // ---- workers ---------------------------------------------------------------------------------

  #live(): number {
    let n = 0;
    for (const s of this.#slots) if (s.state !== 'dead') n++;
    return n;
  }

  #idleSlot(): Slot | undefined {
    for (const s of this.#slots) if (s.state === 'idle') return s;
    return undefined;
  }

  #spawn(): void {
    if (this.#disposed) return;
    const flag = new SharedArrayBuffer(4);
    const init: WorkerInit = { ...this.#init, flag };
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
        maxOldGenerationSizeMb: Math.max(16, Math.ceil(this.#config.memoryLimitPerWorker / MB)),
        maxYoungGenerationSizeMb: Math.max(4, Math.min(32, Math.ceil(this.#config.memoryLimitPerWorker / MB / 8))),
        stackSizeMb: 4,
      },
    };
    const worker = Reflect.construct(Worker, [workerEntry(), options]) as Worker;
    const slot: Slot = {
      worker,
      flag: new Int32Array(flag),
      state: 'starting',
      job: undefined,
      runs: 0,
      windowStart: performance.now(),
      windowCount: 0,
      backlog: [],
      backlogTimer: undefined,
      idleTimer: undefined,
      graceTimer: undefined,
      deathCode: 'INTERNAL_ERROR',
      stopping: false,
    };
    this.#slots.add(slot);
    this.#counts.workersStarted++;
    worker.unref();
    worker.on('message', (text: unknown) => this.#receive(slot, text));
    worker.on('error', (err: unknown) => {
      const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
      if (code === 'ERR_WORKER_OUT_OF_MEMORY') slot.deathCode = 'MEMORY_LIMIT_EXCEEDED';
    });
    worker.on('exit', () => this.#exited(slot));
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
    if (job && !job.settled) {
      const message = slot.deathCode === 'MEMORY_LIMIT_EXCEEDED' ? 'The run exceeded the worker heap limit.' : 'The sandbox worker stopped unexpectedly.';
      this.#settle(job, jobFailure(job, slot.deathCode, slot.deathCode === 'MEMORY_LIMIT_EXCEEDED' ? 'MemoryLimitError' : 'InternalError', message));
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
      for (const job of this.#queue.slice()) this.#settle(job, jobFailure(job, 'INTERNAL_ERROR', 'InternalError', 'The sandbox workers could not be started.'));
      return;
    }
    let starting = 0;
    for (const s of this.#slots) if (s.state === 'starting') starting++;
    while (this.#live() < this.#config.minWorkers || (this.#live() < this.#config.maxWorkers && this.#queue.length > starting)) {
      this.#spawn();
      starting++;
    }
  }

  #becomeIdle(slot: Slot): void {
    slot.job = undefined;
    if (slot.runs >= this.#config.maxExecutionsPerWorker) {
      this.#retire(slot, 'recycled');
      return;
    }
    slot.state = 'idle';
    slot.worker.unref();
    this.#checkReady();
    const next = this.#nextQueued();
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

  #nextQueued(): Job | undefined {
    while (this.#queue.length > 0) {
      const job = this.#queue.shift() as Job;
      if (!job.settled) return job;
    }
    return undefined;
  }

  #assign(slot: Slot, job: Job): void {
    clearTimeout(slot.idleTimer);
    slot.state = 'busy';
    slot.job = job;
    slot.deathCode = 'INTERNAL_ERROR';
    job.slot = slot;
    // A busy worker keeps the process alive, like a run in vm mode does through its deadline timer.
    slot.worker.ref();
    job.wire.elapsed = performance.now() - job.startedAt;
    this.#post(slot, ['run', job.id, job.key, job.source, job.wire]);
  }

  #post(slot: Slot, message: HostMessage): void {
    if (slot.state === 'dead') return;
    try {
      slot.worker.postMessage(JSON.stringify(message));
    } catch {
      // A worker that is going away: its exit settles the run.
    }
  }

  // ---- messages from a worker -------------------------------------------------------------------

  #receive(slot: Slot, text: unknown): void {
    if (slot.state === 'dead') return;
    const now = performance.now();
    if (now - slot.windowStart >= 1000) {
      slot.windowStart = now;
      slot.windowCount = 0;
    }
    if (slot.backlog.length > 0 || ++slot.windowCount > this.#config.maxMessagesPerSecond) {
      // Over the rate: hold messages until the next window; a worker that keeps flooding is stopped.
      if (typeof text !== 'string' || slot.backlog.length >= this.#config.maxMessagesPerSecond) {
        this.#flooded(slot);
        return;
      }
      slot.backlog.push(text);
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
      this.#handle(slot, slot.backlog.shift() as string);
      if ((slot.state as SlotState) === 'dead') return;
    }
    if (slot.backlog.length > 0) slot.backlogTimer = setTimeout(() => this.#drainBacklog(slot), 1000);
  }

  #flooded(slot: Slot): void {
    const job = slot.job;
    if (job) this.#settle(job, jobFailure(job, 'RUNTIME_ERROR', 'MessageFloodError', `The sandbox sent more than ${this.#config.maxMessagesPerSecond} messages per second.`));
    this.#retire(slot, 'terminated');
  }

  #handle(slot: Slot, text: unknown): void {
    let message: WorkerMessage;
    try {
      message = checkMessage(text, this.#init.maxMessageBytes) as WorkerMessage;
    } catch {
      // A worker that speaks nonsense is not trusted with another run.
      const job = slot.job;
      if (job) this.#settle(job, jobFailure(job, 'INTERNAL_ERROR', 'InternalError', 'The sandbox worker sent an invalid message.'));
      this.#retire(slot, 'terminated');
      return;
    }
    switch (message[0]) {
      case 'ready':
        this.#startFailures = 0;
        if (slot.state === 'starting') this.#becomeIdle(slot);
        break;
      case 'call':
        this.#toolCall(slot, message);
        break;
      case 'done':
        this.#done(slot, message);
        break;
    }
  }

  #toolCall(slot: Slot, [, id, callIndex, name, argsText]: ['call', number, number, string, string]): void {
    const job = slot.job;
    // No tool call starts for a run that has ended, or once its deadline has passed.
    if (!job || job.id !== id || job.settled || slot.state !== 'busy' || performance.now() >= job.deadline) return;
    if (typeof callIndex !== 'number' || typeof name !== 'string' || typeof argsText !== 'string') return;
    if (++job.toolCalls > job.wire.limits.maxToolCalls) return;
    void job.invokeTool({ name, argsText, callIndex, runEnd: job.toolsEnd }).then((reply) => {
      if (!job.settled && slot.job === job) this.#post(slot, ['reply', id, callIndex, reply[0], reply[1]]);
    });
  }

  #done(slot: Slot, [, id, result, tampered]: ['done', number, ExecutionResult, boolean]): void {
    const job = slot.job;
    if (!job || job.id !== id) return;
    slot.runs++;
    if (!job.settled) this.#settle(job, this.#hostResult(job, result));
    if (tampered === true) {
      this.#retire(slot, 'tampered');
      return;
    }
    clearTimeout(slot.graceTimer);
    this.#becomeIdle(slot);
  }

  /** The worker's report, checked like any untrusted input and rebuilt from known fields only. */
  #hostResult(job: Job, raw: ExecutionResult): ExecutionResult {
    try {
      const stats = { duration: elapsedMs(job.startedAt), toolCallCount: num(raw.stats?.toolCallCount), iterationCount: num(raw.stats?.iterationCount) };
      let out: ExecutionResult;
      if (raw.success === true && typeof raw.value === 'string') {
        out = { success: true, value: hostCodec.decode(raw.value), stats };
      } else if (raw.success === false && raw.error && typeof raw.error.message === 'string' && typeof raw.error.name === 'string' && KNOWN_CODES.has(raw.error.code)) {
        const extra: Pick<ExecutionError, 'location' | 'data'> = {};
        const loc = raw.error.location;
        if (loc && typeof loc.line === 'number' && typeof loc.column === 'number' && job.mapPosition) {
          const mapped = job.mapPosition(loc.line, loc.column);
          if (mapped) extra.location = mapped;
        }
        if (raw.error.data && typeof raw.error.data === 'object') extra.data = JSON.parse(JSON.stringify(raw.error.data)) as Record<string, unknown>;
        out = failure(raw.error.code, raw.error.name, raw.error.message, stats, extra);
      } else {
        return jobFailure(job, 'INTERNAL_ERROR', 'InternalError', 'The sandbox worker sent an invalid result.');
      }
      if (Array.isArray(raw.logs)) {
        const logs: LogEntry[] = [];
        for (const l of raw.logs) {
          if (l && typeof l.message === 'string' && LOG_LEVELS.has(l.level)) logs.push({ level: l.level, message: l.message, time: num(l.time) });
        }
        if (logs.length > 0) out.logs = logs;
      }
      return out;
    } catch {
      return jobFailure(job, 'INTERNAL_ERROR', 'InternalError', 'The sandbox worker sent an invalid result.');
    }
  }

  // ---- ending runs -------------------------------------------------------------------------------

  /** Deadline or abort: the run ends now; its worker is made to stop running it. */
  #stopJob(job: Job, result: ExecutionResult): void {
    if (job.settled) return;
    this.#settle(job, result);
    const slot = job.slot;
    if (!slot || slot.job !== job || slot.state === 'dead') return;
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

  #settle(job: Job, result: ExecutionResult): void {
    if (job.settled) return;
    job.settled = true;
    if (!job.slot) {
      const i = this.#queue.indexOf(job);
      if (i >= 0) this.#queue.splice(i, 1);
    }
    clearTimeout(job.timer);
    if (job.onAbort && job.signal) job.signal.removeEventListener('abort', job.onAbort);
    job.toolsEnd.abort(runEndReason(result.error?.code ?? 'completed'));
    job.resolve(result);
  }
}

function jobFailure(job: Job, code: ErrorCode, name: string, message: string): ExecutionResult {
  return failure(code, name, message, { duration: elapsedMs(job.startedAt), toolCallCount: job.toolCalls, iterationCount: 0 });
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0;
}
