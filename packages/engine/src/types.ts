import type { ErrorCode } from './errors.js';
import type { SecurityLevel } from './levels.js';
import type { ScoringGateOptions, ScoringResult } from './score/types.js';
import type { Issue } from './source.js';
import type { WorkerPoolConfig } from './sandbox/worker-pool.js';
import type { ToolCallHook } from './tools/audit.js';
import type { ToolDefinition } from './tools/define.js';
import type { RateLimitStore } from './tools/rate-limit.js';
import type { SidecarOptions } from './tools/sidecar.js';

/** What a tool receives besides its arguments. */
export interface ToolContext {
  /**
   * The call's own signal: aborted when the run ends (deadline, caller's abort, budget error or
   * completion) and when the tool's timeout passes.
   */
  readonly signal: AbortSignal;
  /** Id of the run that made the call. */
  readonly runId: string;
  /** 1-based index of this call within the run. */
  readonly callIndex: number;
  /** Name the script called. */
  readonly tool: string;
  /** The per-run context the host passed in `RunOptions.context` (for example the request's user). */
  readonly context: unknown;
}

/** A tool: receives a copy of the script's arguments; its result is copied into the realm. */
export type ToolFunction = (args: any, ctx: ToolContext) => unknown;

/** One function serving every tool name. */
export type ToolHandler = (name: string, args: any, ctx: ToolContext) => unknown;

/**
 * Named tools: a record of plain functions and `defineTool()` definitions keyed by name, or an array of
 * definitions.
 */
export type ToolSet = Readonly<Record<string, ToolFunction | ToolDefinition>> | readonly ToolDefinition[];

/** Limits shared by the instance options and the per-run options (per run they can only lower). */
export interface Limits {
  /** Deadline of a run in ms. Covers script code before and after every `await`, and tool waits. */
  timeout?: number;
  /** Iterations across all loops and function calls (callbacks included). */
  maxIterations?: number;
  maxToolCalls?: number;
  /** Nesting depth of synchronous user function calls. */
  maxCallDepth?: number;
  /** Bytes: the largest allocation a builtin may make, and the heap growth a run may cause. */
  memoryLimit?: number;
  /** Bytes of the serialized result. */
  maxOutputBytes?: number;
  /** Bytes and entries of captured console output. */
  maxLogBytes?: number;
  maxLogEntries?: number;
  /** Bytes of serialized `input` plus `globals`. */
  maxInputBytes?: number;
  /** Bytes of one tool call's serialized arguments. */
  maxToolArgsBytes?: number;
  /** Bytes of one tool result. */
  maxToolResultBytes?: number;
}

export interface RealmPoolConfig {
  /** Locked realms kept between runs (default 256; about 160 KB of heap each). */
  maxIdle?: number;
  /** Realms built ahead of demand in idle time (default 2). */
  prewarm?: number;
  /** Retire a realm after this many runs (default 1000). */
  maxRunsPerRealm?: number;
}

export interface CreateEnclaveOptions extends Limits {
  /** Default `'STANDARD'`. Sets every layer's defaults; explicit options win. */
  securityLevel?: SecurityLevel;
  /** Run the AST validation (layer 1). Default true. The runtime keeps every invariant without it. */
  validate?: boolean;
  /**
   * Insert the run-time guards (layer 2): iteration and call-depth budgets, uncatchable budget errors,
   * computed-key and string-growth checks. Default true. Without them the deadline, tool-call budget,
   * memory-checked builtins and output caps still hold.
   */
  transform?: boolean;
  /** Tools available to every run; a run's own `tools` are layered over them. */
  tools?: ToolSet;
  /** Alternative to `tools`: one function for every tool name (a run's `toolHandler` replaces it). */
  toolHandler?: ToolHandler;
  /** Timeout (ms) of every tool call whose tool sets none; the run's deadline bounds every call anyway. */
  toolTimeout?: number;
  /** Audit hook: called once per tool call, after it ended. Throwing or rejecting never affects a run. */
  onToolCall?: ToolCallHook;
  /** Where tool rate limits are counted (default: in memory, per Enclave). */
  rateLimitStore?: RateLimitStore;
  /**
   * Keep huge strings of tool results on the host; the script gets references it can pass on
   * (`true`: the level's limits, see `SIDECAR_DEFAULTS`). Off by default.
   */
  sidecar?: boolean | Partial<SidecarOptions>;
  /** Values copied into every run as global bindings (copies: nothing a script does survives the run). */
  globals?: Readonly<Record<string, unknown>>;
  /** Allow functions among `globals`; they become async functions the script awaits, like tools. */
  allowFunctionsInGlobals?: boolean;
  /**
   * Where runs execute. `'vm'` (default): a locked `node:vm` realm in this thread, every realm entry
   * under a V8 watchdog. `'worker_threads'`: the same realm inside a pool of warm workers, adding a hard
   * halt (`worker.terminate()`), a real heap cap per worker and isolation of this thread's event loop.
   */
  adapter?: 'vm' | 'worker_threads';
  /** Pool options for `adapter: 'worker_threads'`; defaults come from the security level's preset. */
  workerPoolConfig?: Partial<WorkerPoolConfig>;
  realmPool?: RealmPoolConfig;
  /**
   * Layer 3, the scoring gate: refuses scripts shaped like exfiltration or abuse before they run, and
   * explains every verdict in `result.scoring`. `true` uses the level's thresholds, an object tunes it.
   * Default: on at STRICT only (`SCORING_DEFAULTS`).
   */
  scoringGate?: boolean | ScoringGateOptions;
}

export interface RunOptions extends Limits {
  /**
   * Tools of this run (for example bound to the request's user), layered over the instance's tools: a
   * tool of the same name replaces the instance's for this run only.
   */
  tools?: ToolSet;
  /** Alternative to `tools`: one function for every tool name not among the named tools; replaces the instance's handler. */
  toolHandler?: ToolHandler;
  /** Globals of this run, merged over the instance's. */
  globals?: Readonly<Record<string, unknown>>;
  /** Available to the script as the global `input` (a copy). */
  input?: unknown;
  /** Aborts the run: it ends as `ABORTED` and its tools' signals abort. */
  signal?: AbortSignal;
  /** Passed to tools as `ctx.context`. */
  context?: unknown;
}

export interface LogEntry {
  level: 'log' | 'info' | 'warn' | 'error' | 'debug';
  message: string;
  /** Milliseconds since the run started. */
  time: number;
}

export interface ExecutionError {
  name: string;
  message: string;
  code: ErrorCode;
  /** In the user's own source: line 1 is the first line the user wrote. */
  location?: { line: number; column: number };
  data?: Record<string, unknown>;
}

export interface ExecutionStats {
  /** Wall-clock milliseconds from `run()` to its result. */
  duration: number;
  toolCallCount: number;
  iterationCount: number;
}

export interface ExecutionResult<T = unknown> {
  success: boolean;
  value?: T;
  error?: ExecutionError;
  stats: ExecutionStats;
  logs?: LogEntry[];
  /** The scoring gate's verdict, on every run that reached the gate (it is off unless configured, or at STRICT). */
  scoring?: ScoringResult;
}

export type { Issue };
