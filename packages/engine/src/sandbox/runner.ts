import type vm from 'node:vm';
import type { ErrorCode } from '../errors.js';
import type { RuntimeLimits } from '../levels.js';
import { hostCodec } from '../sanitize/codec.js';
import type { ToolCallRequest, ToolReply } from '../tools/invoke.js';
import type { Realm, RealmPool, RunBridgeTarget } from './realm.js';
import { pumpScript, startScript } from './realm.js';
import type { EntryTarget } from './scheduler.js';
import { currentEntryMode, entryScheduler, isHostTimeout } from './scheduler.js';
import type { ExecutionError, ExecutionResult, LogEntry } from '../types.js';
import { failure } from '../result.js';
import { elapsedMs } from '../source.js';
import { Abort, runEndReason } from '../abort.js';

/** Everything one run needs, resolved by the Enclave (limits already merged and lowered). */
export interface RunPlan {
  runId: string;
  /** The rewritten script (registers the factory) and its cache key. */
  script: vm.Script;
  scriptKey: string;
  /** Maps V8's (line, column) in the rewritten script to the user's source. */
  mapPosition?: (line: number, column: number) => { line: number; column: number } | undefined;
  globalNames: readonly string[];
  /** Globals that are host functions: the realm gets async stubs that call them through the bridge. */
  functionNames: readonly string[];
  inputText: string | null;
  globalsText: string | null;
  /** The instance's limits, lowered by the run's own. */
  limits: Readonly<RuntimeLimits>;

  /** Runs one of the script's tool calls on the host (never rejects). */
  invokeTool: (call: ToolCallRequest) => Promise<ToolReply>;
  signal?: AbortSignal;
  startedAt: number;
  /** Leave a successful run's value as codec text (the worker adapter decodes it in the host). */
  rawValue?: boolean;
}

let nextRunId = 0;

// node:v8 costs several milliseconds to load in a fresh process and is needed only once a run reaches
// a memory checkpoint, so it is loaded then.
let v8: typeof import('node:v8') | undefined;
function heapStatistics() {
  v8 ??= process.getBuiltinModule('node:v8') as typeof import('node:v8');
  return v8.getHeapStatistics();
}


/**
 * Drives one run in one realm: starts it, delivers tool results in batches (each delivery runs the
 * script's continuations inside `runInContext` with the time that is left, so code after an `await` is
 * under the deadline too), and settles exactly once.
 */
export class RunController implements RunBridgeTarget, EntryTarget {
  readonly id = ++nextRunId;
  readonly #plan: RunPlan;
  readonly #realm: Realm;
  readonly #pool: RealmPool;
  readonly #deadline: number;
  readonly #logs: LogEntry[] = [];
  readonly #mailbox: [number, 0 | 1, string][] = [];
  /** Set when the run ends: every tool call's `ctx.signal` follows it (an `Abort` costs nothing until read). */
  readonly #toolsEnd = new Abort();
  /**
   * Heap growth is charged to a run only while its own realm entries execute (one thread: nothing else
   * allocates then), so a concurrent tenant's memory is never counted against it. Tracking starts at
   * the run's first memory checkpoint, which comes before its first large allocation.
   */
  #heapTracked = false;
  #heapAtEntry = 0;
  #heapGrowth = 0;
  #begun = false;
  #pumpQueued = false;
  #report: [string, string] | undefined;
  #settled = false;
  #result: ExecutionResult | undefined;
  #resolve!: (r: ExecutionResult) => void;
  #timer: NodeJS.Timeout | undefined;
  #onAbort: (() => void) | undefined;
  #toolCallCount = 0;
  #iterationCount = 0;
  #factory = -1;

  constructor(plan: RunPlan, realm: Realm, pool: RealmPool) {
    this.#plan = plan;
    this.#realm = realm;
    this.#pool = pool;
    this.#deadline = plan.startedAt + plan.limits.timeout;
  }

  start(): Promise<ExecutionResult> {
    const done = new Promise<ExecutionResult>((resolve) => {
      this.#resolve = resolve;
    });
    const signal = this.#plan.signal;
    if (signal) {
      this.#onAbort = () => this.#finish(this.#failure('ABORTED', 'AbortError', 'The run was aborted by the caller.'));
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
    const remaining = this.#deadline - performance.now();
    this.#timer = setTimeout(() => this.#finish(this.#timeoutResult()), Math.max(0, remaining));
    this.#realm.current = this;
    this.#realm.runs++;
    try {
      this.#factory = this.#realm.factoryFor(this.#plan.scriptKey, this.#plan.script);
    } catch {
      this.#realm.broken = true;
      this.#finish(this.#failure('INTERNAL_ERROR', 'InternalError', 'The sandbox failed unexpectedly.'));
      return done;
    }
    entryScheduler.enter(this, startScript);
    return done;
  }

  // ---- bridge (called from realm code; primitives only, never throws) --------------------------

  begin(): string | undefined {
    if (this.#begun || this.#settled) return undefined;
    this.#begun = true;
    const l = this.#plan.limits;
    return JSON.stringify({
      id: this.id,
      factory: this.#factory,
      maxIterations: l.maxIterations,
      maxCallDepth: l.maxCallDepth,
      maxToolCalls: l.maxToolCalls,
      memoryLimit: l.memoryLimit,
      maxOutputBytes: l.maxOutputBytes,
      maxToolArgsBytes: l.maxToolArgsBytes,
      maxLogBytes: l.maxLogBytes,
      maxLogEntries: l.maxLogEntries,
      input: this.#plan.inputText,
      globals: this.#plan.globalsText,
      names: this.#plan.globalNames,
      fnNames: this.#plan.functionNames,
    });
  }

  onCall(callId: number, payload: string): 0 | 1 {
    if (this.#settled) return 0;
    const [name, argsText] = JSON.parse(payload) as [string, string];
    this.#toolCallCount++;
    const callIndex = this.#toolCallCount;
    // The tool starts after the realm has returned: host code never runs under the realm's watchdog,
    // so a deadline can never cut a tool off half-way through its synchronous part.
    queueMicrotask(() => {
      if (this.#settled) return;
      void this.#invokeTool(callIndex, callId, name, argsText);
    });
    return 1;
  }

  take(): string {
    if (this.#mailbox.length === 0) return '';
    const batch = JSON.stringify(this.#mailbox);
    this.#mailbox.length = 0;
    return batch;
  }

  // The realm reports its outcome from inside a realm entry, i.e. under the watchdog. Whatever runs
  // there can be cut off by V8's termination at any call, so these only record the report; the run is
  // settled after the entry has returned (see afterEntry), where nothing can interrupt it.
  onDone(kind: string, payload: string): void {
    if (this.#report === undefined) this.#report = [kind, payload];
  }

  onFatal(payload: string): void {
    // A budget error ends the run at once, whatever the script does next.
    if (this.#report === undefined) this.#report = ['fatal', payload];
  }

  #resultFromReport([kind, payload]: [string, string]): ExecutionResult {
    const data = JSON.parse(payload) as unknown[];
    if (kind === 'ok') {
      const [text, iterations, calls] = data as [string, number, number];
      this.#iterationCount = iterations;
      this.#toolCallCount = Math.max(this.#toolCallCount, calls);
      return { success: true, value: this.#plan.rawValue ? text : hostCodec.decode(text), stats: this.#stats() };
    }
    if (kind === 'fatal') {
      const [code, message, iterations, calls] = data as [ErrorCode, string, number, number];
      this.#iterationCount = iterations;
      this.#toolCallCount = Math.max(this.#toolCallCount, calls);
      return this.#failure(code, nameForCode(code), message);
    }
    const [name, message, code, tool, loc, iterations, calls, toolData] = data as [
      string,
      string,
      string | null,
      string | null,
      [number, number] | null,
      number,
      number,
      string | null | undefined,
    ];
    this.#iterationCount = iterations;
    this.#toolCallCount = Math.max(this.#toolCallCount, calls);
    const isTool = code !== null;
    const extra: Pick<ExecutionError, 'location' | 'data'> = {};
    if (loc && this.#plan.mapPosition) {
      const mapped = this.#plan.mapPosition(loc[0], loc[1]);
      if (mapped) extra.location = mapped;
    }
    // A tool error's public data (e.g. `status`, `retryAfterMs`) is what the HTTP adapters map.
    if (isTool) extra.data = { ...(typeof toolData === 'string' ? publicToolData(toolData) : {}), toolErrorCode: code, ...(tool !== null ? { tool } : {}) };
    return failure(isTool ? 'TOOL_ERROR' : 'RUNTIME_ERROR', name, message, this.#stats(), extra);
  }

  onLog(level: string, line: string): void {
    if (this.#settled) return;
    this.#logs.push({
      level: (['log', 'info', 'warn', 'error', 'debug'].includes(level) ? level : 'log') as LogEntry['level'],
      message: line,
      time: elapsedMs(this.#plan.startedAt),
    });
  }

  overMemory(): boolean {
    const stats = heapStatistics();
    const used = stats.used_heap_size;
    if (!this.#heapTracked) {
      this.#heapTracked = true;
      this.#heapAtEntry = used;
    }
    return this.#heapGrowth + (used - this.#heapAtEntry) > this.#plan.limits.memoryLimit || used > stats.heap_size_limit * 0.9;
  }

  // ---- internals -------------------------------------------------------------------------------

  /** Ends the run as ABORTED (used by Enclave.dispose); a no-op once the run has settled. */
  abort(message: string): void {
    this.#finish(this.#failure('ABORTED', 'AbortError', message));
  }

  get deadline(): number {
    return this.#deadline;
  }

  get settled(): boolean {
    return this.#settled;
  }

  #entryStarts(): void {
    if (this.#heapTracked) this.#heapAtEntry = heapStatistics().used_heap_size;
  }

  #entryEnds(): void {
    if (this.#heapTracked) this.#heapGrowth += heapStatistics().used_heap_size - this.#heapAtEntry;
  }

  enterUnderSupervisor(script: vm.Script): 'returned' | 'failed' {
    this.#pumpQueued = false;
    this.#entryStarts();
    try {
      script.runInContext(this.#realm.context);
      this.#entryEnds();
      return 'returned';
    } catch {
      // V8's termination is not catchable and passes through here to the supervisor's watchdog.
      this.#realm.broken = true;
      return 'failed';
    }
  }

  enterAlone(script: vm.Script): void {
    if (this.#settled) return;
    this.#pumpQueued = false;
    const remaining = this.#deadline - performance.now();
    if (remaining <= 0) {
      this.afterEntry('timeout');
      return;
    }
    let outcome: 'returned' | 'timeout' | 'failed' = 'returned';
    const mode = currentEntryMode();
    this.#entryStarts();
    mode.onEnter?.();
    try {
      if (mode.watchdog) script.runInContext(this.#realm.context, { timeout: Math.max(1, Math.ceil(remaining)) });
      else script.runInContext(this.#realm.context);
    } catch (e) {
      outcome = isHostTimeout(e) ? 'timeout' : 'failed';
    } finally {
      mode.onLeave?.();
    }
    this.#entryEnds();
    this.afterEntry(outcome);
  }

  afterEntry(outcome: 'returned' | 'failed' | 'timeout'): void {
    if (this.#settled) return;
    // The realm was cut off mid-execution (or failed in a way we do not understand): never reuse it.
    if (outcome !== 'returned') this.#realm.broken = true;
    // A report made before the deadline stands even if detached work then ran into the deadline.
    if (this.#report !== undefined) {
      let result: ExecutionResult;
      try {
        result = this.#resultFromReport(this.#report);
      } catch {
        result = this.#failure('INTERNAL_ERROR', 'InternalError', 'The result could not be read.');
      }
      this.#finish(result);
    } else if (outcome === 'timeout') this.#finish(this.#timeoutResult());
    else if (outcome === 'failed') this.#finish(this.#failure('INTERNAL_ERROR', 'InternalError', 'The sandbox failed unexpectedly.'));
  }

  #schedulePump(): void {
    if (this.#pumpQueued || this.#settled) return;
    this.#pumpQueued = true;
    entryScheduler.enter(this, pumpScript);
  }

  async #invokeTool(callIndex: number, callId: number, name: string, argsText: string) {
    const reply = await this.#plan.invokeTool({ name, argsText, callIndex, runEnd: this.#toolsEnd });
    if (this.#settled) return;
    this.#mailbox.push([callId, reply[0], reply[1]]);
    this.#schedulePump();
  }

  #stats() {
    return {
      duration: elapsedMs(this.#plan.startedAt),
      toolCallCount: this.#toolCallCount,
      iterationCount: this.#iterationCount,
    };
  }

  #failure(code: ErrorCode, name: string, message: string): ExecutionResult {
    return failure(code, name, message, this.#stats());
  }

  #timeoutResult(): ExecutionResult {
    return this.#failure('TIMEOUT', 'TimeoutError', `The run exceeded its deadline of ${this.#plan.limits.timeout} ms.`);
  }

  #finish(result: ExecutionResult): void {
    if (this.#settled) return;
    this.#settled = true;
    if (this.#logs.length > 0) result.logs = this.#logs;
    this.#result = result;
    clearTimeout(this.#timer);
    if (this.#onAbort && this.#plan.signal) this.#plan.signal.removeEventListener('abort', this.#onAbort);
    this.#toolsEnd.abort(runEndReason(result.error?.code ?? 'completed'));
    this.#mailbox.length = 0;
    // Never called inside a realm entry, so the realm is idle and can go back to the pool.
    this.#releaseRealm();
    this.#resolve(result);
  }

  #releaseRealm(): void {
    if (this.#realm.current !== this) return;
    this.#pool.release(this.#realm);
  }

  get result(): ExecutionResult | undefined {
    return this.#result;
  }
}

function publicToolData(text: string): Record<string, unknown> {
  try {
    const parsed = JSON.parse(text) as unknown;
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function nameForCode(code: ErrorCode): string {
  switch (code) {
    case 'MAX_ITERATIONS':
      return 'IterationLimitError';
    case 'MAX_TOOL_CALLS':
      return 'ToolCallLimitError';
    case 'MEMORY_LIMIT_EXCEEDED':
      return 'MemoryLimitError';
    case 'OUTPUT_LIMIT_EXCEEDED':
      return 'OutputLimitError';
    case 'TIMEOUT':
      return 'TimeoutError';
    case 'ABORTED':
      return 'AbortError';
    case 'RUNTIME_ERROR':
      return 'CallDepthError';
    default:
      return 'Error';
  }
}

