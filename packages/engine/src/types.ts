import type { ErrorCode } from './errors.js';
import type { RuntimeLimits, SecurityLevel } from './levels.js';
import type { ScoringGateOptions, ScoringResult } from './score/types.js';
import type { Issue } from './source.js';
import type { RateLimitStore } from './rate-limit.js';
import type { InferInput, InferOutput, StandardSchemaV1 } from './standard-schema.js';

/** Where a run executes: see `CreateEnclaveOptions.adapter`. */
export type IsolationKind = 'vm' | 'worker_threads' | 'remote';

/** What an Enclave tells a remote adapter when it creates its isolation. */
export interface RemoteAdapterContext {
  securityLevel: SecurityLevel;
  /** The instance's limits (a run's own can only be lower). */
  limits: Readonly<RuntimeLimits>;
  /** The largest message a run of these limits can need, with room for JSON escapes. */
  maxMessageBytes: number;
  /** Realm options of the level's dialect: every runtime node builds its realms with these. */
  realm: { intl: boolean; proxy: boolean };
}

/**
 * An isolation outside this process, for `adapter`. Implemented by `redisRuntime()` of
 * `@enclave-kit/redis`; the contract of what `createIsolation` returns is `Isolation` of
 * `@enclave-kit/engine/isolation`.
 */
export interface RemoteAdapter {
  readonly kind: 'remote';
  /** Called once by each Enclave that uses the adapter. */
  createIsolation(context: RemoteAdapterContext): object;
}

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

/**
 * How often one tool may be called: at most `limit` calls per `windowMs` for each key. Counted across
 * runs (it protects what is behind the tool), in the Enclave's `rateLimitStore`.
 */
export interface ToolRateLimit {
  limit: number;
  windowMs: number;
  /**
   * Who is limited: a key derived from the call's context, e.g. `(ctx) => ctx.context.userId`. Default:
   * one shared budget for every caller of the tool. Never derive it from the arguments, which the
   * script controls.
   */
  key?: (ctx: ToolContext) => string | number | undefined;
}

export interface ToolConfig<I extends StandardSchemaV1 | undefined = undefined, O extends StandardSchemaV1 | undefined = undefined> {
  /** The name scripts call: `callTool(name, args)`. */
  name: string;
  /** What the tool does, for the model that writes the script (shown by `describe()`). */
  description?: string;
  /** Validates (and may transform) the script's arguments before the handler sees them. */
  input?: I;
  /** Validates (and may strip or transform) the handler's result before it is copied to the script. */
  output?: O;
  handler: (args: I extends StandardSchemaV1 ? InferOutput<I> : any, ctx: ToolContext) => (O extends StandardSchemaV1 ? InferInput<O> : unknown) | Promise<O extends StandardSchemaV1 ? InferInput<O> : unknown>;
  /** Milliseconds one call may take; `ctx.signal` aborts then and the call fails with `TOOL_TIMEOUT`. Always bounded by the run's deadline. */
  timeout?: number;
  rateLimit?: ToolRateLimit;
  /** The tool changes something outside the run (writes, sends, pays): shown by `describe()` and in audit events. */
  sideEffect?: boolean;
  /**
   * A person must approve each call before it runs: `true`, or a predicate of the arguments (as the
   * handler would receive them, after `input`) and the call's context, e.g. `({ amount }) => amount > 100`.
   * In a durable run (an HTTP session) the run pauses, holding no realm or worker, until the call is
   * approved or denied (`POST {path}/sessions/{id}/approvals/{callId}`); elsewhere the call fails with
   * `APPROVAL_REQUIRED`. A predicate that throws counts as `true`. Shown by `describe()`.
   */
  needsApproval?: boolean | ((args: I extends StandardSchemaV1 ? InferOutput<I> : any, ctx: ToolContext) => boolean | Promise<boolean>);
}

/** The key `defineTool` marks its tools with; registered, so two copies of the engine still agree. */
export const TOOL_MARK: unique symbol = Symbol.for('enclave-kit.tool');

/** A tool made by `defineTool`. */
export interface ToolDefinition<I extends StandardSchemaV1 | undefined = any, O extends StandardSchemaV1 | undefined = any> extends Readonly<ToolConfig<I, O>> {
  readonly [TOOL_MARK]: true;
}

/** One tool call, as the audit hook receives it when the call has ended. */
export interface ToolCallEvent {
  type: 'tool_call';
  runId: string;
  tool: string;
  /** 1-based index of the call within its run. */
  callIndex: number;
  /** Wall-clock time the call reached the host (ms since the epoch). */
  startedAt: number;
  /** Milliseconds from reaching the host to the reply. */
  durationMs: number;
  /** Size of the script's arguments as copied out of the realm (codec text, UTF-16 units). */
  argsBytes: number;
  /** Size of the result copied into the realm; absent when the call failed. */
  resultBytes?: number;
  outcome: 'ok' | 'error';
  /** The code the script saw on `err.code` (`INVALID_ARGUMENTS`, `RATE_LIMITED`, `TOOL_TIMEOUT`, `ABORTED`, a tool's own code, ...). */
  errorCode?: string;
  /** Declared with `defineTool({ sideEffect: true })`. */
  sideEffect?: boolean;
  /** The call ran after a person approved it (`needsApproval`). */
  approved?: boolean;
  /** The run's `context` (for example the user): a reference, for the hook to pick fields from. */
  context: unknown;
}

/** Receives every tool call of every run. Errors it throws or rejects with are swallowed: a hook never breaks a run. */
export type ToolCallHook = (event: ToolCallEvent) => void | Promise<void>;

/**
 * Huge tool data without a huge realm. With the sidecar on, every string of at least
 * `extractionThreshold` characters in a tool result stays on the host, in the run's sidecar; the script
 * gets a small reference object in its place:
 *
 *   { $ref: 'ref_1_x7k2', length: 5242880, preview: 'first 200 characters...' }
 *
 * The script can look at `length` and `preview`, put the reference anywhere in the arguments of another
 * tool call (the tool receives the full string in its place) or in its return value (the caller gets
 * the full string). Reading it in the script means asking a tool for the part it needs. References are
 * whole values: `ref + 'x'` is just the text "[object Object]x", never the data. A run can only resolve
 * its own references, and they are dropped when the run ends.
 *
 * Only copies cross (invariant 1): the reference is an ordinary value the realm's codec builds; the
 * string never enters the realm.
 */
export interface SidecarOptions {
  /** Strings in tool results at least this long (UTF-16 code units) stay on the host. */
  extractionThreshold: number;
  /** The longest string one reference may hold; a longer one fails the call with `RESULT_TOO_LARGE`. */
  maxReferenceSize: number;
  /** All strings one run may keep in its sidecar together; beyond it calls fail with `RESULT_TOO_LARGE`. */
  maxTotalSize: number;
  /**
   * How much text references may expand to in one tool call's arguments (beyond: `INVALID_ARGUMENTS`),
   * and in the run's returned value (beyond: `OUTPUT_LIMIT_EXCEEDED`).
   */
  maxResolvedSize: number;
}

/** The reference object the script holds in place of a kept string. */
export interface SidecarReference {
  $ref: string;
  length: number;
  preview: string;
}

export interface WorkerPoolConfig {
  /** Workers kept started and warm, even when idle. */
  minWorkers: number;
  /** Workers at most; runs beyond them wait in the queue. */
  maxWorkers: number;
  /** Bytes of V8 heap per worker (`resourceLimits`); a run that needs more ends as MEMORY_LIMIT_EXCEEDED. */
  memoryLimitPerWorker: number;
  /**
   * Messages a worker may send per second beyond its answers to the host (one per run, tool reply or
   * cancel it was sent); a worker far beyond it is stopped.
   */
  maxMessagesPerSecond: number;
  /**
   * A worker is replaced after at most this many runs: up to a tenth fewer, at random, so that workers
   * started together are not replaced together. Its successor starts during its last runs (at most 64)
   * and takes its place once ready, so runs do not wait for a cold worker; while a successor starts, the
   * pool may hold one worker over `maxWorkers`.
   */
  maxExecutionsPerWorker: number;
  /** Runs waiting for a worker at most; one more is answered QUEUE_FULL at once. */
  maxQueueSize: number;
  /** Workers above `minWorkers` idle this long are stopped. */
  idleTimeoutMs: number;
}

export interface WorkerPoolStats {
  workers: number;
  busyWorkers: number;
  idleWorkers: number;
  startingWorkers: number;
  queued: number;
  workersStarted: number;
  /** Replaced after `maxExecutionsPerWorker` runs, or stopped after `idleTimeoutMs`. */
  recycled: number;
  /** Stopped because a run went past its deadline or abort while running script code. */
  terminated: number;
  /** Died on their own: heap cap, crash. */
  crashed: number;
  /** Retired because a run changed the worker's own globals (this should never happen). */
  tampered: number;
}

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
  /**
   * Retire a realm after this many runs (default 10,000). A realm's replacement starts cold: V8 optimizes
   * the runtime's functions again for it, so the runs after a retirement are slower for a while.
   */
  maxRunsPerRealm?: number;
  /**
   * Realms that may exist at once, idle or running (default 1024): each run in flight holds one, so this
   * bounds the heap a burst of runs can take. Past it, a run waits for a realm another run gives back, and
   * its deadline counts meanwhile. `maxIdle` is at most this.
   */
  maxRealms?: number;
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
   * A `RemoteAdapter` (`redisRuntime({ redis })` of `@enclave-kit/redis`): runtime nodes in other
   * processes or machines execute the runs; checking, scoring, tools and the deadline stay here.
   */
  adapter?: 'vm' | 'worker_threads' | RemoteAdapter;
  /** Pool options for `adapter: 'worker_threads'`; defaults come from the security level's preset. */
  workerPoolConfig?: Partial<WorkerPoolConfig>;
  realmPool?: RealmPoolConfig;
  /**
   * OpenTelemetry traces (with `@opentelemetry/api` installed and a tracer provider registered): each run
   * is a span, each tool call a child `execute_tool` span. `toolPayloads: true` puts tool arguments and
   * results on the spans. Default on (without a provider it costs one check per run); `false` turns it off.
   */
  tracing?: boolean | { toolPayloads?: boolean };
  /**
   * Layer 3, the scoring gate: refuses scripts shaped like exfiltration or abuse before they run, and
   * explains every verdict in `result.scoring`. `true` uses the level's thresholds, an object tunes it.
   * Default: on at STRICT only (`SCORING_DEFAULTS`).
   */
  scoringGate?: boolean | ScoringGateOptions;
}

// ---- events: what a run reports as it happens (see events.ts) ----------------------------------

export interface SessionInitPayload {
  level: SecurityLevel;
  isolation: IsolationKind;
  /** The limits in force for this run (the instance's, lowered by the run's own). */
  limits: RuntimeLimits;
  /** When the run's deadline passes, in milliseconds since the epoch. */
  expiresAt: number;
}

export interface ToolCallPayload {
  /** 1-based index of the call within the run; its `tool_result` carries the same id. */
  callId: number;
  tool: string;
  /** The arguments as the tool receives them, only when the host opts in (`includeToolArgs`). */
  args?: unknown;
}

export interface ToolResultPayload {
  callId: number;
  tool: string;
  ok: boolean;
  /** What the script saw when the call failed: the error's code and (public) message. */
  error?: { code: string; message: string };
  durationMs: number;
}

/**
 * A durable run stopped to wait for a person's approval of one call (instead of `final`): the session is
 * `waiting_for_approval` until `POST {path}/sessions/{id}/approvals/{callId}` decides it.
 */
export interface ApprovalRequiredPayload {
  /** The call's 1-based index in the run, as in its `tool_call` event: the approvals route's `{callId}`. */
  callId: number;
  tool: string;
  /** The arguments as the tool would receive them (after its `input` schema), as JSON. */
  args?: unknown;
  /** When the wait ends as `APPROVAL_EXPIRED` (ms since the epoch), where the host sets a `maxPauseDuration`. */
  expiresAt?: number;
  /**
   * SHA-256 (base64url) of the call as shown: `callId`, `tool` and `args`. Send it back with the
   * decision (`{ approved, digest }`) and the decision is taken only if the session still waits on that
   * very call (409 `CONFLICT` otherwise, nothing runs).
   */
  digest?: string;
}

export interface HeartbeatPayload {
  /** Milliseconds since the run started. */
  elapsedMs: number;
}

/** Older events a store dropped to stay within its byte budget (`log` events only; `final` is always kept). */
export interface EventsDroppedPayload {
  fromSeq: number;
  toSeq: number;
  count: number;
}

export interface EnclaveEventPayloads {
  session_init: SessionInitPayload;
  log: LogEntry;
  tool_call: ToolCallPayload;
  tool_result: ToolResultPayload;
  heartbeat: HeartbeatPayload;
  final: ExecutionResult;
  approval_required: ApprovalRequiredPayload;
  events_dropped: EventsDroppedPayload;
}

export type EnclaveEventType = keyof EnclaveEventPayloads;

/** One event of a run. `time` is milliseconds since the epoch. */
export type EnclaveEvent<K extends EnclaveEventType = EnclaveEventType> = {
  [T in K]: { sessionId: string; seq: number; type: T; time: number; payload: EnclaveEventPayloads[T] };
}[K];

export type EnclaveEventListener = (event: EnclaveEvent) => unknown;

/** What `enclave.stream()` returns: the run's events as an async iterable, and its result. */
export interface EnclaveRunStream<T = unknown> extends AsyncIterable<EnclaveEvent> {
  readonly sessionId: string;
  readonly result: Promise<ExecutionResult<T>>;
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
  /**
   * Called with each event of the run as it happens (see `EnclaveEvent`); a listener that throws or is
   * slow cannot break or stall the run. `enclave.stream()` is the same as an async iterable.
   */
  onEvent?: EnclaveEventListener;
  /** The `sessionId` of the run's events (default: a new random id). */
  sessionId?: string;
  /** With `onEvent`: a `heartbeat` event every this many ms while the run lasts (default: none). */
  heartbeatMs?: number;
  /** With `onEvent`: `tool_call` events carry the arguments as the tool receives them (default false). */
  includeToolArgs?: boolean;
  /**
   * The OpenTelemetry `Context` the run's span is a child of (e.g. the incoming request's, from
   * `propagation.extract`); default the active context. The HTTP core passes the request's.
   */
  traceContext?: unknown;
  /**
   * Let the run pause for approvals: a call of a tool with `needsApproval` stops it (result code
   * `APPROVAL_REQUIRED`, `result.paused`, and an `approval_required` event instead of `final`), holding no
   * realm or worker; `{ resume: { journal, decision } }` runs it again from the start against its
   * journal. Without it such a call fails with `APPROVAL_REQUIRED` in the script. The HTTP sessions use it.
   */
  durable?: boolean | DurableRunOptions;
  /**
   * The same limits as an object, the shape of the HTTP body's `limits`: `{ limits: { timeout: 1_000 } }`
   * is `{ timeout: 1_000 }`. Like the flat ones, they can only lower the instance's; given both ways,
   * the lower one holds.
   */
  limits?: Limits;
}

// ---- durable runs: pauses for approvals (see durable.ts) ---------------------------------------

/** One completed tool call: its position in the run, what the script asked, and what it got back. */
export type JournalCall = [callIndex: number, name: string, argsText: string, ok: 0 | 1, payload: string];

/**
 * The journal of a paused run, as `result.paused.journal` gives it: plain JSON, to keep as it is and
 * pass back in `durable.resume`. Its fields are not an API; only `readJournal` reads them.
 */
export interface RunJournal {
  v: 1;
  /** Hash of the rewritten script, its input and globals: a resume with anything else is refused. */
  key: string;
  /** Completed calls, in the order their replies reached the script (or were held back by the pause). */
  calls: JournalCall[];
  /** Values of non-deterministic sources: `['r', Math.random()]`, `['t', Date.now()]`. */
  nd: [kind: 'r' | 't', value: number][];
  /** Console lines the run reported before it paused: a replay reports them no second time. */
  logs: number;
  /** Pauses so far, this one included. */
  pauses: number;
  /**
   * The call waiting for a decision: as the script made it, and `shown`, the arguments a person is shown
   * (as JSON, after the tool's schema), which are the only ones the approved call runs with.
   */
  pending: [callIndex: number, name: string, argsText: string, shown?: string];
  /**
   * The OpenTelemetry span of the run that paused (its trace id and span id, lowercase hex), when a
   * tracer recorded it: the resumed run's `enclave.run` span links to it.
   */
  trace?: [traceId: string, spanId: string];
}

/** The call a paused run waits on, as a person should see it. */
export interface PendingApproval {
  /** The call's 1-based index in the run: the `{callId}` of the approvals route. */
  callId: number;
  tool: string;
  /** The arguments as the tool would receive them (after its `input` schema), as JSON. */
  args: unknown;
}

/** What `result.paused` holds when a durable run stops for an approval. */
export interface PausedRun {
  approval: PendingApproval;
  journal: RunJournal;
}

/** A person's decision on a pending call. A denial's `reason` is the message the script's `catch` sees. */
export type ApprovalDecision = { approved: true } | { approved: false; reason?: string };

/** `run(code, { durable })`: the run may pause for approvals. */
export interface DurableRunOptions {
  /** Pauses one run may make; the next call that needs approval ends it as `MAX_PAUSES`. Default 10. */
  maxPauses?: number;
  /** Bytes of journal one run may keep (tool results count whole); beyond, it ends as `JOURNAL_LIMIT_EXCEEDED`. Default 4 MiB. */
  maxJournalBytes?: number;
  /** Continue a paused run: the journal from `result.paused.journal`, and the decision on its pending call. */
  resume?: { journal: unknown; decision: ApprovalDecision };
  /**
   * Asked before the run pauses for a call: resolve `undefined` to pause, or a message to refuse, and
   * the call fails in the script with `APPROVAL_REQUIRED` and that message (catchable, as in a run
   * without `durable`; a rejection refuses too). The HTTP sessions use it for `maxWaitingPerUser`.
   * Default: every pause is allowed.
   *
   * @example
   * ```ts
   * durable: { mayPause: async ({ tool }) => (await waitingOf(user)) < 20 ? undefined : `Too many calls wait for approval; "${tool}" cannot.` }
   * ```
   */
  mayPause?: (call: { callId: number; tool: string }) => Promise<string | undefined>;
}

export interface LogEntry {
  level: 'log' | 'info' | 'warn' | 'error' | 'debug';
  message: string;
  /** Milliseconds since the run started. */
  time: number;
}

/**
 * Why a run failed. `C` is the code's type: a run's `ErrorCode`, or for the HTTP core's refusals of a
 * request (`BAD_REQUEST`, `UNAUTHORIZED`, ...) its request codes, in the same shape.
 */
export interface ExecutionError<C extends string = ErrorCode> {
  name: string;
  message: string;
  code: C;
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

/** A run that returned: `value` is a copy of what the script returned. */
export interface ExecutionSuccess<T = unknown> {
  success: true;
  value: T;
  error?: never;
  stats: ExecutionStats;
  logs?: LogEntry[];
  /** The scoring gate's verdict, on every run that reached the gate (it is off unless configured, or at STRICT). */
  scoring?: ScoringResult;
}

/** A run that failed, or never ran: `error.code` says why. */
export interface ExecutionFailure<C extends string = ErrorCode> {
  success: false;
  value?: never;
  error: ExecutionError<C>;
  stats: ExecutionStats;
  logs?: LogEntry[];
  /** The scoring gate's verdict, on every run that reached the gate (it is off unless configured, or at STRICT). */
  scoring?: ScoringResult;
  /** With code `APPROVAL_REQUIRED`: the call waiting and the journal to keep for `durable.resume`. */
  paused?: PausedRun;
}

/**
 * What `run()` returns, for every outcome. A union on `success`, so checking it narrows the rest.
 *
 * @example
 * ```ts
 * const r = await enclave.run(code);
 * if (r.success) use(r.value);
 * else if (r.error.code === 'TIMEOUT') retry();
 * ```
 */
export type ExecutionResult<T = unknown> = ExecutionSuccess<T> | ExecutionFailure;

export type { Issue };
