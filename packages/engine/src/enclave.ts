import { EnclaveConfigError } from './errors.js';
import type { ErrorCode } from './errors.js';
import type { LevelConfig, RuntimeLimits, SecurityLevel } from './levels.js';
import type { CompiledScript } from './pipeline.js';
import { checkAgentScript } from './pipeline.js';
import { LEVEL_CONFIGS, RESERVED_PREFIX, SECURITY_LEVELS, ALWAYS_BLOCKED_IDENTIFIERS } from './levels.js';
import { hostCodec } from './sanitize/codec.js';
import { RealmPool } from './sandbox/realm.js';
import { WORKER_POOL_PRESETS, WorkerPool } from './sandbox/worker-pool.js';
import { availableParallelism } from 'node:os';
import { installRejectionGuard } from './sandbox/rejections.js';
import type { RunPlan } from './sandbox/runner.js';
import { RunController } from './sandbox/runner.js';
import { parseAgentScript } from './ast/parse.js';
import { ScoringGate, resolveScoringGate } from './score/index.js';
import type { RuleVerdict, ScoringResult } from './score/index.js';
import { LruCache, cacheKey, elapsedMs } from './source.js';
import type { ToolScope } from './tools/invoke.js';
import { invokeHostTool } from './tools/invoke.js';
import type { HostTool } from './tools/define.js';
import type { EnclaveDescription } from './tools/describe.js';
import { buildDescription } from './tools/describe.js';
import type { RateLimitStore } from './rate-limit.js';
import { MemoryRateLimitStore } from './rate-limit.js';
import type { ToolMap } from './tools/registry.js';
import { mergeTools, readToolSet } from './tools/registry.js';
import { Sidecar, readSidecarOptions } from './tools/sidecar.js';
import type { Issue } from './source.js';
import type {
  CreateEnclaveOptions,
  ExecutionResult,
  Limits,
  RunOptions,
  SidecarOptions,
  ToolCallHook,
  ToolFunction,
  ToolHandler,
  ToolSet,
  WorkerPoolConfig,
  WorkerPoolStats,
} from './types.js';

const LIMIT_KEYS = [
  'timeout',
  'maxIterations',
  'maxToolCalls',
  'maxCallDepth',
  'memoryLimit',
  'maxOutputBytes',
  'maxLogBytes',
  'maxLogEntries',
  'maxInputBytes',
  'maxToolArgsBytes',
  'maxToolResultBytes',
] as const satisfies readonly (keyof Limits & keyof RuntimeLimits)[];

const OPTION_KEYS = new Set<string>([
  ...LIMIT_KEYS,
  'securityLevel',
  'validate',
  'transform',
  'tools',
  'toolHandler',
  'globals',
  'allowFunctionsInGlobals',
  'adapter',
  'workerPoolConfig',
  'realmPool',
  'toolTimeout',
  'onToolCall',
  'rateLimitStore',
  'sidecar',
  'scoringGate',
]);
const RUN_OPTION_KEYS = new Set<string>([...LIMIT_KEYS, 'tools', 'toolHandler', 'globals', 'input', 'signal', 'context']);
const WRAPPER_NAMES = new Set(['callTool', 'console', 'input']);
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const RESERVED_WORDS = new Set(
  'break case catch class const continue debugger default delete do else enum export extends false finally for function if import in instanceof new null return super switch this throw true try typeof var void while with yield let static implements interface package private protected public await async arguments eval undefined NaN Infinity'.split(
    ' ',
  ),
);

const WORKER_POOL_KEYS = new Set(['minWorkers', 'maxWorkers', 'memoryLimitPerWorker', 'maxMessagesPerSecond', 'maxExecutionsPerWorker', 'maxQueueSize', 'idleTimeoutMs']);

/** The level's preset, then the CPU count for `maxWorkers`, then the caller's explicit fields. */
function workerPoolConfig(level: SecurityLevel, given: unknown): WorkerPoolConfig {
  if (given !== undefined && (given === null || typeof given !== 'object')) configError('workerPoolConfig must be an object.');
  const o = (given ?? {}) as Record<string, unknown>;
  checkKeys('options.workerPoolConfig', o, WORKER_POOL_KEYS);
  const preset = WORKER_POOL_PRESETS[level];
  const pick = (key: string, fallback: number) => checkLimit('workerPoolConfig', key, o[key]) ?? fallback;
  const minWorkers = o.minWorkers === 0 ? 0 : pick('minWorkers', preset.minWorkers);
  const maxWorkers = pick('maxWorkers', Math.min(preset.maxWorkers, Math.max(minWorkers, 1, availableParallelism())));
  if (minWorkers > maxWorkers) configError(`workerPoolConfig.minWorkers (${minWorkers}) is larger than maxWorkers (${maxWorkers}).`);
  const config: WorkerPoolConfig = {
    minWorkers,
    maxWorkers,
    memoryLimitPerWorker: pick('memoryLimitPerWorker', preset.memoryLimitPerWorker),
    maxMessagesPerSecond: pick('maxMessagesPerSecond', preset.maxMessagesPerSecond),
    maxExecutionsPerWorker: pick('maxExecutionsPerWorker', 1000),
    maxQueueSize: o.maxQueueSize === 0 ? 0 : pick('maxQueueSize', 1000),
    idleTimeoutMs: pick('idleTimeoutMs', 30_000),
  };
  if (config.memoryLimitPerWorker < 16 * 1024 * 1024) configError('workerPoolConfig.memoryLimitPerWorker is in bytes and must be at least 16 MiB.');
  return config;
}

/** The largest message either side of a worker accepts: every payload cap, with room for JSON escapes. */
function maxMessageBytes(limits: RuntimeLimits): number {
  const payload = limits.maxInputBytes + limits.maxToolResultBytes + limits.maxOutputBytes + limits.maxLogBytes + limits.maxToolArgsBytes + 1024 * 1024;
  return 6 * payload + 65_536;
}

/** A check's outcome; with the gate on, the rule verdict is cached with it, so a repeated script costs one lookup. */
type Checked = { ok: true; compiled: CompiledScript; scoring?: RuleVerdict } | { ok: false; result: ExecutionResult };

const own = (obj: object, name: string) => Object.prototype.hasOwnProperty.call(obj, name);

function rejected(issues: Issue[]): Checked {
  const first = issues[0] as Issue;
  const summary = issues
    .slice(0, 10)
    .map((i) => `line ${i.line}:${i.column} [${i.ruleId}] ${i.message}${i.hint ? ` Hint: ${i.hint}` : ''}`)
    .join('\n');
  return {
    ok: false,
    result: {
      success: false,
      error: {
        name: 'ValidationError',
        message: `AgentScript rejected (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${summary}`,
        code: 'VALIDATION_ERROR',
        location: { line: first.line, column: first.column },
        data: { issues },
      },
      stats: { duration: 0, toolCallCount: 0, iterationCount: 0 },
    },
  };
}

/** References to sidecar strings in the returned value become the strings, within `maxResolvedSize`. */
function resolveReferences(result: ExecutionResult, sidecar: Sidecar): ExecutionResult {
  if (!result.success || sidecar.size === 0) return result;
  const resolved = sidecar.resolveIn(result.value);
  if (resolved.ok) return { ...result, value: resolved.value };
  const { value: _dropped, ...rest } = result;
  return {
    ...rest,
    success: false,
    error: {
      name: 'OutputLimitError',
      message: `The result's references expand to more than ${sidecar.options.maxResolvedSize} characters.`,
      code: 'OUTPUT_LIMIT_EXCEEDED',
    },
  };
}

const MAX_LISTED_SIGNALS = 8;

function scoringBlocked(scoring: ScoringResult, threshold: number, duration: number): ExecutionResult {
  const lines = scoring.signals
    .slice(0, MAX_LISTED_SIGNALS)
    .map((s) => `- ${s.location ? `line ${s.location.line}:${s.location.column} ` : ''}+${s.weight} [${s.id}] ${s.message}`);
  const first = scoring.signals.find((s) => s.location !== undefined);
  return {
    success: false,
    error: {
      name: 'ScoringBlockedError',
      message: `The scoring gate refused this script (score ${scoring.score}/100, blocks at ${threshold}):\n${lines.join('\n')}`,
      code: 'SCORING_BLOCKED',
      ...(first?.location ? { location: { ...first.location } } : {}),
      data: { score: scoring.score, threshold, signals: scoring.signals },
    },
    stats: { duration, toolCallCount: 0, iterationCount: 0 },
    scoring,
  };
}

/** Settles with the promise's value, or with undefined as soon as the signal aborts. */
function unlessAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T | undefined> {
  if (!signal) return p;
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function configError(message: string): never {
  throw new EnclaveConfigError(message);
}

function checkLimit(where: string, key: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || !Number.isInteger(value)) {
    configError(`${where}.${key} must be a positive integer, got ${typeof value === 'number' ? value : typeof value}.`);
  }
  return value;
}

function checkKeys(where: string, obj: object, allowed: Set<string>): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.has(key)) configError(`${where}: unknown option "${key}". Known options: ${[...allowed].join(', ')}.`);
  }
}

/** The run's tool source: named tools or one handler, never both. */
function checkToolSource(where: string, options: { tools?: unknown; toolHandler?: unknown }): { tools?: ToolMap | undefined; handler?: ToolHandler } {
  if (options.tools !== undefined && options.toolHandler !== undefined) configError('Give either tools or toolHandler, not both.');
  if (options.toolHandler !== undefined && typeof options.toolHandler !== 'function') configError(`${where}.toolHandler must be a function.`);
  return { tools: readToolSet(where, options.tools, configError), handler: options.toolHandler as ToolHandler | undefined };
}

function checkGlobals(where: string, globals: unknown, allowFunctions: boolean): Record<string, unknown> | undefined {
  if (globals === undefined) return undefined;
  if (globals === null || typeof globals !== 'object' || Array.isArray(globals)) configError(`${where}.globals must be a plain object.`);
  for (const [name, value] of Object.entries(globals)) {
    if (!IDENTIFIER.test(name) || RESERVED_WORDS.has(name) || WRAPPER_NAMES.has(name) || name.startsWith(RESERVED_PREFIX) || ALWAYS_BLOCKED_IDENTIFIERS.includes(name)) {
      configError(`${where}.globals: "${name}" cannot be used as a global name.`);
    }
    if (typeof value === 'function' && !allowFunctions) {
      configError(`${where}.globals["${name}"] is a function; set allowFunctionsInGlobals: true to expose it (it becomes an async function, like a tool).`);
    }
  }
  return globals as Record<string, unknown>;
}

/**
 * Runs AgentScript, code written by LLM agents, safely inside a Node.js server.
 *
 * One instance serves many runs from many users; every run gets its own copies of input, globals and
 * tools, a deadline that covers code after every `await`, and budgets that end the run when spent.
 * `run()` never throws for anything the script or its input does.
 *
 * @example
 * ```ts
 * const enclave = new Enclave({ securityLevel: 'STANDARD' });
 * const result = await enclave.run(
 *   `const users = await callTool('users:list', { limit: 10 });
 *    return users.filter((u) => u.active).length;`,
 *   { tools: { 'users:list': async ({ limit }) => db.users.list(limit) } },
 * );
 * // result: { success: true, value: 7, stats: { duration, toolCallCount: 1, iterationCount } }
 * ```
 * Defaults come from `securityLevel` (default `'STANDARD'`: timeout 30 s, 1,000,000 iterations, 100 tool
 * calls, 64 MiB memory); see `LEVEL_CONFIGS`.
 */
export class Enclave {
  readonly securityLevel: SecurityLevel;
  readonly limits: Readonly<RuntimeLimits>;
  readonly #config: LevelConfig;
  readonly #validate: boolean;
  readonly #transform: boolean;
  readonly #tools: ToolMap | undefined;
  readonly #toolHandler: ToolHandler | undefined;
  readonly #toolTimeout: number | undefined;
  readonly #onToolCall: ToolCallHook | undefined;
  readonly #rateLimitStore: RateLimitStore;
  readonly #sidecar: SidecarOptions | undefined;
  readonly #globals: Record<string, unknown>;
  readonly #allowFunctionsInGlobals: boolean;
  readonly #pool: RealmPool;
  readonly #gate: ScoringGate | undefined;
  readonly #checks = new LruCache<string, Checked>(500);
  readonly #active = new Set<RunController>();
  readonly #workers: WorkerPool | undefined;
  #disposed = false;

  constructor(options: CreateEnclaveOptions = {}) {
    if (options === null || typeof options !== 'object') configError('new Enclave(options): options must be an object.');
    checkKeys('new Enclave(options)', options, OPTION_KEYS);
    const level = options.securityLevel ?? 'STANDARD';
    if (!SECURITY_LEVELS.includes(level)) configError(`securityLevel must be one of ${SECURITY_LEVELS.join(', ')}, got ${String(level)}.`);
    if (options.adapter !== undefined && options.adapter !== 'vm' && options.adapter !== 'worker_threads') {
      configError(`adapter must be "vm" (the default) or "worker_threads", got ${JSON.stringify(String(options.adapter))}.`);
    }
    if (options.workerPoolConfig !== undefined && options.adapter !== 'worker_threads') {
      configError('workerPoolConfig is only used with adapter: "worker_threads".');
    }
    for (const key of ['validate', 'transform', 'allowFunctionsInGlobals'] as const) {
      if (options[key] !== undefined && typeof options[key] !== 'boolean') configError(`${key} must be a boolean.`);
    }
    this.securityLevel = level;
    this.#config = LEVEL_CONFIGS[level];
    const limits: RuntimeLimits = { ...this.#config.limits };
    for (const key of LIMIT_KEYS) {
      const v = checkLimit('options', key, options[key]);
      if (v !== undefined) limits[key] = v;
    }
    this.limits = Object.freeze(limits);
    this.#validate = options.validate ?? true;
    this.#transform = options.transform ?? true;
    this.#allowFunctionsInGlobals = options.allowFunctionsInGlobals ?? false;
    const source = checkToolSource('options', options);
    this.#tools = source.tools;
    this.#toolHandler = source.handler;
    this.#toolTimeout = checkLimit('options', 'toolTimeout', options.toolTimeout);
    if (options.onToolCall !== undefined && typeof options.onToolCall !== 'function') configError('onToolCall must be a function (event) => void.');
    this.#onToolCall = options.onToolCall;
    const store = options.rateLimitStore;
    if (store !== undefined && (store === null || typeof store !== 'object' || typeof store.hit !== 'function')) configError('rateLimitStore must be an object with a hit(key, windowMs) method.');
    this.#rateLimitStore = store ?? new MemoryRateLimitStore();
    this.#sidecar = readSidecarOptions(options.sidecar, level, configError);
    this.#globals = { ...checkGlobals('options', options.globals, this.#allowFunctionsInGlobals) };
    const gate = resolveScoringGate(options.scoringGate, level);
    this.#gate = gate ? new ScoringGate(gate) : undefined;
    const pool = options.realmPool ?? {};
    if (pool === null || typeof pool !== 'object') configError('realmPool must be an object.');
    checkKeys('options.realmPool', pool, new Set(['maxIdle', 'prewarm', 'maxRunsPerRealm']));
    const maxIdle = pool.maxIdle === 0 ? 0 : (checkLimit('realmPool', 'maxIdle', pool.maxIdle) ?? 256);
    const prewarm = pool.prewarm === 0 ? 0 : (checkLimit('realmPool', 'prewarm', pool.prewarm) ?? 2);
    this.#pool = new RealmPool({
      maxIdle,
      prewarm: Math.min(prewarm, maxIdle),
      maxRunsPerRealm: checkLimit('realmPool', 'maxRunsPerRealm', pool.maxRunsPerRealm) ?? 1000,
      intl: this.#config.dialect.globals.includes('Intl'),
      proxy: this.#config.dialect.globals.includes('Proxy'),
    });
    installRejectionGuard();
    if (options.adapter === 'worker_threads') {
      this.#workers = new WorkerPool(workerPoolConfig(level, options.workerPoolConfig), {
        intl: this.#config.dialect.globals.includes('Intl'),
        proxy: this.#config.dialect.globals.includes('Proxy'),
        maxMessageBytes: maxMessageBytes(limits),
      });
    } else this.#pool.warm();
  }

  /**
   * Resolves when the instance can run without start-up delay: with `adapter: 'worker_threads'`, once
   * `minWorkers` workers are started and warm (await it before serving traffic); at once otherwise.
   */
  ready(): Promise<void> {
    return this.#workers ? this.#workers.ready() : Promise.resolve();
  }

  /** Operators' view of the realm pool and, with the worker_threads adapter, of the worker pool. */
  stats(): { idleRealms: number; realmsCreated: number; realmsRetired: number; activeRuns: number; workers?: WorkerPoolStats } {
    const base = { idleRealms: this.#pool.idle, realmsCreated: this.#pool.created, realmsRetired: this.#pool.retired, activeRuns: this.#active.size };
    return this.#workers ? { ...base, activeRuns: base.activeRuns + this.#activeWorkerRuns, workers: this.#workers.stats() } : base;
  }
  #activeWorkerRuns = 0;

  /**
   * Runs one script. Never throws for anything the script or its input does: every outcome is an
   * `ExecutionResult` with a code.
   */
  async run<T = unknown>(code: string, runOptions: RunOptions = {}): Promise<ExecutionResult<T>> {
    const startedAt = performance.now();
    const fail = (errCode: ErrorCode, name: string, message: string, extra: { location?: { line: number; column: number }; data?: Record<string, unknown> } = {}): ExecutionResult<T> => ({
      success: false,
      error: { name, message, code: errCode, ...extra },
      stats: { duration: elapsedMs(startedAt), toolCallCount: 0, iterationCount: 0 },
    });
    try {
      if (this.#disposed) return fail('ABORTED', 'AbortError', 'This Enclave has been disposed.');
      if (runOptions === null || typeof runOptions !== 'object') return fail('VALIDATION_ERROR', 'TypeError', 'run(code, options): options must be an object.');
      const badKey = Object.keys(runOptions).find((k) => !RUN_OPTION_KEYS.has(k));
      if (badKey !== undefined) return fail('VALIDATION_ERROR', 'TypeError', `run(): unknown option "${badKey}".`);
      if (runOptions.signal?.aborted) return fail('ABORTED', 'AbortError', 'The run was aborted before it started.');
      if (typeof code !== 'string') return fail('VALIDATION_ERROR', 'TypeError', `The code must be a string, got ${code === null ? 'null' : typeof code}.`);

      // Limits, tools and globals of this run; a malformed one is the caller's input, not a crash.
      let limits: RuntimeLimits;
      let tools: ToolMap | undefined;
      let handler: ToolHandler | undefined;
      try {
        limits = this.#runLimits(runOptions);
        ({ tools, handler } = checkToolSource('run options', runOptions));
        // The run's named tools are layered over the instance's; its handler replaces the instance's.
        tools = mergeTools(this.#tools, tools);
        handler ??= this.#toolHandler;
        checkGlobals('run options', runOptions.globals, this.#allowFunctionsInGlobals);
      } catch (e) {
        return fail('VALIDATION_ERROR', 'TypeError', (e as Error).message);
      }
      const globals: Record<string, unknown> = { ...this.#globals, ...runOptions.globals };
      const functionGlobals: Record<string, ToolFunction> = {};
      const dataGlobals: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(globals)) {
        if (typeof v === 'function') functionGlobals[k] = v as ToolFunction;
        else dataGlobals[k] = v;
      }
      const globalNames = Object.keys(globals).sort();

      const checked = this.#check(code, globalNames);
      if (!checked.ok) return { ...checked.result, stats: { ...checked.result.stats, duration: elapsedMs(startedAt) } } as ExecutionResult<T>;

      // Layer 3: the scoring gate, on the verdict cached with the check.
      let scoring: ScoringResult | undefined;
      if (this.#gate && checked.scoring) {
        const judged = this.#gate.judge(code, checked.scoring);
        scoring = judged instanceof Promise ? await unlessAborted(judged, runOptions.signal) : judged;
        if (scoring === undefined || runOptions.signal?.aborted) return fail('ABORTED', 'AbortError', 'The run was aborted while the script was being scored.');
        if (this.#disposed) return fail('ABORTED', 'AbortError', 'This Enclave has been disposed.');
        if (scoring.decision === 'block') return scoringBlocked(scoring, this.#gate.config.block, elapsedMs(startedAt)) as ExecutionResult<T>;
        if (scoring.decision === 'warn') this.#gate.warn({ scoring, code, context: runOptions.context });
      }

      // Input and globals are copied with a byte budget that stops the walk as soon as it is spent.
      let inputText: string | null = null;
      if (runOptions.input !== undefined) {
        const t = hostCodec.encode(runOptions.input, { maxBytes: limits.maxInputBytes, maxDepth: 128, getters: true, toJSON: true });
        if (typeof t !== 'string') return fail('VALIDATION_ERROR', 'RangeError', t === -1 ? `input is larger than ${limits.maxInputBytes} bytes.` : 'input is nested too deeply.');
        inputText = t;
      }
      let globalsText: string | null = null;
      const functionNames = Object.keys(functionGlobals);
      if (Object.keys(dataGlobals).length > 0 || functionNames.length > 0) {
        const budget = limits.maxInputBytes - (inputText?.length ?? 0);
        const t = hostCodec.encode(dataGlobals, { maxBytes: Math.max(0, budget), maxDepth: 128, getters: true, toJSON: true });
        if (typeof t !== 'string') return fail('VALIDATION_ERROR', 'RangeError', t === -1 ? `input and globals together are larger than ${limits.maxInputBytes} bytes.` : 'globals are nested too deeply.');
        globalsText = t;
      }

      const runId = `run_${startedAt.toString(36).replace('.', '')}_${Math.random().toString(36).slice(2, 10)}`;
      const sidecar = this.#sidecar === undefined ? undefined : new Sidecar(this.#sidecar);
      const scope: ToolScope = {
        runId,
        ...this.#toolLookup(tools, handler, functionGlobals),
        context: runOptions.context,
        maxToolResultBytes: limits.maxToolResultBytes,
        onToolCall: this.#onToolCall,
        rateLimitStore: this.#rateLimitStore,
        sidecar,
        toolTimeout: this.#toolTimeout,
      };
      const plan: RunPlan = {
        runId,
        script: checked.compiled.script,
        scriptKey: checked.compiled.key,
        mapPosition: checked.compiled.mapPosition,
        globalNames,
        functionNames,
        inputText,
        globalsText,
        limits,
        invokeTool: (call) => invokeHostTool(scope, call),
        signal: runOptions.signal,
        startedAt,
      };
      const result = this.#workers ? await this.#runInWorker(this.#workers, plan, checked.compiled) : await this.#runInRealm(plan);
      const final = sidecar !== undefined ? resolveReferences(result, sidecar) : result;
      if (scoring) final.scoring = scoring;
      return final as ExecutionResult<T>;
    } catch {
      return fail('INTERNAL_ERROR', 'InternalError', 'An internal error occurred.');
    }
  }

  async #runInRealm(plan: RunPlan): Promise<ExecutionResult> {
    const run = new RunController(plan, this.#pool.acquire(), this.#pool);
    this.#active.add(run);
    try {
      return await run.start();
    } finally {
      this.#active.delete(run);
    }
  }

  /** The same plan, run by the worker pool: the rewritten source and the plan's data cross as JSON. */
  async #runInWorker(workers: WorkerPool, plan: RunPlan, compiled: CompiledScript): Promise<ExecutionResult> {
    const { runId, globalNames, functionNames, inputText, globalsText, limits, startedAt } = plan;
    this.#activeWorkerRuns++;
    try {
      return await workers.run({
        key: compiled.key,
        source: compiled.source,
        wire: { runId, globalNames, functionNames, inputText, globalsText, limits, elapsed: 0 },
        startedAt,
        deadline: startedAt + limits.timeout,
        timeout: limits.timeout,
        invokeTool: plan.invokeTool,
        signal: plan.signal,
        mapPosition: compiled.mapPosition,
      });
    } finally {
      this.#activeWorkerRuns--;
    }
  }

  /** Stops every active run (they end as `ABORTED`) and releases the realms. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const run of this.#active) run.abort('The run was stopped because the Enclave was disposed.');
    this.#pool.dispose();
    this.#workers?.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  #runLimits(o: RunOptions): RuntimeLimits {
    const out = { ...this.limits };
    for (const key of LIMIT_KEYS) {
      const v = checkLimit('run options', key, o[key]);
      // Per-run limits can only lower the instance's.
      if (v !== undefined) out[key] = Math.min(out[key], v);
    }
    return out;
  }

  /**
   * The catalog a model needs to write a script for this Enclave: each tool's name, description and
   * JSON Schemas, `callTool` overloads in TypeScript, and the AgentScript dialect of the level with the
   * limits in force. `tools` (e.g. the current user's) are layered over the instance's, as in `run()`.
   * JSON-serializable: it is what an HTTP adapter serves on GET.
   *
   * @example
   * ```ts
   * const { prompt } = enclave.describe(toolsFor(user));
   * const system = `${prompt}\nAnswer the user's question with one script.`;
   * ```
   */
  describe(tools?: ToolSet): EnclaveDescription {
    const merged = mergeTools(this.#tools, readToolSet('describe(tools)', tools, configError));
    const names = Object.keys(this.#globals).sort();
    return buildDescription({
      level: this.securityLevel,
      limits: this.limits,
      tools: merged,
      hasHandler: this.#toolHandler !== undefined,
      dataGlobals: names.filter((n) => typeof this.#globals[n] !== 'function'),
      functionGlobals: names.filter((n) => typeof this.#globals[n] === 'function'),
      sidecarThreshold: this.#sidecar?.extractionThreshold,
    });
  }

  #toolLookup(tools: ToolMap | undefined, handler: ToolHandler | undefined, functionGlobals: Record<string, ToolFunction>) {
    const lookup = (name: string): ToolFunction | HostTool | undefined => {
      // A function global is called with the script's positional arguments.
      if (own(functionGlobals, name)) {
        const fn = functionGlobals[name] as (...a: unknown[]) => unknown;
        return (args) => fn(...(Array.isArray(args) ? args : [args]));
      }
      const tool = tools?.get(name);
      if (tool !== undefined) return tool;
      if (handler) return (args, ctx) => handler(name, args, ctx);
      return undefined;
    };
    const names = () => (tools ? [...tools.keys()] : []);
    return { lookup, names };
  }

  #check(code: string, globalNames: readonly string[]): Checked {
    const key = cacheKey(code, globalNames.join(','), String(this.#validate), String(this.#transform));
    const hit = this.#checks.get(key);
    if (hit) return hit;
    const result = this.#checkUncached(code, globalNames);
    this.#checks.set(key, result);
    return result;
  }

  #checkUncached(code: string, globalNames: readonly string[]): Checked {
    const r = checkAgentScript(code, { securityLevel: this.securityLevel, globals: globalNames, validate: this.#validate, transform: this.#transform });
    if (!r.ok) return rejected(r.issues);
    // The parse is cached: this is a lookup of the tree the check just validated.
    return this.#gate ? { ok: true, compiled: r.compiled, scoring: this.#gate.rules(parseAgentScript(code)) } : r;
  }
}

