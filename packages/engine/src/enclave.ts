import { EnclaveConfigError } from './errors.js';
import type { ErrorCode } from './errors.js';
import type { LevelConfig, RuntimeLimits, SecurityLevel } from './levels.js';
import type { CompiledScript } from './pipeline.js';
import { checkAgentScript } from './pipeline.js';
import { LEVEL_CONFIGS, RESERVED_PREFIX, SECURITY_LEVELS, ALWAYS_BLOCKED_IDENTIFIERS } from './levels.js';
import { hostCodec } from './sanitize/codec.js';
import { RealmPool } from './sandbox/realm.js';
import { installRejectionGuard } from './sandbox/rejections.js';
import type { RunPlan } from './sandbox/runner.js';
import { RunController } from './sandbox/runner.js';
import { parseAgentScript } from './parse.js';
import { ScoringGate, resolveScoringGate } from './score/index.js';
import type { RuleVerdict, ScoringResult } from './score/index.js';
import { LruCache, cacheKey } from './source.js';
import type { Issue } from './source.js';
import type { CreateEnclaveOptions, ExecutionResult, Limits, RunOptions, ToolFunction, ToolHandler, ToolSet } from './types.js';

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
  'realmPool',
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

function checkToolSet(where: string, tools: unknown): ToolSet | undefined {
  if (tools === undefined) return undefined;
  if (tools === null || typeof tools !== 'object') configError(`${where}.tools must be an object of named functions.`);
  for (const [name, fn] of Object.entries(tools)) {
    if (typeof fn !== 'function') configError(`${where}.tools["${name}"] must be a function, got ${typeof fn}.`);
  }
  return tools as ToolSet;
}

/** The run's tool source: a record of tools or one handler, never both. */
function checkToolSource(where: string, options: { tools?: unknown; toolHandler?: unknown }): { tools?: ToolSet; handler?: ToolHandler } {
  if (options.tools !== undefined && options.toolHandler !== undefined) configError('Give either tools or toolHandler, not both.');
  if (options.toolHandler !== undefined && typeof options.toolHandler !== 'function') configError(`${where}.toolHandler must be a function.`);
  return { tools: checkToolSet(where, options.tools), handler: options.toolHandler as ToolHandler | undefined };
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
  readonly #tools: ToolSet | undefined;
  readonly #toolHandler: ToolHandler | undefined;
  readonly #globals: Record<string, unknown>;
  readonly #allowFunctionsInGlobals: boolean;
  readonly #pool: RealmPool;
  readonly #gate: ScoringGate | undefined;
  readonly #checks = new LruCache<string, Checked>(500);
  readonly #active = new Set<RunController>();
  #disposed = false;

  constructor(options: CreateEnclaveOptions = {}) {
    if (options === null || typeof options !== 'object') configError('new Enclave(options): options must be an object.');
    checkKeys('new Enclave(options)', options, OPTION_KEYS);
    const level = options.securityLevel ?? 'STANDARD';
    if (!SECURITY_LEVELS.includes(level)) configError(`securityLevel must be one of ${SECURITY_LEVELS.join(', ')}, got ${String(level)}.`);
    if (options.adapter !== undefined && options.adapter !== 'vm') {
      configError(`adapter "${String(options.adapter)}" is not available in this version; use "vm" (the default).`);
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
    this.#pool.warm();
  }

  /** Operators' view of the realm pool. */
  stats(): { idleRealms: number; realmsCreated: number; realmsRetired: number; activeRuns: number } {
    return { idleRealms: this.#pool.idle, realmsCreated: this.#pool.created, realmsRetired: this.#pool.retired, activeRuns: this.#active.size };
  }

  /**
   * Runs one script. Never throws for anything the script or its input does: every outcome is an
   * `ExecutionResult` with a code.
   */
  async run<T = unknown>(code: string, runOptions: RunOptions = {}): Promise<ExecutionResult<T>> {
    const startedAt = performance.now();
    const fail = (errCode: ErrorCode, name: string, message: string, extra: { location?: { line: number; column: number }; data?: Record<string, unknown> } = {}): ExecutionResult<T> => ({
      success: false,
      error: { name, message, code: errCode, ...extra },
      stats: { duration: Math.round((performance.now() - startedAt) * 1000) / 1000, toolCallCount: 0, iterationCount: 0 },
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
      let tools: ToolSet | undefined;
      let handler: ToolHandler | undefined;
      try {
        limits = this.#runLimits(runOptions);
        ({ tools, handler } = checkToolSource('run options', runOptions));
        if (tools === undefined && handler === undefined) {
          tools = this.#tools;
          handler = this.#toolHandler;
        }
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
      if (!checked.ok) return { ...checked.result, stats: { ...checked.result.stats, duration: Math.round((performance.now() - startedAt) * 1000) / 1000 } } as ExecutionResult<T>;

      // Layer 3: the scoring gate, on the verdict cached with the check.
      let scoring: ScoringResult | undefined;
      if (this.#gate && checked.scoring) {
        const judged = this.#gate.judge(code, checked.scoring);
        scoring = judged instanceof Promise ? await unlessAborted(judged, runOptions.signal) : judged;
        if (scoring === undefined || runOptions.signal?.aborted) return fail('ABORTED', 'AbortError', 'The run was aborted while the script was being scored.');
        if (this.#disposed) return fail('ABORTED', 'AbortError', 'This Enclave has been disposed.');
        if (scoring.decision === 'block') return scoringBlocked(scoring, this.#gate.config.block, Math.round((performance.now() - startedAt) * 1000) / 1000) as ExecutionResult<T>;
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

      const lookup = this.#toolLookup(tools, handler, functionGlobals);
      const plan: RunPlan = {
        runId: `run_${startedAt.toString(36).replace('.', '')}_${Math.random().toString(36).slice(2, 10)}`,
        script: checked.compiled.script,
        scriptKey: checked.compiled.key,
        mapPosition: checked.compiled.mapPosition,
        globalNames,
        functionNames,
        inputText,
        globalsText,
        limits,
        tools: lookup.get,
        toolNames: lookup.names,
        signal: runOptions.signal,
        context: runOptions.context,
        startedAt,
      };
      const run = new RunController(plan, this.#pool.acquire(), this.#pool);
      this.#active.add(run);
      try {
        const result = (await run.start()) as ExecutionResult<T>;
        if (scoring) result.scoring = scoring;
        return result;
      } finally {
        this.#active.delete(run);
      }
    } catch {
      return fail('INTERNAL_ERROR', 'InternalError', 'An internal error occurred.');
    }
  }

  /** Stops every active run (they end as `ABORTED`) and releases the realms. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const run of this.#active) run.abort('The run was stopped because the Enclave was disposed.');
    this.#pool.dispose();
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

  #toolLookup(tools: ToolSet | undefined, handler: ToolHandler | undefined, functionGlobals: Record<string, ToolFunction>) {
    const get = (name: string): ToolFunction | undefined => {
      // A function global is called with the script's positional arguments.
      if (own(functionGlobals, name)) {
        const fn = functionGlobals[name] as (...a: unknown[]) => unknown;
        return (args) => fn(...(Array.isArray(args) ? args : [args]));
      }
      if (tools && own(tools, name)) return tools[name];
      if (handler) return (args, ctx) => handler(name, args, ctx);
      return undefined;
    };
    const names = () => (tools ? Object.keys(tools) : []);
    return { get, names };
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

